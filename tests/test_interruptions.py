"""A reply meets Streamlit's own stop and rerun exceptions in the middle of its stream.

The script below is the chat page's own code path (`ui.send`, `ui.draw_conversation`);
a helper thread asks the running script to stop or rerun through Streamlit's script
requests, exactly as the stop button and a widget click do.
"""

from __future__ import annotations

import time

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from chat.models import Message
from tests.conftest import AppEnv
from tests.fake_openai import FakeOpenAI, FakeReply

LONG = " ".join(f"word{i}" for i in range(120))


def page(request: str) -> None:
    import threading
    import time

    import streamlit as st
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    from chat import ui

    settings = ui.settings_or_stop()
    service = ui.chat_service(settings)
    user = ui.SignedIn(username="alice", name="Alice", roles=("user",))
    first_run = "parley_turn" not in st.session_state and not st.session_state.get("parley_history")
    if first_run:
        ui.send("Tell me a long story", user, service)
        turn = st.session_state["parley_turn"]
        requests = get_script_run_ctx().script_requests

        def interrupt() -> None:
            while len(turn.text) < 40:
                time.sleep(0.01)
            if request == "stop":
                requests.request_stop()
            else:
                requests.request_rerun(RerunData())

        threading.Thread(target=interrupt, daemon=True).start()
    st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    ui.draw_conversation()


def replies(env: AppEnv) -> list[Message]:
    engine = create_engine(env.database_url)
    with Session(engine) as session:
        rows = list(session.scalars(select(Message).where(Message.role == "assistant")))
    engine.dispose()
    return rows


def test_stop_mid_stream_saves_the_partial_reply_as_stopped(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text=LONG, delay=0.02))
    app = AppTest.from_function(page, args=("stop",), default_timeout=20).run()
    turn = app.session_state["parley_turn"]
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
    # The rerun interrupted the first script run; the second picked the same turn up.
    assert app.session_state["runs"] == 2
    assert [m.markdown[0].value for m in app.chat_message] == ["Tell me a long story", LONG]
    [reply] = replies(app_env)
    deadline = time.monotonic() + 5
    while reply.status == "streaming" and time.monotonic() < deadline:
        time.sleep(0.05)
        [reply] = replies(app_env)
    assert (reply.status, reply.content) == ("complete", LONG)
    assert len(fake_openai.chat_requests) == 1  # one request: the reply was not asked for twice
