"""Sign-in sessions: the cookie's token, and the server-side row that must vouch for it.

The cookie holds a JWT (HS256, signed with PARLEY_COOKIE_KEY) naming the user, its
expiry and a random id. A valid signature is not enough: the SHA-256 of the token
must name a row of `auth_sessions` that is not revoked, not expired, not idle for
too long, and made with the user's current password. Sign-out revokes the row, so
a copied cookie is worthless from then on.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from chat.db.tables import AuthSession

TOKEN_ALGORITHM = "HS256"
# `last_seen_at` is written at most this often: a page run is not a database write.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_mark(password_hash: str) -> str:
    """A short fingerprint of a bcrypt hash: changes whenever the password does."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def new_token(username: str, key: str, *, now: datetime, lifetime: timedelta) -> tuple[str, datetime]:
    expires = now + lifetime
    claims = {
        "sub": username,
        "jti": secrets.token_urlsafe(32),
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(claims, key, algorithm=TOKEN_ALGORITHM), expires


def token_id(token: str) -> str | None:
    """The token's `jti`, read without checking its signature: only to name which cookie a
    delete means (never to sign anyone in)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    jti = claims.get("jti")
    return jti if isinstance(jti, str) else None


def token_username(token: str, key: str, *, now: datetime) -> str | None:
    """The username a cookie's token names, if its signature, algorithm and expiry hold.

    Anything else (another key or algorithm, `alg: none`, garbage, a missing or
    malformed expiry, an expired one) is None, never an exception.
    """
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[TOKEN_ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp", "jti"]},
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    username, expires = claims.get("sub"), claims.get("exp")
    if not isinstance(username, str) or not username or isinstance(expires, bool):
        return None
    if not isinstance(expires, int | float) or expires <= now.timestamp():
        return None
    return username


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
