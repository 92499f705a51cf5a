"""The log's side of versions (chat/domain/versions.py): where a new message joins its
conversation's tree, each message's versions, and choosing the version shown.

Over a `Session` the caller gives, as in `chat/db/store.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, false, func, or_, select, update
from sqlalchemy.orm import Session

from chat.db.tables import Message, utcnow
from chat.domain import versions
from chat.domain.status import ReplyStatus
from chat.errors import InputError

NOT_ON_BRANCH = "That version is no longer part of the conversation as shown (changed in another tab): reopen it."
STILL_WRITING = "A reply in this conversation is still being written: stop it first, or wait for it to end."


def branch_end(session: Session, conversation_id: str) -> int | None:
    """The last message of the branch shown: the parent of the message written next."""
    return session.scalar(
        select(func.max(Message.id)).where(Message.conversation_id == conversation_id, Message.superseded.is_(False))
    )


def _nodes(session: Session, conversation_id: str) -> list[versions.Node]:
    rows = session.execute(
        select(
            Message.id,
            Message.parent_id,
            Message.role,
            Message.superseded,
            func.coalesce(Message.chosen_at, Message.created_at),
        )
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id)
    ).all()
    return [versions.Node(id_, parent, role, not superseded, rank) for id_, parent, role, superseded, rank in rows]


def version_ids(session: Session, conversation_id: str) -> dict[int, tuple[int, ...]]:
    """Every message's versions (ids, oldest first, its own among them)."""
    return versions.versions(_nodes(session, conversation_id))


def versions_of(session: Session, conversation_id: str, message_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """The versions of a few messages (a turn's prompt and reply), read from their siblings alone:
    a turn costs the same whatever the conversation's length."""
    asked = session.execute(
        select(Message.id, Message.parent_id, Message.role).where(Message.id.in_(message_ids))
    ).all()
    parents = {parent for _, parent, _ in asked}
    known = [parent for parent in parents if parent is not None]
    in_family: ColumnElement[bool] = Message.parent_id.in_(known) if known else false()
    if None in parents:
        in_family = or_(in_family, Message.parent_id.is_(None))
    siblings = session.execute(
        select(Message.id, Message.parent_id, Message.role).where(Message.conversation_id == conversation_id, in_family)
    ).all()
    found = versions.versions(versions.Node(id_, parent, role, True) for id_, parent, role in siblings)
    return {id_: found[id_] for id_, _, _ in asked if id_ in found}


def choose(session: Session, conversation_id: str, message_id: int) -> None:
    """Show the version `message_id` of the conversation (whose row the caller holds locked):
    one transaction takes the version shown and the rest of the branch below it off, and puts
    the chosen one on with the path below it that was last shown. InputError if it cannot."""
    nodes = _nodes(session, conversation_id)
    if message_id not in {node.id for node in nodes}:
        raise InputError("That message is not in this conversation.")
    try:
        leaving, joining = versions.switch(nodes, message_id)
    except versions.NotOnBranch:
        raise InputError(NOT_ON_BRANCH) from None
    if not leaving:
        return
    if session.scalar(select(func.count()).where(Message.id.in_(leaving), Message.status == ReplyStatus.STREAMING)):
        raise InputError(STILL_WRITING)
    _set_superseded(session, leaving, True)
    _set_superseded(session, joining, False)
    session.execute(update(Message).where(Message.id == message_id).values(chosen_at=utcnow()))


def _set_superseded(session: Session, ids: Sequence[int], value: bool) -> None:
    for start in range(0, len(ids), 500):  # under every engine's limit of bound parameters
        session.execute(update(Message).where(Message.id.in_(ids[start : start + 500])).values(superseded=value))
