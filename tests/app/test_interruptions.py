"""A reply meets Streamlit's own stop and rerun exceptions in the middle of its stream.

The script below is the chat page's own code path (`send` in `chat/ui/prompt.py`,
`draw_conversation` in `chat/ui/conversation.py`); a helper thread asks the running script
to stop or rerun through Streamlit's script requests, exactly as the stop button and a
widget click do.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from chat.db.tables import Message
from tests.apptest_helpers import message_texts
from tests.conftest import AppEnv, logged_messages
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.waiting import wait_until

LONG = " ".join(f"word{i}" for i in range(120))


def page(request: str, model_asked: "Callable[[], object]" = lambda: True) -> None:  # noqa: UP037 - run as a script
    import sys
    import threading

    import streamlit as st
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    from chat.accounts.auth import SignedIn
    from chat.db.quotas import Quota
    from chat.ui.conversation import draw_conversation
    from chat.ui.prompt import send
    from chat.ui.resources import chat_service, settings_or_stop
    from chat.ui.state import chat_state
    from tests.apptest_helpers import session_for
    from tests.waiting import wait_until

    settings = settings_or_stop()
    service = chat_service(settings)
    hashed = st.session_state.setdefault("session", session_for("alice"))  # a live sign-in: the service checks it
    user = SignedIn(username="alice", name="Alice", roles=("user",), session_hash=hashed, quota=Quota(0, 0))
    chat = chat_state()
    first_run = chat.turn is None and not chat.history
    if first_run:
        send(chat, "Tell me a long story", user, service)
        turn = chat.turn
        requests = get_script_run_ctx().script_requests

        def interrupt() -> None:
            if request == "none":
                return
            if request == "stop-early":
                wait_until(model_asked, 10, "the request at the model")
            else:
                wait_until(lambda: len(turn.text) >= 40, 10, "40 characters of the reply")
            if request == "rerun":
                requests.request_rerun(RerunData())
                return
            # Stopped where a stop button's run would be: following the reply, not drawing the
            # messages above it (a stop there is a page going away, and leaves the reply be; a
            # slow first run was still drawing them when 40 characters had come, and the reply
            # went on to its end).
            wait_until(lambda: following(script), 10, "the script following the reply")
            if request == "stop-early":
                assert not turn.has_text  # stopped while the model is silent
            requests.request_stop()

        script = threading.current_thread()

        def following(script: threading.Thread) -> bool:
            """Whether the script thread is inside `Turn.follow` (waiting for the model's words)."""
            frame = sys._current_frames().get(script.ident or -1)
            while frame is not None:
                if frame.f_code.co_name == "follow":
                    return True
                frame = frame.f_back
            return False

        threading.Thread(target=interrupt, daemon=True).start()
    st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    draw_conversation(chat, user, service)


def replies(env: AppEnv) -> list[Message]:
    engine = create_engine(env.database_url)
    with Session(engine) as session:
        rows = list(session.scalars(select(Message).where(Message.role == "assistant")))
    engine.dispose()
    return rows


def test_stop_mid_stream_saves_the_partial_reply_as_stopped(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text=LONG, delay=0.02))
    app = AppTest.from_function(page, args=("stop",), default_timeout=20).run()
    turn = app.session_state["parley_chat"].turn
    assert turn.wait(5) and turn.status == "stopped"
    [reply] = replies(app_env)
    assert reply.status == "stopped" and 40 <= len(reply.content) < len(LONG) and reply.content == turn.text
    # The next run shows the partial reply, marked as stopped, and the next prompt works.
    app.run()
    assert app.chat_message[-1].markdown[0].value == turn.text
    assert any("Stopped" in c.value for c in app.chat_message[-1].caption)


def test_a_rerun_mid_stream_loses_nothing(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text=LONG, delay=0.01))
    app = AppTest.from_function(page, args=("rerun",), default_timeout=20).run()
    # The rerun interrupted the first script run; the second picked the same turn up and
    # finished the reply's message in place (no third run for its buttons).
    assert app.session_state["runs"] == 2
    assert [message_texts(m)[0] for m in app.chat_message] == ["Tell me a long story", LONG]
    [reply] = wait_until(
        lambda: (found := replies(app_env)) and found[0].status != "streaming" and found,
        5,
        "the reply's end in the log",
    )
    assert (reply.status, reply.content) == ("complete", LONG)
    assert len(fake_openai.chat_requests) == 1  # one request: the reply was not asked for twice


def test_one_run_streams_the_reply_and_finishes_its_message(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    """No second run of the page per turn: the run that streamed the reply draws its
    thumbs, copy and regenerate, and the prompt's Edit button, in place."""
    fake_openai.enqueue(FakeReply(text=LONG, delay=0.001))
    app = AppTest.from_function(page, args=("none",), default_timeout=20).run()
    assert app.session_state["runs"] == 1
    prompt, reply = app.chat_message
    assert reply.markdown[0].value == LONG and [b.label for b in reply.button] == ["Regenerate"]
    assert len(reply.get("feedback")) == 1 and [b.label for b in prompt.button] == ["Edit"]
    [row] = replies(app_env)
    assert (row.status, row.content) == ("complete", LONG)


def resumed_page() -> None:
    """A run that did not start the reply (a rerun came first) follows it, and a click on
    its own Stop button arrives, as the browser would send it, while it streams."""
    import threading

    import streamlit as st
    from streamlit.proto.WidgetStates_pb2 import WidgetStates
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    from chat.accounts.auth import SignedIn
    from chat.db.quotas import Quota
    from chat.ui.conversation import draw_conversation
    from chat.ui.prompt import send
    from chat.ui.resources import chat_service, settings_or_stop
    from chat.ui.state import chat_state
    from tests.apptest_helpers import session_for
    from tests.waiting import wait_until

    settings = settings_or_stop()
    service = chat_service(settings)
    runs = st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    chat = chat_state()
    hashed = st.session_state.setdefault("session", session_for("alice"))  # a live sign-in: the service checks it
    user = SignedIn(username="alice", name="Alice", roles=("user",), session_hash=hashed, quota=Quota(0, 0))
    if runs == 1:
        send(chat, "Tell me a long story", user, service)
        st.rerun()  # the rerun that takes the stream over
    if runs == 2:
        ctx = get_script_run_ctx()
        turn = chat.turn

        def click_stop() -> None:
            wait_until(lambda: len(turn.text) >= 40, 10, "40 characters of the reply")
            states = WidgetStates()
            click = states.widgets.add()
            widget_ids = object.__getattribute__(ctx.session_state, "_state")._key_id_mapper
            wait_until(lambda: "parley_stop" in widget_ids, 10, "the Stop button drawn")
            click.id = widget_ids.get_id_from_key("parley_stop")
            click.trigger_value = True
            ctx.script_requests.request_rerun(RerunData(widget_states=states))

        threading.Thread(target=click_stop, daemon=True).start()
    draw_conversation(chat, user, service)


def test_a_reply_picked_up_after_a_rerun_has_its_own_stop_button(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text=LONG, delay=0.02))
    app = AppTest.from_function(resumed_page, default_timeout=20).run()
    # Started, followed (interrupted by the click), stopped and drawn in that same run.
    assert app.session_state["runs"] == 3
    [reply] = replies(app_env)
    assert reply.status == "stopped" and 40 <= len(reply.content) < len(LONG)
    assert app.chat_message[-1].markdown[0].value == reply.content
    assert any("Stopped" in c.value for c in app.chat_message[-1].caption)


def test_stop_works_before_the_first_token(
    app_env: AppEnv, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing has arrived yet, so no text is drawn; Stop must still be noticed at once."""
    # The first token a minute away, three times the run's own timeout: a run held until it
    # fails, while a loaded machine has 20 s for what takes a second or two. The request's own
    # timeout (3 s for the app tests) is put past that too, so a slow machine's late stop is
    # not taken for the model's silence (a CI run under load ended it as an error once).
    monkeypatch.setenv("PARLEY_REQUEST_TIMEOUT", "30")
    fake_openai.enqueue(FakeReply(text=LONG, first_delay=60))
    started = time.monotonic()
    app = AppTest.from_function(page, args=("stop-early", lambda: fake_openai.chat_requests), default_timeout=20).run()
    elapsed = time.monotonic() - started
    turn = app.session_state["parley_chat"].turn
    assert turn.wait(5) and turn.status == "stopped" and turn.text == ""
    assert elapsed < 20  # not held until the model's first token
    [reply] = replies(app_env)
    assert reply.status == "stopped"


def submit_interrupted_page() -> None:
    """The run that carries a submitted prompt is cut short by a rerun right after the
    chat input, as the cookie components' reruns can do just after sign-in."""
    import streamlit as st
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    from chat.accounts.auth import SignedIn
    from chat.db.quotas import Quota
    from chat.ui.conversation import draw_conversation
    from chat.ui.prompt import prompt_input, send
    from chat.ui.resources import chat_service, settings_or_stop
    from chat.ui.state import chat_state
    from tests.apptest_helpers import session_for

    service = chat_service(settings_or_stop())
    hashed = st.session_state.setdefault("session", session_for("alice"))  # a live sign-in: the service checks it
    user = SignedIn(username="alice", name="Alice", roles=("user",), session_hash=hashed, quota=Quota(0, 0))
    chat = chat_state()
    runs = st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    prompt_input(chat, settings_or_stop())
    prompt = chat.pending_prompt  # taken by the box's callback
    if prompt and not st.session_state.get("interrupted"):
        st.session_state["interrupted"] = True
        get_script_run_ctx().script_requests.request_rerun(RerunData())
        st.empty()  # the next element is where Streamlit acts on the request
    st.session_state["runs"] = runs
    send(chat, prompt, user, service)
    draw_conversation(chat, user, service)


def test_a_prompt_survives_a_rerun_that_interrupts_its_run(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Nothing was lost."))
    app = AppTest.from_function(submit_interrupted_page, default_timeout=20).run()
    app.chat_input[0].set_value("Hello right away").run()
    assert app.session_state["interrupted"]
    prompts = [m.content for m in logged_messages(app_env.database_url) if m.role == "user"]
    assert prompts == ["Hello right away"]
    assert [message_texts(m)[0] for m in app.chat_message][:2] == ["Hello right away", "Nothing was lost."]
