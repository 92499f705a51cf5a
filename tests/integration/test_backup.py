"""Backup and restore (`python -m chat backup` and `restore`) on SQLite and PostgreSQL: round trips,
a backup taken while turns are written, refused files, the command line."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts import signins
from chat.accounts.auth import Accounts
from chat.db import attachments as stored_files
from chat.db import store
from chat.db.search import search_messages
from chat.db.tables import AuditEvent, AuthSession, Base, Conversation, LoginFailure, Message, utcnow
from chat.domain.attachments import Attachment, AttachmentKind, Content
from chat.domain.records import ReplyRecord
from chat.domain.status import ReplyStatus
from chat.ops import backup
from chat.ops.backup import BackupError
from tests.conftest import PASSWORDS, chat_process, make_settings, new_conversation, url_of
from tests.waiting import wait_until

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

NAME = re.compile(r"parley-\d{8}-\d{6}\.(db|dump)")


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every Parley table, in key order (PostgreSQL's search_vector aside: it is derived)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def turn(session: Session, username: str, prompt: str, reply: str, conversation: Conversation | None = None) -> int:
    """A prompt and its finished reply; returns the reply's id."""
    conversation = conversation or new_conversation(
        session, username, model="gpt-4o-mini", system_prompt="Be brief.", title=prompt[:40]
    )
    store.add_prompt(session, conversation, prompt)
    streaming = ReplyRecord(content="", status=ReplyStatus.STREAMING, created_at=utcnow(), model="gpt-4o-mini")
    started = store.start_reply(session, conversation.id, username, streaming)
    ended = ReplyRecord(
        content=reply,
        status=ReplyStatus.COMPLETE,
        model="gpt-4o-mini",
        prompt_tokens=12,
        completion_tokens=7,
        created_at=started.created_at,
        finished_at=utcnow(),
    )
    store.finish_reply(session, started.id, ended)
    return started.id


def seed(sessions: sessionmaker[Session]) -> dict[str, str]:
    """Conversations (one deleted), rated replies, a sign-in, a login failure and an audit event."""
    now = utcnow()
    with sessions.begin() as session:
        trip = new_conversation(session, "alice", model="gpt-4o-mini")
        reply = turn(session, "alice", "Plan a climb of Kilimanjaro", "Go in the dry season; Crème brûlée.", trip)
        turn(session, "alice", "And the descent?", "Slowly, via the Mweka route.", trip)
        store.set_feedback(session, reply, "alice", 1)
        # A file on the first prompt: attachments are rows of the log, so a backup holds them too.
        notes = Attachment("d" * 64, "notes.txt", AttachmentKind.DOCUMENT, "text/plain", 40, chars=40)
        stored_files.keep(session, "alice", notes, Content(text="Altitude sickness: climb high, sleep low."))
        first = session.scalars(select(Message).where(Message.conversation_id == trip.id).order_by(Message.id)).first()
        assert first is not None
        stored_files.attach(session, first.id, "alice", [notes])
        gone = new_conversation(session, "bob", model="gpt-4o")
        turn(session, "bob", "Something I regret asking", "No judgement here.", gone)
        store.delete_conversation(session, gone.id, "bob")
        signins.create(
            session,
            token="a-cookie-token",
            username="alice",
            password_hash="$2b$12$hash",
            address="10.0.0.7",
            now=now,
            expires_at=now + timedelta(days=7),
        )
        session.add(LoginFailure(username_key="k" * 64, address="10.0.0.9", failed_at=now))
        session.add(AuditEvent(actor="admin", action="read_conversation", target=f"bob/{gone.id}"))
    return {"trip": trip.id, "gone": gone.id}


def change_everything(sessions: sessionmaker[Session], ids: dict[str, str]) -> None:
    """What happens after a backup: a conversation removed for good, edits, new turns, sign-outs."""
    with sessions.begin() as session:
        session.execute(delete(Conversation).where(Conversation.id == ids["trip"]))
        session.execute(update(Message).values(content="overwritten"))
        turn(session, "carol", "Tell me about the Serengeti", "Wildebeest migrate there.")
        signins.revoke(session, signins.token_hash("a-cookie-token"), now=utcnow())
        session.execute(delete(LoginFailure))
        session.add(AuditEvent(actor="admin", action="read_conversation", target="carol/x"))


def hits(sessions: sessionmaker[Session], username: str, text: str) -> list[list[str]]:
    """The words search marks in each hit (the snippets around them differ between engines)."""
    with sessions() as session:
        return [re.findall("\ue000(.*?)\ue001", hit.snippet) for hit in search_messages(session, username, text)]


def test_a_round_trip_brings_everything_back(sessions: sessionmaker[Session]) -> None:
    url = url_of(sessions)
    ids = seed(sessions)
    before = snapshot(url)
    assert hits(sessions, "alice", "kilimanjaro")

    path = backup.create(url)
    assert path.parent == Path("backups") and NAME.fullmatch(path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds everyone's conversations
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    change_everything(sessions, ids)
    changed = snapshot(url)
    assert changed != before and hits(sessions, "carol", "serengeti") and not hits(sessions, "alice", "kilimanjaro")

    saved = backup.restore(url, path)
    assert without_sign_ins(snapshot(url)) == without_sign_ins(before)
    assert all(row.revoked_at is not None for row in sign_in_rows(sessions))  # see the test below
    assert hits(sessions, "alice", "kilimanjaro") == [["Kilimanjaro"]]
    assert hits(sessions, "alice", "creme brulee") == [["Crème", "brûlée"]]
    assert hits(sessions, "alice", "altitude") == [["Altitude"]]  # a document's words, found again
    assert hits(sessions, "carol", "serengeti") == [] and hits(sessions, "alice", "overwritten") == []
    with sessions.begin() as session:  # ids go on from the restored rows (PostgreSQL: sequences restored too)
        new_reply = turn(session, "alice", "One more", "Sure.")
    assert new_reply > max(row[0] for row in before["messages"])

    # The live database was saved before the restore, and is itself a backup that restores.
    assert saved is not None and saved.name.startswith(path.name[:7]) and "-before-restore" in saved.name
    backup.restore(url, saved)
    assert without_sign_ins(snapshot(url)) == without_sign_ins(changed)


def without_sign_ins(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the sign-in sessions, which a restore ends (their revocation time differs)."""
    return {name: value for name, value in rows.items() if name != AuthSession.__tablename__}


def sign_in_rows(sessions: sessionmaker[Session]) -> list[AuthSession]:
    with sessions() as session:
        return list(session.scalars(select(AuthSession)))


def test_a_restore_ends_every_sign_in(sessions: sessionmaker[Session], tmp_path: Path, auth_file: Path) -> None:
    """A backup holds the sign-in rows of its day: a cookie signed out after it must stay signed out."""
    url = url_of(sessions)
    accounts = Accounts(make_settings(tmp_path, DATABASE_URL=url, PARLEY_AUTH_FILE=str(auth_file)), sessions)
    tokens = {name: accounts.sign_in(name, PASSWORDS[name], "10.0.0.1").token for name in ("alice", "bob")}
    assert all(tokens.values())
    path = backup.create(url)
    accounts.sign_out(signins.token_hash(str(tokens["bob"])))
    assert accounts.from_cookie(str(tokens["bob"])) is None and accounts.from_cookie(str(tokens["alice"]))

    backup.restore(url, path)
    assert accounts.from_cookie(str(tokens["bob"])) is None  # the restored row said "live"
    assert accounts.from_cookie(str(tokens["alice"])) is None  # every sign-in ends, not only the revoked ones
    assert [row.revoked_at is not None for row in sign_in_rows(sessions)] == [True, True]
    again = accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.1").token
    assert again and accounts.from_cookie(again) is not None  # and signing in again works


def test_a_backup_taken_while_turns_are_written_is_consistent(sessions: sessionmaker[Session]) -> None:
    url = url_of(sessions)
    committed = [0]
    stop = threading.Event()

    def writer() -> None:  # one turn per transaction, as fast as it can
        while not stop.is_set():
            with sessions.begin() as session:
                turn(session, "alice", f"turn {committed[-1] + 1} prompt", f"turn {committed[-1] + 1} reply")
            committed.append(committed[-1] + 1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        _wait_for(lambda: committed[-1] >= 5)
        low = committed[-1]
        path = backup.create(url)
        high = committed[-1]
        _wait_for(lambda: committed[-1] >= high + 5)  # the writer went on meanwhile and after
    finally:
        stop.set()
        thread.join()

    if url.startswith("sqlite"):
        with closing(sqlite3.connect(path)) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert low <= _conversations(copy) <= high + 1  # +1: a commit not yet counted by the writer
            assert copy.execute(_UNEVEN).fetchall() == []
            indexed = copy.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'turn'").fetchone()
            assert indexed == (2 * _conversations(copy),)
    backup.restore(url, path)
    engine = create_engine(url)
    with engine.connect() as connection:
        restored = connection.scalar(select(func.count()).select_from(Conversation)) or 0
        assert low <= restored <= high + 1 < committed[-1]
        assert connection.exec_driver_sql(_UNEVEN).all() == []  # every conversation whole: prompt and reply
    engine.dispose()
    assert len(hits(sessions, "alice", "turn")) == min(50, 2 * restored)


_UNEVEN = (
    "SELECT c.id FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id"
    " GROUP BY c.id HAVING count(m.id) <> 2"
)


def _conversations(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT count(*) FROM conversations").fetchone()[0])


def _wait_for(condition: Any, timeout: float = 30.0) -> None:
    wait_until(condition, timeout, "the writer's progress", every=0.01)


def test_restore_refuses_what_is_not_a_parley_backup(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    url = url_of(sessions)
    seed(sessions)
    before = snapshot(url)
    sqlite_url = url.startswith("sqlite")

    notes = tmp_path / "notes.txt"
    notes.write_text("not a backup at all\n" * 100)
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as connection:
        connection.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    refused = {
        tmp_path / "missing.db": f"{tmp_path / 'missing.db'} does not exist or is not a file.",
        notes: f"{notes} is not a SQLite database, so it is not a Parley backup."
        if sqlite_url
        else f"{notes} is not a pg_dump archive (--format=custom), so it is not a Parley backup.",
        other: f"{other} has no Parley tables, so it is not a Parley database."
        if sqlite_url
        else f"{other} is a SQLite backup, but DATABASE_URL names a PostgreSQL database.",
    }
    for path, sentence in refused.items():
        with pytest.raises(BackupError) as error:
            backup.restore(url, path)
        assert error.value.message == sentence
    assert snapshot(url) == before
    assert not Path("backups").exists()  # refused before the live database was even saved


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_restore_refuses_a_damaged_file_or_a_postgresql_backup(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    url = url_of(sessions)
    seed(sessions)
    good = backup.create(url, tmp_path / "good.db")
    damaged = tmp_path / "damaged.db"
    data = bytearray(good.read_bytes())
    data[4096 * 2 : 4096 * 4] = os.urandom(4096 * 2)  # two pages of table data overwritten
    damaged.write_bytes(bytes(data))
    dump = tmp_path / "parley.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 100)
    before = snapshot(url)
    with pytest.raises(BackupError, match=r"damaged\.db (is damaged|cannot be read as a SQLite database)"):
        backup.restore(url, damaged)
    with pytest.raises(BackupError, match="is a PostgreSQL backup, but DATABASE_URL names a SQLite database"):
        backup.restore(url, dump)
    assert snapshot(url) == before


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_restore_refuses_another_database_dump_and_rolls_back_a_broken_one(
    sessions: sessionmaker[Session], postgres_server: str, tmp_path: Path
) -> None:
    url = url_of(sessions)
    ids = seed(sessions)
    elsewhere = backup.create(postgres_server, tmp_path / "postgres.dump")  # a real dump, of no Parley database
    with pytest.raises(BackupError, match=r"postgres\.dump has no Parley tables"):
        backup.restore(url, elsewhere)
    good = backup.create(url, tmp_path / "good.dump")
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(good.read_bytes()[:-16])  # the table of contents (first) is whole, the last data is not
    change_everything(sessions, ids)
    before = snapshot(url)
    with pytest.raises(BackupError, match="^pg_restore failed, and the database is unchanged: "):
        backup.restore(url, truncated)
    assert snapshot(url) == before  # --single-transaction: all or nothing


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_running_sqlite_app_sees_the_restored_data_and_keeps_writing(sessions: sessionmaker[Session]) -> None:
    """The app's pooled connections stay open across the restore, in WAL mode."""
    url = url_of(sessions)
    ids = seed(sessions)
    path = backup.create(url)
    assert path.read_bytes()[18:20] == b"\x01\x01"  # a rollback-journal file: nothing lives in a -wal beside it
    change_everything(sessions, ids)
    with sessions() as session:  # the app holds a connection and has read through it
        assert session.scalar(select(func.count()).select_from(Message)) == 4
        backup.restore(url, path)
        session.rollback()  # its next transaction
        assert session.scalar(select(func.count()).select_from(Message)) == 6
    assert hits(sessions, "alice", "descent") == [["descent"]]
    with sessions.begin() as session:
        turn(session, "alice", "After the restore", "Still here.")
    live = url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(live)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'restore'"
        ).fetchone() == (1,)


def test_the_command_line(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    url = url_of(sessions)
    ids = seed(sessions)
    before = snapshot(url)
    where = backup.describe(url)

    made = chat_process(url, "backup")
    assert made.returncode == 0 and made.stderr == ""
    line = re.fullmatch(rf"Backed up {re.escape(where)} to (backups/\S+) \(\d+(\.\d)? (bytes|kB|MB)\)\.\n", made.stdout)
    assert line and NAME.fullmatch(Path(line[1]).name)
    change_everything(sessions, ids)

    restored = chat_process(url, "restore", line[1])
    saved = re.fullmatch(
        rf"Restored {re.escape(where)} from {re.escape(line[1])}; what it held before is in (\S+)\.\n"
        r"Every sign-in was ended: everyone signs in again, .*\n",
        restored.stdout,
    )
    assert restored.returncode == 0 and restored.stderr == "" and saved and Path(saved[1]).is_file()
    assert without_sign_ins(snapshot(url)) == without_sign_ins(before)

    for argv, sentence in [
        (("restore", "nothing.db"), "nothing.db does not exist or is not a file."),
        (("backup", "--output", line[1]), f"{line[1]} already exists; choose another name."),
    ]:
        failed = chat_process(url, *argv)
        assert (failed.returncode, failed.stdout, failed.stderr) == (1, "", f"Error: {sentence}\n")
    broken = chat_process(url, "backup", PARLEY_COOKIE_KEY="short")
    assert broken.returncode == 1 and broken.stderr.count("\n") == 1 and "PARLEY_COOKIE_KEY" in broken.stderr
    assert chat_process(url, "restore").returncode == 2  # no file: click's usage error


def test_the_command_line_names_a_missing_sqlite_database(tmp_path: Path) -> None:
    failed = chat_process(f"sqlite:///{tmp_path / 'nowhere.db'}", "backup")
    assert (failed.returncode, failed.stdout) == (1, "")
    assert failed.stderr == f"Error: The database file {tmp_path / 'nowhere.db'} does not exist.\n"
    assert not Path("backups").exists()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_restored_database_is_the_owners_alone(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    """Restored into a new place (a new machine) or over a file an older Parley left 0644."""
    seed(sessions)
    path = backup.create(url_of(sessions))
    fresh, older = tmp_path / "fresh" / "parley.db", tmp_path / "older" / "parley.db"
    older.parent.mkdir(mode=0o755)
    older.touch(mode=0o644)
    old_umask = os.umask(0o022)
    try:
        for live in (fresh, older):
            backup.restore(f"sqlite:///{live}", path)
            assert stat.S_IMODE(live.parent.stat().st_mode) == 0o700, live
            assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in live.parent.iterdir()} == {"parley.db": 0o600}
    finally:
        os.umask(old_umask)
