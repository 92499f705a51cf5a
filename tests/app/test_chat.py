"""The whole app under Streamlit's AppTest: the session check of every run, chat turns, failures, demo mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, update

from chat.accounts import authfile
from chat.db.tables import Conversation, Message, utcnow
from chat.llm.client import demo_reply
from chat.settings import Settings
from chat.turns import wiring
from chat.ui.identity import TEST_SESSION
from tests.apptest_helpers import chat_texts, new_app, send, sign_in
from tests.conftest import AppEnv, logged_messages, parley
from tests.fake_openai import DEFAULT_TEXT, FakeOpenAI, FakeReply
from tests.waiting import wait_until


def logged(env: AppEnv) -> list[Message]:
    return logged_messages(env.database_url)


def prompt_box(app) -> str | None:
    """Text the page put back into the chat input."""
    proto = app.chat_input[0].proto
    return proto.value if proto.set_value else None


def errors(app) -> list[str]:
    return [e.value for e in app.error]


def signed_out(app) -> bool:
    """What a run without a live session draws: a sentence and the way to `/signin`, nothing more."""
    links = [button.proto.url for button in app.get("link_button")]
    return (
        len(app.chat_input) == 0
        and len(app.chat_message) == 0
        and len(app.text_input) == 0
        and len(links) == 1
        and links[0].startswith("/signin?")
    )


def test_a_run_without_a_session_shows_nothing_and_points_to_sign_in(app_env: AppEnv) -> None:
    app = new_app()
    assert signed_out(app) and "Please sign in again" in app.info[0].value
    # No page of the app is registered, so no URL leads anywhere else.
    with pytest.raises(ValueError, match="Known pages: \\['Sign in'\\]"):
        app.switch_page("views/chat.py")


def test_a_session_signed_out_elsewhere_ends_at_the_next_run(app_env: AppEnv) -> None:
    app = sign_in(new_app(), " Alice ")  # normalised as the CLI normalises
    assert errors(app) == [] and len(app.chat_input) == 1
    assert any("Alice" in m.value for m in app.sidebar.markdown)
    # The sidebar's sign-out is a form posted to /signout, which revokes the session there.
    assert any('action="/signout"' in html.proto.body for html in app.sidebar.get("html"))
    accounts = wiring.shared(Settings.from_env()).accounts
    accounts.sign_out(app.session_state[TEST_SESSION])
    assert signed_out(app.run())


def test_a_chat_turn_streams_and_is_logged(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    app = sign_in(new_app())
    fake_openai.enqueue(FakeReply(text="Paris is the capital of France.", delay=0.005))
    app = send(app, "What is the capital of France?")
    assert chat_texts(app) == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital of France."),
    ]
    assert any("reply tokens" in c.value for c in app.caption)
    prompt, reply = logged(app_env)
    assert (prompt.username, prompt.role, prompt.content) == ("alice", "user", "What is the capital of France?")
    assert (reply.role, reply.status, reply.content) == ("assistant", "complete", "Paris is the capital of France.")
    assert reply.completion_tokens == 6 and reply.prompt_tokens
    # A second turn carries the whole conversation.
    app = send(app, "And of Italy?")
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert [m["content"] for m in sent[1:]] == [
        "What is the capital of France?",
        "Paris is the capital of France.",
        "And of Italy?",
    ]
    assert len(chat_texts(app)) == 4 and len({m.conversation_id for m in logged(app_env)}) == 1


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (FakeReply(status=401), "refused the API key"),
        (FakeReply(status=404), "was not found"),
        (FakeReply(status=429), "rate limiting"),
        (FakeReply(status=500), "internal error"),
        (FakeReply(hang_before_headers=5), "did not answer within 3 seconds"),
        (FakeReply(reset_after=4), "lost in the middle of the reply"),
    ],
    ids=["401", "404", "429", "500", "timeout", "dropped"],
)
def test_upstream_failures_show_a_sentence_and_the_next_prompt_works(
    app_env: AppEnv, fake_openai: FakeOpenAI, reply: FakeReply, says: str
) -> None:
    app = sign_in(new_app())
    fake_openai.enqueue(reply)
    app = send(app, "Hello?")
    assert app.exception == [] if hasattr(app.exception, "__eq__") else True
    assert len(errors(app)) == 1 and says in errors(app)[0]
    if reply.reset_after:
        assert chat_texts(app)[-1] == ("assistant", "Hello! I am the")  # the partial reply stays visible
    assert logged(app_env)[-1].status == "error"
    fake_openai.enqueue(FakeReply(text="Back to normal."))
    app = send(app, "Again?")
    assert chat_texts(app)[-1] == ("assistant", "Back to normal.")
    # The earlier failure is still on screen, in its place.
    assert len(errors(app)) == 1


def test_connection_refused_is_explained(app_env: AppEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    app = send(sign_in(new_app()), "Hello?")
    assert "Could not connect to the model server at http://127.0.0.1:9/v1" in errors(app)[0]


def test_empty_and_too_long_prompts_send_nothing(
    app_env: AppEnv, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_MAX_PROMPT_CHARS", "50")
    app = sign_in(new_app())
    app = send(app, "   ")
    assert chat_texts(app) == [] and fake_openai.chat_requests == []
    too_long = "a" * 51
    app = send(app, too_long)
    assert "51 characters long; the limit is 50" in errors(app)[0]
    assert fake_openai.chat_requests == [] and logged(app_env) == []
    assert prompt_box(app) == too_long  # handed back whole, to edit


def test_markup_in_messages_is_text_not_html(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    attack = "<img src=x onerror=alert(1)> <script>alert(2)</script>"
    fake_openai.enqueue(FakeReply(text=attack))
    app = send(sign_in(new_app()), attack)
    for message in app.chat_message:
        for markdown in message.markdown:
            assert markdown.proto.allow_html is False
    assert [text for _, text in chat_texts(app)] == [attack, attack]


def test_demo_mode_works_without_any_key(app_env: AppEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("PARLEY_DEMO_TOKEN_DELAY", "0")
    app = sign_in(new_app())
    assert any("Offline demo mode" in caption.value for caption in app.caption)
    app = send(app, "Is anyone there?")
    role, reply = chat_texts(app)[-1]
    assert role == "assistant" and "offline demo model" in reply and "Is anyone there?" in reply
    # What Parley draws, shown by the demo's reply: a heading, a list, code, a table, a formula.
    for piece in ("### ", "\n- ", "```python", "| Message | Words |", "$$"):
        assert piece in reply, piece
    assert logged(app_env)[-1].model == "parley-demo"
    assert reply == demo_reply([{"role": "user", "content": "Is anyone there?"}])  # the same words, every time


def test_a_bad_cookie_key_stops_the_page(app_env: AppEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_COOKIE_KEY", "too-short")
    app = new_app()
    assert "at least 32" in errors(app)[0]
    assert len(app.text_input) == 0 and len(app.chat_input) == 0


def test_a_plaintext_password_in_auth_yaml_stops_the_page(app_env: AppEnv) -> None:
    text = app_env.auth_file.read_text()
    app_env.auth_file.write_text(text.replace(text.split("password: ")[1].split("\n")[0], "letmein123", 1))
    app = new_app()
    assert "'alice' has a plaintext" in errors(app)[0]


def test_users_added_or_removed_by_the_cli_count_without_a_restart(
    app_env: AppEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(authfile, "BCRYPT_ROUNDS", 4)
    app = new_app()
    added = parley(
        "users", "--file", str(app_env.auth_file), "add", "carol", "--password-stdin", input="carol-pass-1\n"
    )
    assert added.exit_code == 0, added.stderr
    app = sign_in(app, "carol", "carol-pass-1")
    assert len(app.chat_input) == 1
    # Removing the signed-in user ends the session on the next run.
    assert parley("users", "--file", str(app_env.auth_file), "remove", "carol").exit_code == 0
    assert signed_out(app.run())


def test_a_prompt_refused_by_a_broken_database_comes_back(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    app = sign_in(new_app())
    app = send(app, "first")
    engine = create_engine(app_env.database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE messages")
    engine.dispose()
    app = send(app, "keep my words")
    assert "could not be saved" in errors(app)[0]
    assert prompt_box(app) == "keep my words"
    assert len(fake_openai.chat_requests) == 1


def test_page_file_alone_does_not_bypass_the_gate(app_env: AppEnv) -> None:
    from streamlit.testing.v1 import AppTest

    page = AppTest.from_file(str(Path(app_env.root) / "views" / "chat.py")).run()
    assert len(page.chat_input) == 0 and len(page.chat_message) == 0


def test_reply_text_is_kept_in_full(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    app = send(sign_in(new_app()), "hi")
    assert chat_texts(app)[-1] == ("assistant", DEFAULT_TEXT)


def test_the_next_user_in_the_same_tab_sees_nothing_of_the_last(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    app = send(sign_in(new_app(), "alice"), "my salary is 123456")
    assert len(chat_texts(app)) == 2
    app.sidebar.button[0].click().run()  # sign out
    app = sign_in(app, "bob")
    assert (
        chat_texts(app) == [] and "parley_chat" not in app.session_state or not app.session_state["parley_chat"].history
    )
    app = send(app, "hello")
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert all("123456" not in m["content"] for m in sent)
    assert chat_texts(app)[0] == ("user", "hello")
    assert {m.username for m in logged(app_env) if "hello" in m.content} == {"bob"}


def test_a_log_locked_past_its_timeout_warns_and_the_chat_goes_on(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    """The database takes no write for longer than its 5 s busy timeout: the turn is answered, the
    page warns that it waits on disk, and it reaches the log once the lock is gone."""
    import sqlite3

    app = sign_in(new_app())
    app = send(app, "first")
    fake_openai.enqueue(FakeReply(text="Answered while the log was locked."))
    holder = sqlite3.connect(app_env.database_path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        app = send(app, "while it is locked")
        # Warned at the top while it streams, and under the reply for good.
        notes = [c.value.replace("\\", "") for c in app.chat_message[-1].caption]  # drawn as text: escaped
        assert any("not taking writes right now (the database is busy)" in n and "kept on disk" in n for n in notes)
        assert chat_texts(app)[-1] == ("assistant", "Answered while the log was locked.")
        assert [m.content for m in logged(app_env)][-1] != "Answered while the log was locked."
    finally:
        holder.rollback()
        holder.close()
    turn = ["while it is locked", "Answered while the log was locked."]
    wait_until(lambda: [m.content for m in logged(app_env)][-2:] == turn, 20, "the spooled turn in the log")
    assert not Path("data/spool.jsonl").exists()  # the sandbox's


def test_the_chat_regenerates_edits_and_rates(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Answer one."), FakeReply(text="Answer two."), FakeReply(text="Answer three."))
    app = send(sign_in(new_app()), "Question?")
    app.button(key="parley_regenerate").click().run()
    assert chat_texts(app) == [("user", "Question?"), ("assistant", "Answer two.")]

    prompt_id = logged_messages(app_env.database_url)[0].id
    app.button(key=f"parley_edit_{prompt_id}").click().run()
    app.text_area(key=f"parley_edit_text_{prompt_id}").input("Question, edited?")
    app.button(key=f"FormSubmitter:parley_edit_form_{prompt_id}-Send").click().run()
    assert chat_texts(app) == [("user", "Question, edited?"), ("assistant", "Answer three.")]

    rows = logged_messages(app_env.database_url)
    assert [(m.role, m.content, m.superseded) for m in rows] == [
        ("user", "Question?", True),
        ("assistant", "Answer one.", True),
        ("assistant", "Answer two.", True),
        ("user", "Question, edited?", False),
        ("assistant", "Answer three.", False),
    ]
    reply_id = rows[-1].id
    app.feedback(key=f"parley_feedback_{reply_id}").set_value(1).run()
    assert logged_messages(app_env.database_url)[-1].feedback == 1


def test_a_rating_that_cannot_be_saved_says_so_under_the_newest_turn(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    """The notices are drawn by the newest turn's slot (chat/ui/turn_slots.py): a rating of an
    earlier reply, whose click reruns only its own slot, must still show its sentence at once."""
    app = sign_in(new_app())
    for n in range(3):
        app = send(app, f"Question {n}?")
    first_reply = logged_messages(app_env.database_url)[1]
    engine = create_engine(app_env.database_url)
    with engine.begin() as connection:  # deleted in another tab
        connection.execute(
            update(Conversation).where(Conversation.id == first_reply.conversation_id).values(deleted_at=utcnow())
        )
    engine.dispose()
    app.feedback(key=f"parley_feedback_{first_reply.id}").set_value(1).run()
    assert [e.value for e in app.error] == ["That reply is no longer yours to rate."]
    assert logged_messages(app_env.database_url)[1].feedback is None


def test_the_chat_says_when_earlier_turns_were_left_out(
    app_env: AppEnv, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_CONTEXT_TOKENS", "300")
    fake_openai.default = FakeReply(text="A fairly long answer " * 25)
    app = sign_in(new_app())
    for n in range(4):
        app = send(app, f"Question number {n}, asked at some length " * 3)
    notes = [c.value for c in app.caption if "left out of this request" in c.value]
    assert notes, [c.value for c in app.caption]
    last = fake_openai.chat_requests[-1].body["messages"]
    assert last[-1]["content"].startswith("Question number 3") and len(last) < 2 + 2 * 3
    # The notice is stored with the reply: reopening the conversation shows it again.
    conversation = app.query_params["c"]
    reopened = sign_in(new_app())
    reopened.query_params["c"] = conversation
    reopened = reopened.run()
    assert any("left out of this request" in c.value for c in reopened.caption)
    assert logged_messages(app_env.database_url)[-1].context_left_out


def test_the_chat_shows_reasoning_collapsed_above_the_reply(
    app_env: AppEnv, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.enqueue(FakeReply(text="Forty-two.", reasoning="Deep thought, briefly."))
    app = send(sign_in(new_app()), "The answer?")
    # Collapsed, above the reply, in the run that streamed it (and in every later one).
    assert chat_texts(app)[-1] == ("assistant", "Deep thought, briefly.\nForty-two.")
    expander = app.chat_message[-1].expander[0]
    assert expander.label == "Reasoning" and not expander.proto.expanded
