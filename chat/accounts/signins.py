"""Sign-in sessions: the cookie's token, and the server-side row that must vouch for it.

The cookie holds an opaque random token (256 bits) and nothing else: no name, no
expiry, nothing a script could read or forge. Its SHA-256 keys a row of
`auth_sessions`, which must be neither revoked, expired, idle for too long, nor made
with a password the user has since changed. Sign-out revokes the row, so a copied
cookie is worthless from then on. The cookie is set by the HTTP sign-in
(`chat/web/signin.py`), HttpOnly: no JavaScript ever sees it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from chat.db.tables import AuthSession

# `last_seen_at` is written at most this often: a page run is not a database write.
TOUCH_EVERY = timedelta(seconds=60)
# What `new_token` makes: 32 random bytes, base64url without padding.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_mark(password_hash: str) -> str:
    """A short fingerprint of a bcrypt hash: changes whenever the password does."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def well_formed(token: str) -> bool:
    """Whether a cookie's value could be a token at all: anything else is not looked up."""
    return bool(_TOKEN_SHAPE.fullmatch(token))


def create(
    session: Session,
    *,
    token: str,
    username: str,
    password_hash: str,
    address: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    session.add(
        AuthSession(
            token_hash=token_hash(token),
            username=username,
            password_mark=password_mark(password_hash),
            address=address[:64],
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )


def find_live(session: Session, hashed: str, *, now: datetime, policy: SessionPolicy) -> AuthSession | None:
    """The session row, if it is neither revoked, expired nor idle too long."""
    row = session.get(AuthSession, hashed)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.last_seen_at + policy.idle <= now:
        return None
    return row


def touch(session: Session, hashed: str, *, now: datetime) -> bool:
    """Record activity, at most once per `TOUCH_EVERY`. True if a row was written."""
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.token_hash == hashed, AuthSession.last_seen_at < now - TOUCH_EVERY)
        .values(last_seen_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def revoke(session: Session, hashed: str, *, now: datetime) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.token_hash == hashed, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all(session: Session, *, now: datetime) -> int:
    """End every sign-in still open (after a restore, whose rows may include sessions signed out since)."""
    result = session.execute(update(AuthSession).where(AuthSession.revoked_at.is_(None)).values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def remark(session: Session, hashed: str, password_hash: str) -> None:
    """Keep the session that changed the password alive under the new one."""
    session.execute(
        update(AuthSession).where(AuthSession.token_hash == hashed).values(password_mark=password_mark(password_hash))
    )


def last_seen_by_user(session: Session) -> dict[str, datetime]:
    rows = session.execute(
        select(AuthSession.username, func.max(AuthSession.last_seen_at)).group_by(AuthSession.username)
    )
    return {username: seen for username, seen in rows if seen is not None}


def live_for_user(session: Session, username: str, *, now: datetime, policy: SessionPolicy) -> list[AuthSession]:
    """A user's sign-ins still open, most recently used first (the account page lists them)."""
    rows = session.scalars(
        select(AuthSession)
        .where(
            AuthSession.username == username,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            AuthSession.last_seen_at > now - policy.idle,
        )
        .order_by(AuthSession.last_seen_at.desc())
    )
    return list(rows)


def revoke_others(session: Session, username: str, keep: str, *, now: datetime) -> int:
    """End a user's other sign-ins ("sign out everywhere else"); the one keyed `keep` goes on."""
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.username == username, AuthSession.token_hash != keep, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
