"""A long conversation draws its last messages, with "Show earlier" above them (issue 19, point 3):
what a turn's run costs stays the same however long the conversation grows."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from chat.ui.conversation import SHOWN
from tests.apptest_helpers import chat_texts, new_app, send, sign_in
from tests.conftest import ROOT, AppEnv, logged_messages
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.seeding import lengthened

TURNS = 30


def long_conversation(app_env: AppEnv, fake_openai: FakeOpenAI) -> str:
    """A conversation of `TURNS` turns in alice's log (one turn sent, the rest written beside it)."""
    fake_openai.enqueue(FakeReply(text="Answer 1."))
    send(sign_in(new_app()), "Question 1")
    return lengthened(app_env.database_url, "alice", TURNS)


def opened(conversation: str, message: int | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / "router.py"), default_timeout=20)
    app.query_params["c"] = conversation
    if message is not None:
        app.query_params["m"] = str(message)
    return sign_in(app.run())


def earlier_button(app: AppTest) -> str | None:
    buttons = [b.label for b in app.button if b.key == "parley_show_earlier"]
    return buttons[0] if buttons else None


def test_a_long_conversation_opens_at_its_last_messages_and_shows_earlier_ones_on_request(
    app_env: AppEnv, fake_openai: FakeOpenAI
) -> None:
    app = opened(long_conversation(app_env, fake_openai))
    texts = chat_texts(app)
    assert len(texts) == SHOWN and texts[0] == ("user", f"Question {TURNS - SHOWN // 2 + 1}")
    assert texts[-1] == ("assistant", f"Answer {TURNS}")
    assert earlier_button(app) == f"Show earlier messages ({2 * TURNS - SHOWN})"
    app.button(key="parley_show_earlier").click().run()
    assert (
        len(chat_texts(app)) == 2 * SHOWN and earlier_button(app) == f"Show earlier messages ({2 * TURNS - 2 * SHOWN})"
    )
    shown = 2 * SHOWN
    while shown < 2 * TURNS:  # `SHOWN` more a click, down to the first
        app.button(key="parley_show_earlier").click().run()
        shown = min(shown + SHOWN, 2 * TURNS)
        assert len(chat_texts(app)) == shown
    assert chat_texts(app)[0] == ("user", "Question 1") and earlier_button(app) is None
    # Shown once, the earlier messages stay while the conversation goes on.
    fake_openai.enqueue(FakeReply(text="Answer 31."))
    app = send(app, "Question 31")
    assert len(chat_texts(app)) == 2 * TURNS + 2 and chat_texts(app)[-1] == ("assistant", "Answer 31.")


def test_new_turns_keep_the_drawn_part_the_same_size(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    app = opened(long_conversation(app_env, fake_openai))
    fake_openai.enqueue(FakeReply(text="Answer 31."), FakeReply(text="Answer 32."))
    app = send(send(app, "Question 31"), "Question 32").run()  # the last reply joins the history
    texts = chat_texts(app)
    assert len(texts) == SHOWN and texts[-2:] == [("user", "Question 32"), ("assistant", "Answer 32.")]
    assert earlier_button(app) == f"Show earlier messages ({2 * (TURNS + 2) - SHOWN})"
    # The model still gets the conversation within its budget, not only what is drawn.
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert {"role": "user", "content": "Question 1"} in sent


def test_a_search_hit_far_back_opens_the_conversation_at_that_message(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    conversation = long_conversation(app_env, fake_openai)
    answer_3 = next(m.id for m in logged_messages(app_env.database_url) if m.content == "Answer 3")
    app = opened(conversation, answer_3)
    texts = chat_texts(app)
    # From the found reply's prompt to the end, the found one marked; two messages before it.
    assert texts[:2] == [("user", "Question 3"), ("assistant", "Answer 3")] and len(texts) == 2 * TURNS - 4
    assert "The message you found" in app.chat_message[1].caption[0].value
    assert earlier_button(app) == "Show earlier messages (4)"


def test_a_hit_for_another_message_of_the_open_conversation_moves_to_it(
    app_env: AppEnv, fake_openai: FakeOpenAI
) -> None:
    conversation = long_conversation(app_env, fake_openai)
    ids = {m.content: m.id for m in logged_messages(app_env.database_url)}
    app = opened(conversation, ids["Answer 3"])
    app.query_params["m"] = str(ids["Answer 28"])  # the History page's link to another of its messages
    app.run()
    marked = [i for i, message in enumerate(app.chat_message) if any("found" in c.value for c in message.caption)]
    assert len(marked) == 1 and chat_texts(app)[marked[0]] == ("assistant", "Answer 28")
    assert chat_texts(app)[0] == ("user", f"Question {TURNS - SHOWN // 2 + 1}")  # the last messages again
