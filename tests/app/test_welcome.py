"""A new chat's first screen under AppTest (chat/ui/welcome.py): the greeting and the suggested
prompts, one of which sends on a click, and none of it once the conversation has started."""

from __future__ import annotations

from chat.ui.welcome import SUGGESTIONS
from tests.apptest_helpers import chat_texts, new_app, sign_in
from tests.conftest import AppEnv
from tests.fake_openai import FakeOpenAI, FakeReply


def suggestion_keys(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [b.key for b in app.button if b.key and b.key.startswith("parley_suggest_")]


def test_a_suggested_prompt_is_sent_on_a_click(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    app = sign_in(new_app())
    assert "What can I help with?" in app.subheader[0].value and "Alice" in app.subheader[0].value
    assert len(suggestion_keys(app)) == len(SUGGESTIONS)
    fake_openai.enqueue(FakeReply(text="Here is how it works."))
    app.button(key="parley_suggest_0").click().run()
    prompt = SUGGESTIONS[0][1]
    assert chat_texts(app)[0] == ("user", prompt)
    assert fake_openai.chat_requests[-1].body["messages"][-1]["content"] == prompt
    assert suggestion_keys(app) == [] and not app.subheader  # gone once the conversation exists
    app.button(key="parley_new_chat").click().run()
    assert len(suggestion_keys(app)) == len(SUGGESTIONS)  # back on a new chat
