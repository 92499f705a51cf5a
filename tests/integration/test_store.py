"""chat/db/store.py: the log's queries and writes, in the caller's transaction.

The service's view of them (listing, rename, delete, one user never reaching another's) is
tests/integration/test_conversations.py's; a turn written late through the spool,
tests/integration/test_records.py's. Here each function is held to what it promises on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.db import store
from chat.db.tables import Conversation, Message, new_id
from chat.domain.records import ConversationRecord, PromptRecord, ReplyRecord
from chat.domain.status import ReplyStatus
from tests.conftest import new_conversation

# Database behaviour: every test here that uses the database runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def conversation_at(session: Session, username: str, updated_at: datetime, title: str = "") -> Conversation:
    record = ConversationRecord(
        id=new_id(), username=username, title=title, model="m", system_prompt="", temperature=None, created_at=AT
    )
    return store.create_conversation(session, record, updated_at=updated_at)


def streaming(content: str = "", *, at: datetime = AT) -> ReplyRecord:
    return ReplyRecord(content=content, status=ReplyStatus.STREAMING, created_at=at, model="m")


def ended(content: str, status: ReplyStatus = ReplyStatus.COMPLETE, **fields: object) -> ReplyRecord:
    return ReplyRecord(content=content, status=status, created_at=AT, model="m", **fields)  # type: ignore[arg-type]


def messages(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def test_a_title_is_the_prompt_on_one_line_cut_to_its_length() -> None:
    assert store.title_from_prompt("  Plan\n\na   trip\tto Lisbon ") == "Plan a trip to Lisbon"
    exact = "w" * store.TITLE_LENGTH
    assert store.title_from_prompt(exact) == exact
    cut = store.title_from_prompt("word " * 40)
    assert len(cut) <= store.TITLE_LENGTH and cut.endswith("word…") and "  " not in cut


def test_conversations_are_listed_by_last_activity_without_the_deleted_or_anyone_elses(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        old = conversation_at(session, "alice", AT)
        new = conversation_at(session, "alice", AT + timedelta(hours=2))
        middle = conversation_at(session, "alice", AT + timedelta(hours=1))
        gone = conversation_at(session, "alice", AT + timedelta(hours=3))
        conversation_at(session, "bob", AT + timedelta(hours=4))
        ids = old.id, new.id, middle.id, gone.id
    with sessions.begin() as session:
        assert store.delete_conversation(session, ids[3], "alice")
    with sessions() as session:
        assert [c.id for c in store.list_conversations(session, "alice")] == [ids[1], ids[2], ids[0]]
        assert [c.id for c in store.list_conversations(session, "alice", limit=2)] == [ids[1], ids[2]]
        assert store.list_conversations(session, "carol") == []


def test_conversations_active_at_the_same_moment_keep_one_order(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        ids = [conversation_at(session, "alice", AT).id for _ in range(5)]
    with sessions() as session:
        assert [c.id for c in store.list_conversations(session, "alice")] == sorted(ids, reverse=True)


def test_someone_elses_or_a_deleted_conversation_is_not_there_for_any_change(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        mine = new_conversation(session, "alice", title="Mine").id
        deleted = new_conversation(session, "alice", title="Deleted").id
        assert store.delete_conversation(session, deleted, "alice")
    with sessions.begin() as session:
        for username, key in (("bob", mine), ("alice", deleted), ("alice", "no-such-id")):
            assert store.get_conversation(session, key, username) is None
            assert store.get_conversation(session, key, username, for_update=True) is None
            assert not store.rename_conversation(session, key, username, "Taken")
            assert not store.update_conversation_settings(
                session, key, username, model="x", system_prompt="You are Bob's.", temperature=1.5
            )
            assert not store.delete_conversation(session, key, username)
    with sessions() as session:
        rows = {row.id: row for row in session.scalars(select(Conversation))}
    assert (rows[mine].title, rows[mine].model, rows[mine].deleted_at) == ("Mine", "m", None)
    assert rows[deleted].title == "Deleted" and rows[deleted].deleted_at is not None  # kept, only hidden


def test_ones_own_conversation_is_renamed_and_reconfigured(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        key = new_conversation(session, "alice").id
    with sessions.begin() as session:
        assert store.rename_conversation(session, key, "alice", "  A new\nname " + "x" * 100)
        assert store.update_conversation_settings(
            session, key, "alice", model="gpt-x", system_prompt="Be terse.", temperature=0.2
        )
    with sessions() as session:
        row = store.get_conversation(session, key, "alice", for_update=True)
        assert row is not None
        assert row.title == store.title_from_prompt("A new name " + "x" * 100) and len(row.title) == store.TITLE_LENGTH
        assert (row.model, row.system_prompt, row.temperature) == ("gpt-x", "Be terse.", 0.2)


def test_a_prompt_takes_its_conversations_model_and_makes_it_the_latest(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        earlier = conversation_at(session, "alice", AT)
        later = conversation_at(session, "alice", AT + timedelta(hours=1))
        earlier.model = "gpt-x"
        prompt = store.add_prompt(session, earlier, "Hello")
        keys = earlier.id, later.id
    assert (prompt.role, prompt.content, prompt.model, prompt.status) == ("user", "Hello", "gpt-x", "complete")
    assert prompt.finished_at == prompt.created_at == prompt.updated_at
    with sessions() as session:
        assert [c.id for c in store.list_conversations(session, "alice")] == list(keys)


def test_a_reply_starts_streaming_and_only_a_final_status_ends_it(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        conversation = new_conversation(session, "alice")
        with pytest.raises(ValueError, match="starts as streaming"):
            store.start_reply(session, conversation.id, "alice", ended("done"))
        reply = store.start_reply(session, conversation.id, "alice", streaming(), owner="host:1").id
        with pytest.raises(ValueError, match="not a final reply status"):
            store.finish_reply(session, reply, streaming("more"))
    (row,) = messages(sessions)
    assert (row.status, row.owner, row.finished_at) == ("streaming", "host:1", None)


def test_progress_is_saved_while_streaming_and_never_over_an_ended_reply(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        conversation = new_conversation(session, "alice")
        reply = store.start_reply(session, conversation.id, "alice", streaming(), owner="host:1").id
    with sessions.begin() as session:
        store.save_reply_progress(session, reply, "Half a")
    assert messages(sessions)[0].content == "Half a"
    with sessions.begin() as session:
        late = ReplyRecord(
            content="Half an answer", status=ReplyStatus.INTERRUPTED, created_at=AT + timedelta(hours=1), model="m"
        )
        store.finish_reply(session, reply, ReplyRecord(**{**vars(late), "error_kind": "interrupted"}))
    with sessions.begin() as session:
        store.save_reply_progress(session, reply, "Half a")  # a late heartbeat of the ended reply
    (row,) = messages(sessions)
    assert (row.content, row.status, row.error_kind) == ("Half an answer", "interrupted", "interrupted")
    assert row.owner is None
    assert row.created_at == AT and row.finished_at is not None  # when it started is the row's; it ended now


def test_a_turn_is_written_into_a_conversation_the_log_lacks(sessions: sessionmaker[Session]) -> None:
    record = ConversationRecord(
        id=new_id(), username="alice", title="Late", model="m", system_prompt="", temperature=None, created_at=AT
    )
    prompt = PromptRecord(content="Hello?", model="m", created_at=AT)
    finished = AT + timedelta(seconds=5)
    with sessions.begin() as session:
        reply = store.write_turn(session, record, prompt, ended("Hi.", finished_at=finished))
    with sessions() as session:
        row = store.get_conversation(session, record.id, "alice")
        assert row is not None and (row.title, row.updated_at) == ("Late", finished)
        shown = store.conversation_messages(session, record.id, "alice")
        assert [(m.role, m.content) for m in shown] == [("user", "Hello?"), ("assistant", "Hi.")]
        assert shown[-1].id == reply


def test_a_turn_never_writes_across_users(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        bobs = new_conversation(session, "bob")
        bobs_reply = store.start_reply(session, bobs.id, "bob", streaming("Bob's words"), owner="host:1").id
        alices = new_conversation(session, "alice")
        alice_record = store.conversation_record(alices)
        stolen = store.conversation_record(bobs)
    with sessions.begin() as session:
        with pytest.raises(ValueError, match="another user's conversation"):
            store.write_turn(session, ConversationRecord(**{**vars(stolen), "username": "alice"}), None, ended("x"))
        # A reply id that now names Bob's row (a restore gave it away): a new row, Bob's untouched.
        written = store.write_turn(session, alice_record, None, ended("Alice's reply"), reply_id=bobs_reply)
        missing = store.write_turn(session, alice_record, None, ended("Another"), reply_id=10**9)
    rows = {m.id: m for m in messages(sessions)}
    assert written != bobs_reply and missing not in (bobs_reply, written)
    assert (rows[bobs_reply].content, rows[bobs_reply].status, rows[bobs_reply].username) == (
        "Bob's words",
        "streaming",
        "bob",
    )
    assert (rows[written].username, rows[written].conversation_id, rows[written].content) == (
        "alice",
        alices.id,
        "Alice's reply",
    )


def test_a_turn_ends_its_own_streaming_row(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        conversation = new_conversation(session, "alice")
        reply = store.start_reply(session, conversation.id, "alice", streaming("Hal"), owner="host:1").id
        record = store.conversation_record(conversation)
    with sessions.begin() as session:
        assert store.write_turn(session, record, None, ended("Hello."), reply_id=reply) == reply
    (row,) = messages(sessions)
    assert (row.id, row.content, row.status, row.owner) == (reply, "Hello.", "complete", None)


def test_abandoned_replies_are_marked_but_never_one_still_running_here(sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        conversation = new_conversation(session, "alice")
        key = conversation.id

        def reply(owner: str) -> int:
            return store.start_reply(session, key, "alice", streaming("half", at=now), owner=owner).id

        silent, dead, running, fresh = reply("a:1"), reply("b:2"), reply("a:3"), reply("c:4")
        done = store.start_reply(session, key, "alice", streaming(at=now), owner="b:2").id
        session.flush()
        for stale in (silent, running):
            row = session.get(Message, stale)
            assert row is not None
            row.updated_at = now - timedelta(minutes=10)
    with sessions.begin() as session:
        store.finish_reply(session, done, ended("Done."))
    with sessions() as session:
        assert store.streaming_owners(session) == {"a:1", "b:2", "a:3", "c:4"}
    with sessions.begin() as session:
        marked = store.mark_abandoned_replies(
            session, older_than=now - timedelta(minutes=5), dead_owners=["b:2"], running=[running]
        )
    assert marked == 2
    status = {m.id: (m.status, m.error_kind, m.content) for m in messages(sessions)}
    assert status[silent] == status[dead] == ("interrupted", "interrupted", "half")
    assert status[running][0] == status[fresh][0] == "streaming" and status[done][0] == "complete"
    with sessions() as session:
        assert store.streaming_owners(session) == {"a:3", "c:4"}


def test_a_superseded_attempt_leaves_the_branch_but_stays_in_the_log(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        conversation = new_conversation(session, "alice")
        record = store.conversation_record(conversation)
        prompt = PromptRecord(content="Q", model="m", created_at=AT)
        first = store.write_turn(session, record, prompt, ended("First try"))
        store.supersede(session, [row for row in store.conversation_messages(session, record.id, "alice")][-1:])
        second = store.write_turn(session, record, None, ended("Second try"))
    with sessions() as session:
        branch = store.conversation_messages(session, record.id, "alice")
        everything = store.conversation_messages(session, record.id, "alice", with_superseded=True)
        assert [m.content for m in branch] == ["Q", "Second try"]
        assert [(m.id, m.superseded) for m in everything][1:] == [(first, True), (second, False)]
        assert store.conversation_messages(session, record.id, "bob", with_superseded=True) == []


def test_feedback_goes_only_on_ones_own_replies_in_a_live_conversation(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        conversation = new_conversation(session, "alice")
        record = store.conversation_record(conversation)
        reply = store.write_turn(session, record, PromptRecord(content="Q", model="m", created_at=AT), ended("A"))
        prompt = store.conversation_messages(session, record.id, "alice")[0].id
    with sessions.begin() as session:
        assert store.set_feedback(session, reply, "alice", 0)
        assert not store.set_feedback(session, prompt, "alice", 1)  # a prompt is not rated
        assert not store.set_feedback(session, reply, "bob", 1)
    assert [m.feedback for m in messages(sessions)] == [None, 0]
    with sessions.begin() as session:
        assert store.delete_conversation(session, record.id, "alice")
    with sessions.begin() as session:
        assert not store.set_feedback(session, reply, "alice", 1)
    assert [m.feedback for m in messages(sessions)] == [None, 0]
