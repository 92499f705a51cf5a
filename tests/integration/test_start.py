"""chat/turns/start.py: a turn whose prompt the log refuses at the very end (its commit)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tests.fake_openai import FakeOpenAI, FakeReply
from tests.integration.test_spool import new_service, rows, wait_for

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_new_conversation_whose_commit_fails_is_spooled_as_new_and_written_later(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = new_service(tmp_path, fake_openai, sessions)
    engine = sessions.kw["bind"]
    refusals = iter([True])  # the first commit (the prompt's) fails after its rows were written

    def refuse_once(_connection: object) -> None:
        if next(refusals, False):
            raise OperationalError("COMMIT", {}, Exception("database is locked"))

    event.listen(engine, "commit", refuse_once)
    fake_openai.enqueue(FakeReply(text="Answered all the same."))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Still there?")
    assert turn.unlogged and "the database is busy" in turn.notices[0]
    assert "".join(turn.follow(min_interval=0)) == "Answered all the same." and turn.wait(15)
    assert turn.error is None and turn.save_error is None

    wait_for(lambda: not service.spool.has_pending())
    prompt, reply = rows(sessions)
    assert (prompt.content, reply.content, reply.status) == ("Still there?", "Answered all the same.", "complete")
    assert prompt.conversation_id == reply.conversation_id == turn.conversation_id
    assert [c.title for c in service.conversations("alice")] == ["Still there?"]
