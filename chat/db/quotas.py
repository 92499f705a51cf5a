"""Per-user quotas: requests per minute and tokens per day, counted from the log.

A request is a reply row (a prompt, a regenerate or an edit each ask the model
once); tokens are the prompt and completion tokens of the replies of the last 24
hours (the server's counts, or Parley's estimate when it sent none). Counting from
the database makes the limits hold across sessions, tabs and replicas.

Turns the log has not taken yet (waiting in the spool while it refuses writes, or
being answered toward it) are counted too, as `Waiting`: a log that refuses writes
must not lift anyone's limit. When the log cannot even be read, they are all that
is counted (`check` with no session): the check fails open for the rest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from chat.db.tables import Message
from chat.errors import ChatError

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


class QuotaError(ChatError):
    """The user reached a quota; the message says when they can continue."""

    kind = "quota"


@dataclass(frozen=True)
class Quota:
    """Limits for one user; 0 means no limit."""

    messages_per_minute: int
    tokens_per_day: int


@dataclass(frozen=True)
class QuotaUsage:
    messages_last_minute: int
    tokens_last_day: int


@dataclass(frozen=True)
class Waiting:
    """A user's turn the log does not hold yet (chat/db/spool.py)."""

    at: datetime
    tokens: int
    new_request: bool  # False: its reply row is in the log already (only its ending waits)


def tokens_used() -> ColumnElement[int]:
    """A reply's prompt and completion tokens (0 for what is unknown)."""
    return func.coalesce(Message.prompt_tokens, 0) + func.coalesce(Message.completion_tokens, 0)


def usage(session: Session, username: str, *, now: datetime, waiting: Sequence[Waiting] = ()) -> QuotaUsage:
    messages = session.scalar(
        select(func.count()).where(
            Message.username == username, Message.role == "assistant", Message.created_at > now - MINUTE
        )
    )
    tokens = session.scalar(
        select(func.coalesce(func.sum(tokens_used()), 0)).where(
            Message.username == username, Message.role == "assistant", Message.created_at > now - DAY
        )
    )
    return QuotaUsage(
        messages_last_minute=int(messages or 0) + len(_requests(waiting, now - MINUTE)),
        tokens_last_day=int(tokens or 0) + sum(t for _, t in _token_rows(waiting, now - DAY)),
    )


def check(
    session: Session | None, username: str, quota: Quota, *, now: datetime, waiting: Sequence[Waiting] = ()
) -> None:
    """Raise QuotaError if one more request would break `quota`, counting the log's
    replies (none when `session` is None) and the turns `waiting` for it."""
    if quota.messages_per_minute:
        logged: list[datetime] = []
        if session is not None:
            logged = list(
                session.scalars(
                    select(Message.created_at)
                    .where(Message.username == username, Message.role == "assistant", Message.created_at > now - MINUTE)
                    .order_by(Message.created_at.desc())
                    .limit(quota.messages_per_minute)
                )
            )
        times = sorted([*logged, *_requests(waiting, now - MINUTE)], reverse=True)[: quota.messages_per_minute]
        if len(times) >= quota.messages_per_minute:
            # The oldest of the last N requests must leave the minute first.
            free_at = times[-1] + MINUTE
            count = quota.messages_per_minute
            raise QuotaError(
                f"You have sent {count} message{'s' if count != 1 else ''} in the last minute, your limit; "
                f"nothing was sent. You can continue {_when(free_at, now)}."
            )
    if quota.tokens_per_day:
        rows: list[tuple[datetime, int]] = []
        if session is not None:
            rows = [
                (created_at, int(tokens))
                for created_at, tokens in session.execute(
                    select(Message.created_at, tokens_used()).where(
                        Message.username == username, Message.role == "assistant", Message.created_at > now - DAY
                    )
                )
            ]
        rows = sorted([*rows, *_token_rows(waiting, now - DAY)])
        used = sum(tokens for _, tokens in rows)
        if used >= quota.tokens_per_day:
            # Usage leaves the 24-hour window oldest first; find when it drops under the limit.
            free_at = now
            for created_at, tokens in rows:
                used -= tokens
                free_at = created_at + DAY
                if used < quota.tokens_per_day:
                    break
            raise QuotaError(
                f"You have used {sum(t for _, t in rows):,} tokens in the last 24 hours; your limit is "
                f"{quota.tokens_per_day:,}; nothing was sent. You can continue {_when(free_at, now)}."
            )


def _requests(waiting: Sequence[Waiting], since: datetime) -> list[datetime]:
    return [w.at for w in waiting if w.new_request and w.at > since]


def _token_rows(waiting: Sequence[Waiting], since: datetime) -> list[tuple[datetime, int]]:
    return [(w.at, w.tokens) for w in waiting if w.at > since]


def _when(moment: datetime, now: datetime) -> str:
    seconds = max(1, math.ceil((moment - now).total_seconds()))
    if seconds < 90:
        return f"in {seconds} seconds"
    minutes = math.ceil(seconds / 60)
    span = f"{minutes} minutes" if minutes < 90 else f"{minutes // 60} h {minutes % 60} min"
    return f"in {span} (at {moment:%H:%M} UTC)"
