"""chat/db/documents.py: the export document, written from the log and added back under a user.

The file around it (`python -m chat export` and `import`, the Markdown, an older or a later
Parley's export) is tests/integration/test_export.py's; a row read back as its record,
tests/integration/test_records.py's; text the engines refuse, tests/integration/test_text.py's.
Here the document itself: what one export holds, what an import refuses whole, and what a
round trip keeps."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chat.db import store
from chat.db.documents import FORMAT, VERSION, import_document, user_export
from chat.db.tables import Conversation, Message, new_id, utcnow
from chat.db.versions import version_ids
from chat.domain.records import ConversationRecord, PromptRecord, ReplyRecord
from chat.domain.status import ReplyStatus
from chat.errors import InputError

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def conversation_of(session: Session, username: str, title: str, *, at: datetime = AT) -> ConversationRecord:
    """A conversation of `username`'s with one turn, started and last active at `at`."""
    record = ConversationRecord(
        id=new_id(), username=username, title=title, model="m", system_prompt="", temperature=None, created_at=at
    )
    turn(session, record, f"{title}?", f"{title}.", at=at)
    return record


def turn(session: Session, conversation: ConversationRecord, prompt: str, reply: str, *, at: datetime) -> int:
    """A prompt and its reply at `at`; the reply's row id."""
    return store.write_turn(
        session,
        conversation,
        PromptRecord(content=prompt, model="m", created_at=at),
        ReplyRecord(content=reply, status=ReplyStatus.COMPLETE, created_at=at, finished_at=at, model="m"),
    )


def rows_of(sessions: sessionmaker[Session], username: str) -> tuple[int, int]:
    """How many conversations and messages the log holds for `username`, deleted or not."""
    with sessions() as session:
        conversations = session.scalar(select(func.count()).where(Conversation.username == username))
        messages = session.scalar(select(func.count()).where(Message.username == username))
    return conversations or 0, messages or 0


def document(*conversations: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "user": "alice", "conversations": list(conversations)}


def exported(title: str, *, at: str = "2026-01-05T09:00:00+00:00") -> dict[str, Any]:
    """One conversation as an export writes it: a prompt and its reply."""
    return {
        "id": new_id(),
        "title": title,
        "model": "m",
        "system_prompt": "",
        "temperature": None,
        "created_at": at,
        "updated_at": at,
        "messages": [
            {"role": "user", "content": f"{title}?", "status": "complete", "created_at": at, "updated_at": at},
            {
                "role": "assistant",
                "content": f"{title}.",
                "status": "complete",
                "created_at": at,
                "finished_at": at,
                "feedback": None,
                "superseded": False,
                "updated_at": at,
            },
        ],
    }


def test_one_conversation_is_exported_alone_and_someone_elses_or_a_deleted_one_gives_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        older = conversation_of(session, "alice", "Older", at=AT)
        newer = conversation_of(session, "alice", "Newer", at=AT + timedelta(hours=1))
        gone = conversation_of(session, "alice", "Gone")
        store.delete_conversation(session, gone.id, "alice")

    whole = user_export(sessions, "alice")
    assert (whole["format"], whole["version"], whole["user"]) == (FORMAT, VERSION, "alice")
    assert [c["title"] for c in whole["conversations"]] == ["Older", "Newer"]  # oldest first, not the deleted
    one = user_export(sessions, "alice", newer.id)
    assert [(c["id"], c["title"]) for c in one["conversations"]] == [(newer.id, "Newer")]
    assert [m["content"] for m in one["conversations"][0]["messages"]] == ["Newer?", "Newer."]
    assert one["conversations"][0] == whole["conversations"][1]  # the same conversation the whole export holds

    # Someone else's id, a deleted one and one that never was: an empty document, in the asker's name.
    assert user_export(sessions, "bob", older.id) == {
        "format": FORMAT,
        "version": VERSION,
        "user": "bob",
        "conversations": [],
        "files": {},
    }
    assert user_export(sessions, "alice", gone.id)["conversations"] == []
    assert user_export(sessions, "alice", new_id())["conversations"] == []


@pytest.mark.parametrize(
    ("version", "said"),
    [
        (2, "This export is version 2; this Parley reads version 1."),
        (0, "This export is version 0; this Parley reads version 1."),
        ("1", "This export is version '1'; this Parley reads version 1."),
        (None, "This export has no version; this Parley reads version 1."),
    ],
)
def test_an_export_of_another_version_is_refused_with_both_versions(
    sessions: sessionmaker[Session], version: object, said: str
) -> None:
    file = document(exported("Trip"))
    if version is None:
        del file["version"]
    else:
        file["version"] = version
    with pytest.raises(InputError) as refused:
        import_document(sessions, file, "carol")
    assert str(refused.value) == said
    assert rows_of(sessions, "carol") == (0, 0)


def test_something_else_than_an_export_is_refused_as_such(sessions: sessionmaker[Session]) -> None:
    for foreign in ([document(exported("Trip"))], {"format": "other", "version": 1}, {"version": 1}):
        with pytest.raises(InputError, match=r"^This file is not a Parley conversations export\.$"):
            import_document(sessions, foreign, "carol")  # type: ignore[arg-type]
    assert rows_of(sessions, "carol") == (0, 0)


def _without(key: str) -> Any:
    return lambda message: message.pop(key)


def _setting(key: str, value: object) -> Any:
    return lambda message: message.update({key: value})


@pytest.mark.parametrize(
    ("damage", "kind"),
    [
        (_without("content"), "KeyError"),
        (_without("role"), "KeyError"),
        (_setting("status", "paused"), "ValueError"),
        (_setting("created_at", "2026-01-05T09:00:00"), "ValueError"),  # no zone
        (_setting("created_at", 1767603600), "TypeError"),
        (_setting("prompt_tokens", "many"), "TypeError"),
        (_setting("content", None), "ValueError"),  # not taken as "" in silence
        (_setting("status", None), "ValueError"),  # not taken as complete
        (_setting("usage_estimated", None), "ValueError"),
        (_setting("superseded", "false"), "TypeError"),  # not taken as true
        (_setting("role", "system"), "ValueError"),  # the log holds prompts and replies only
        (_setting("feedback", "yes"), "ValueError"),  # 1 up, 0 down, None not rated
        (_setting("feedback", 5), "ValueError"),
        (_setting("parent", 1), "ValueError"),  # itself: a parent comes earlier in the list
        (_setting("parent", "0"), "ValueError"),
        (_setting("parent", None), "ValueError"),  # shown, so it follows the prompt shown before it
        (lambda m: m.update(role="user", parent=0), "ValueError"),  # a prompt's parent is a reply
    ],
    ids=[
        "no content",
        "no role",
        "unknown status",
        "time without zone",
        "time as a number",
        "tokens as text",
        "null content",
        "null status",
        "null usage_estimated",
        "superseded as text",
        "system role",
        "feedback as text",
        "feedback out of range",
        "parent itself",
        "parent as text",
        "shown reply without its prompt",
        "prompt under a prompt",
    ],
)
def test_one_damaged_conversation_among_several_imports_none_of_them(
    sessions: sessionmaker[Session], damage: Any, kind: str
) -> None:
    damaged = exported("Damaged")
    damage(damaged["messages"][1])
    # The damage comes last: the conversations before it were already written in the transaction.
    file = document(exported("First"), exported("Second"), damaged)
    with pytest.raises(InputError) as refused:
        import_document(sessions, file, "carol")
    assert str(refused.value).startswith(f"The export file is damaged ({kind}: ")
    assert str(refused.value).endswith("; nothing was imported.")
    assert rows_of(sessions, "carol") == (0, 0)
    # The same file without the damaged conversation imports whole.
    assert len(import_document(sessions, document(exported("First"), exported("Second")), "carol")) == 2
    assert rows_of(sessions, "carol") == (2, 4)


def test_a_damaged_conversation_itself_imports_nothing(sessions: sessionmaker[Session]) -> None:
    no_messages = exported("No messages")
    del no_messages["messages"]
    no_updated = exported("No last activity")
    del no_updated["updated_at"]
    for damaged in (no_messages, no_updated, {**exported("Nameless"), "model": None}, "a conversation"):
        with pytest.raises(InputError, match=r"^The export file is damaged \("):
            import_document(sessions, document(exported("First"), damaged), "carol")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"^The export file is damaged \(TypeError: "):
        import_document(sessions, {**document(), "conversations": None}, "carol")
    assert rows_of(sessions, "carol") == (0, 0)


def test_a_message_without_its_last_change_is_taken_as_changed_when_it_ended_or_else_began(
    sessions: sessionmaker[Session],
) -> None:
    file = document(exported("Trip", at="2026-01-05T09:00:00+00:00"))
    prompt, reply = file["conversations"][0]["messages"]
    del prompt["updated_at"]  # no finished_at either: when it began
    reply.update(created_at="2026-01-05T09:00:01+00:00", finished_at="2026-01-05T09:00:04+02:00")
    del reply["updated_at"]  # when it ended
    interrupted = {
        "role": "assistant",
        "content": "Half",
        "status": "interrupted",
        "created_at": "2026-01-05T09:00:05+00:00",
        "finished_at": None,
        "updated_at": "2026-01-05T09:00:09+00:00",  # given: kept
    }
    file["conversations"][0]["messages"].append(interrupted)

    (conversation_id,) = import_document(sessions, file, "carol")

    with sessions() as session:
        rows = store.conversation_messages(session, conversation_id, "carol")
        assert [(row.content, row.updated_at) for row in rows] == [
            ("Trip?", datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)),
            ("Trip.", datetime(2026, 1, 5, 7, 0, 4, tzinfo=UTC)),  # +02:00, kept as UTC
            ("Half", datetime(2026, 1, 5, 9, 0, 9, tzinfo=UTC)),
        ]
    (again,) = user_export(sessions, "carol")["conversations"]
    assert [m["updated_at"] for m in again["messages"]] == [
        "2026-01-05T09:00:00+00:00",
        "2026-01-05T07:00:04+00:00",
        "2026-01-05T09:00:09+00:00",
    ]


def test_superseded_attempts_and_feedback_survive_an_export_and_an_import(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        conversation = conversation_of(session, "alice", "Q1")
        first = turn(session, conversation, "Q2", "First try.", at=AT + timedelta(minutes=1))
        edited = session.scalars(select(Message).where(Message.id.in_([first - 1, first]))).all()
        store.supersede(session, edited)  # the prompt edited: it and its reply replaced
        retried = turn(session, conversation, "Q2", "Second try.", at=AT + timedelta(minutes=2))
        assert store.set_feedback(session, first, "alice", 0)  # rated before it was replaced
        assert store.set_feedback(session, retried, "alice", 1)
    exported_by_alice = user_export(sessions, "alice")

    (copied,) = import_document(sessions, exported_by_alice, "bob")

    (record,) = user_export(sessions, "bob")["conversations"]
    (original,) = exported_by_alice["conversations"]
    assert record["id"] == copied != original["id"]
    assert {**record, "id": None} == {**original, "id": None}  # nothing else changed
    assert [(m["content"], m["superseded"], m["feedback"]) for m in record["messages"]] == [
        ("Q1?", False, None),
        ("Q1.", False, None),
        ("Q2", True, None),
        ("First try.", True, 0),
        ("Q2", False, None),
        ("Second try.", False, 1),
    ]
    with sessions() as session:
        # Bob's conversation now: its current branch, and feedback he may change on his copy alone.
        shown = store.conversation_messages(session, copied, "bob")
        assert [m.content for m in shown] == ["Q1?", "Q1.", "Q2", "Second try."]
        assert {m.username for m in store.conversation_messages(session, copied, "bob", with_superseded=True)} == {
            "bob"
        }
        assert store.set_feedback(session, shown[-1].id, "bob", 0)
        session.commit()
        # The attempts are versions of one another in his copy too.
        texts = {m.id: m.content for m in store.conversation_messages(session, copied, "bob", with_superseded=True)}
        found = version_ids(session, copied)
        assert [tuple(texts[v] for v in found[m.id]) for m in shown] == [
            ("Q1?",),
            ("Q1.",),
            ("Q2", "Q2"),
            ("Second try.",),
        ]
    assert [m["parent"] for m in record["messages"]] == [None, 0, 1, 2, 1, 4]
    assert user_export(sessions, "alice")["conversations"][0]["messages"][-1]["feedback"] == 1


def test_an_export_written_before_versions_gets_its_parents_from_its_order(sessions: sessionmaker[Session]) -> None:
    old = exported("Old")
    retried = {**old["messages"][1], "content": "Old, again."}
    old["messages"] = [old["messages"][0], {**old["messages"][1], "superseded": True}, retried]
    (copied,) = import_document(sessions, document(old), "carol")
    (record,) = user_export(sessions, "carol")["conversations"]
    assert [m["parent"] for m in record["messages"]] == [None, 0, 0]
    with sessions() as session:
        [prompt, reply] = store.conversation_messages(session, copied, "carol")
        assert version_ids(session, copied)[reply.id] == (reply.id - 1, reply.id)


def test_an_export_imported_twice_under_its_own_user_adds_copies_and_changes_nothing_there(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        conversation_of(session, "alice", "Mine")
    before = user_export(sessions, "alice")
    ids = import_document(sessions, before, "alice") + import_document(sessions, copy.deepcopy(before), "alice")
    assert len(set(ids)) == 2 and before["conversations"][0]["id"] not in ids
    after = user_export(sessions, "alice")["conversations"]
    assert len(after) == 3 and before["conversations"][0] in after  # the original, as it was
    assert all({**c, "id": None} == {**before["conversations"][0], "id": None} for c in after)
    assert rows_of(sessions, "alice") == (3, 6)


def test_an_imported_conversation_keeps_its_last_activity_among_the_users_own(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        conversation_of(session, "carol", "Today's", at=utcnow())
    file = document(exported("Last year's", at="2025-06-01T12:00:00+00:00"))
    import_document(sessions, file, "carol")
    # Listed by when it was last active in the file, not when it was imported.
    assert [c["title"] for c in user_export(sessions, "carol")["conversations"]] == ["Last year's", "Today's"]


def test_a_title_longer_than_the_log_holds_is_shortened_alike_on_both_engines(sessions: sessionmaker[Session]) -> None:
    """PostgreSQL refuses a title over the column's 200 characters where SQLite keeps it whole: an
    export from elsewhere (or edited by hand) imports the same on both, shortened."""
    long = "word " * 100  # 500 characters
    [imported] = import_document(sessions, document(exported(long.strip())), "alice")
    [title] = [c["title"] for c in user_export(sessions, "alice", imported)["conversations"]]
    assert len(title) == 200 and title.endswith("…") and title.startswith("word word")
