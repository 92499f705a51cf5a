"""Streamlit's own chat example (docs: "Build a basic LLM chat app"), as the floor.

`benchmarks/load.py` times it in the same browser against the same fake server, so
the figures split what any Streamlit chat app costs (a rerun per prompt, the page's
drawing) from what Parley adds: no sign-in, no log, no history beyond the session.

One addition for the reopen workload: opened as `/?c=...` with `EXAMPLE_HISTORY`
naming a JSON file of messages, a new session starts with that conversation (as
Parley opens one from its database), so both draw the same long conversation.
"""

import json
import os
from pathlib import Path

import openai
import streamlit as st

client = openai.OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="benchmark", max_retries=0)
if "messages" not in st.session_state:
    history = os.environ.get("EXAMPLE_HISTORY")
    opened = history and st.query_params.get("c")
    st.session_state.messages = json.loads(Path(history).read_text()) if opened else []
for message in st.session_state.messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])
if prompt := st.chat_input("Message"):
    st.session_state.messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        stream = client.chat.completions.create(model="benchmark", messages=st.session_state.messages, stream=True)
        reply = st.write_stream(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    st.session_state.messages.append({"role": "assistant", "content": reply})
