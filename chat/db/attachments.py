"""Attachments in the log: a file's content kept once per user (`file_contents`), the files of a
prompt (`message_files`), and the contents no message refers to any more, removed by the purge."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from chat.db.tables import FileContent, MessageFile, utcnow
from chat.domain.attachments import Attachment, AttachmentKind, Content
from chat.errors import InputError

GONE = "{name} is no longer kept by Parley (removed by the retention purge): attach it again."


def as_attachment(row: FileContent, name: str) -> Attachment:
    return Attachment(
        digest=row.digest,
        name=name,
        kind=AttachmentKind(row.kind),
        media_type=row.media_type,
        size=row.size,
        pages=row.pages,
        width=row.width,
        height=row.height,
        chars=row.chars,
    )


def known(session: Session, username: str, digests: Iterable[str]) -> dict[str, FileContent]:
    """The user's stored contents among `digests` (what need not be read again)."""
    wanted = set(digests)
    if not wanted:
        return {}
    rows = session.scalars(select(FileContent).where(FileContent.username == username, FileContent.digest.in_(wanted)))
    return {row.digest: row for row in rows}


def keep(session: Session, username: str, attachment: Attachment, content: Content) -> None:
    """Store a content the user has not stored yet; one stored meanwhile (another tab) is kept as it is.

    `INSERT ... ON CONFLICT DO NOTHING` on both engines, not a savepoint: pysqlite begins no
    transaction before a SAVEPOINT, so releasing one would commit on its own."""
    values = {
        "username": username,
        "digest": attachment.digest,
        "kind": attachment.kind.value,
        "media_type": attachment.media_type,
        "size": attachment.size,
        "pages": attachment.pages,
        "width": attachment.width,
        "height": attachment.height,
        "chars": attachment.chars,
        "data": content.data or None,
        "text": content.text if attachment.kind is AttachmentKind.DOCUMENT else None,
        "created_at": utcnow(),
    }
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(FileContent).values(**values).on_conflict_do_nothing(index_elements=["username", "digest"]))


def attach(session: Session, message_id: int, username: str, attachments: Sequence[Attachment]) -> None:
    """Tie the user's stored files to a prompt, in order. A content purged meanwhile refuses the prompt."""
    rows = known(session, username, (a.digest for a in attachments))
    for position, attachment in enumerate(attachments):
        row = rows.get(attachment.digest)
        if row is None:
            raise InputError(GONE.format(name=attachment.name))
        session.add(MessageFile(message_id=message_id, content_id=row.id, position=position, name=attachment.name))
    session.flush()


def of_messages(session: Session, message_ids: Iterable[int]) -> dict[int, tuple[Attachment, ...]]:
    """Each message's attachments, in order, in one query (messages without any are absent)."""
    ids = list(message_ids)
    if not ids:
        return {}
    found: dict[int, list[Attachment]] = {}
    rows = session.execute(
        select(MessageFile.message_id, MessageFile.name, FileContent)
        .join(FileContent, FileContent.id == MessageFile.content_id)
        .where(MessageFile.message_id.in_(ids))
        .order_by(MessageFile.message_id, MessageFile.position)
    )
    for message_id, name, content in rows:
        found.setdefault(message_id, []).append(as_attachment(content, name))
    return {message_id: tuple(attachments) for message_id, attachments in found.items()}


def contents(session: Session, username: str, digests: Iterable[str]) -> dict[str, Content]:
    """The stored content of each of the user's files named by digest."""
    rows = known(session, username, digests)
    return {digest: Content(data=row.data or b"", text=row.text or "") for digest, row in rows.items()}


def unreferenced(taken_before: datetime) -> ColumnElement[bool]:
    """Contents no message refers to, stored before `taken_before` (younger ones may be files waiting
    above someone's prompt box): what the purge removes."""
    referenced = exists().where(MessageFile.content_id == FileContent.id)
    return and_(~referenced, FileContent.created_at < taken_before)


def count_unreferenced(session: Session, *, taken_before: datetime) -> int:
    return session.scalar(select(func.count()).select_from(FileContent).where(unreferenced(taken_before))) or 0


def drop_unreferenced(session: Session, *, taken_before: datetime) -> int:
    """Remove the contents `unreferenced` names; how many went."""
    result = session.execute(delete(FileContent).where(unreferenced(taken_before)))
    return int(getattr(result, "rowcount", 0) or 0)
