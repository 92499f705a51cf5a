"""The settings of the open conversation (or of the next new one): model, system prompt, temperature."""

from __future__ import annotations

import streamlit as st

from chat.accounts.auth import SignedIn
from chat.errors import ChatError
from chat.turns.service import ChatService, ConversationOptions
from chat.ui.markdown import neutralise_images, plain
from chat.ui.state import ChatState


def options_panel(chat: ChatState, user: SignedIn, service: ChatService) -> None:
    """Model, system prompt and temperature of the open conversation (or of the next new one)."""
    current = chat.options or service.default_options()
    key = chat.conversation_id or "new"
    with st.expander(f"{plain(current.model)} · settings", icon=":material/tune:"):
        models = service.available_models()
        if current.model not in models:
            models = [current.model, *models]
        model = st.selectbox("Model", models, index=models.index(current.model), key=f"parley_model_{key}")
        system_prompt = st.text_area(
            "System prompt", value=current.system_prompt, max_chars=8000, key=f"parley_system_{key}"
        )
        server_default = st.checkbox(
            "Use the server's default temperature", value=current.temperature is None, key=f"parley_tdefault_{key}"
        )
        temperature = None
        if not server_default:
            start = 1.0 if current.temperature is None else current.temperature
            temperature = st.slider("Temperature", 0.0, 2.0, value=start, step=0.1, key=f"parley_temp_{key}")
        chosen = ConversationOptions(model=str(model), system_prompt=system_prompt, temperature=temperature)
        if chosen == current:
            return
        try:
            if chat.conversation_id is not None:
                service.set_conversation_options(user.username, chat.conversation_id, chosen)
            chat.options = chosen.checked()
        except ChatError as error:
            st.error(neutralise_images(error.message))
