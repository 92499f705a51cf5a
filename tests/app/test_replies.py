"""A reply outlives the page: another session of the same user follows it, switching away and back
follows the same reply, and its usage and cost are shown."""

from __future__ import annotations

import pytest

from tests.apptest_helpers import chat_texts, new_app, send, sign_in
from tests.conftest import AppEnv, logged_messages
from tests.fake_openai import FakeOpenAI, FakeReply


def test_another_session_follows_a_reply_and_sign_out_does_not_stop_it(
    app_env: AppEnv, fake_openai: FakeOpenAI
) -> None:
    from chat.ui.resources import chat_service, settings_or_stop

    fake_openai.enqueue(FakeReply(text="alpha beta gamma delta epsilon zeta eta theta", delay=0.25))
    first = sign_in(new_app())
    service = chat_service(settings_or_stop())
    # Send from a second, headless look at the same service: the first session's tab is "closed".
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Greek letters?")
    first.sidebar.button[0].click().run()  # this session signs out meanwhile
    assert not turn.done

    reopened = sign_in(new_app())
    reopened.query_params["c"] = turn.conversation_id
    reopened = reopened.run()

    assert chat_texts(reopened) == [
        ("user", "Greek letters?"),
        ("assistant", "alpha beta gamma delta epsilon zeta eta theta"),
    ]
    reply = logged_messages(app_env.database_url)[-1]
    assert (reply.status, reply.content) == ("complete", "alpha beta gamma delta epsilon zeta eta theta")


def test_switching_away_and_back_follows_the_same_reply(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="slow words " * 8, delay=0.1), FakeReply(text="Quick answer."))
    from chat.ui.resources import chat_service, settings_or_stop

    app = sign_in(new_app())
    service = chat_service(settings_or_stop())
    slow = service.start_turn(username="alice", conversation_id=None, history=[], prompt="A slow question")
    app = send(app, "Something else")  # a new conversation while the slow reply is written
    assert chat_texts(app)[-1] == ("assistant", "Quick answer.")
    assert not slow.done
    app.query_params["c"] = slow.conversation_id
    app = app.run()
    assert chat_texts(app)[-1] == ("assistant", ("slow words " * 8).strip())


def test_usage_and_cost_are_shown_per_reply_and_per_conversation(
    app_env: AppEnv, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_PRICES", "gpt-4o-mini=0.15/0.60")
    fake_openai.enqueue(FakeReply(text="Priced answer.", prompt_tokens=2000), FakeReply(text="Guessed.", usage=False))
    app = send(sign_in(new_app()), "First?")
    assert "2,000 prompt + 2 reply tokens · $0.0003" in [c.value for c in app.caption]
    app = send(app, "Second?")
    captions = [c.value for c in app.caption]
    assert any(c.startswith("≈ ") and "(estimated) · ≈ $" in c for c in captions), captions
    # The conversation's total by each reply, behind its usage button from the second reply on.
    totals = [c.value for c in app.caption if c.value.startswith("This conversation so far:")]
    assert len(totals) == 1 and totals[0].startswith("This conversation so far: ≈ ") and "$0.000" in totals[0]
    assert not any("This conversation" in c.value for c in app.sidebar.caption)


def test_a_reply_shows_its_usage_on_demand_and_an_error_has_no_rating(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="An answer.", prompt_tokens=20), FakeReply(status=500))
    app = send(sign_in(new_app()), "First?")
    # Not under the reply: behind its usage button, without a cost line (no price is configured).
    assert "20 prompt + 2 reply tokens" in [c.value for c in app.caption]
    assert not any("cost" in c.value or "$" in c.value for c in app.caption)
    assert len(app.get("feedback")) == 1
    app = send(app, "Second?")
    assert chat_texts(app)[-1][0] == "assistant" and app.error  # the failed reply
    assert len(app.get("feedback")) == 1  # only the first reply can be rated
