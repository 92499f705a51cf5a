"""The accounts of people who sign in through the identity provider (issue 21).

They live in the database (`sso_accounts`), not in auth.yaml, which replicas cannot all write. An
account is keyed by the provider's issuer and subject; its username, fixed at the first sign-in,
is what the rest of Parley knows it by. Its role follows the provider at every sign-in. Its sign-in
sessions are the password sign-in's (`auth_sessions`, the same cookie), their mark taken from the
account's own `mark` where a password user's comes from the password hash: a new mark (an admin
ending its sign-ins, or blocking it) ends them all, on every replica at once.

An identity never takes over an auth.yaml user of the same name, unless
`PARLEY_OIDC_LINK_ACCOUNTS` says the two are one person: it then signs in as that user.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts.authfile import User
from chat.db.failures import error_detail
from chat.db.tables import AuditEvent, Conversation, SsoAccount, utcnow
from chat.domain.sso import Identity, Policy, Refused
from chat.errors import StorageError
from chat.settings import Settings

NO_PASSWORD = (
    "You sign in through your organisation's identity provider, so you have no password in Parley: change it there."
)
BLOCKED = "Your Parley account is blocked. Ask an administrator if you think this is a mistake."
TAKEN = "The name {username} is already another Parley account's, so this sign-in cannot have it. Ask an administrator."
PASSWORD_USER = (
    "The name {username} belongs to a Parley account that signs in with a password. Sign in with that, "
    "or ask an administrator to link the two."
)


def policy_of(settings: Settings) -> Policy:
    return Policy(
        username_claim=settings.oidc_username_claim,
        allowed_domains=settings.oidc_allowed_domains,
        required_group=settings.oidc_required_group,
        groups_claim=settings.oidc_groups_claim,
        admin_emails=settings.oidc_admin_emails,
        admin_group=settings.oidc_admin_group,
    )


@dataclass(frozen=True)
class Admitted:
    """Whom a sign-in through the provider signs in: an account of its own, or (linked) an
    auth.yaml user; `mark_source` stands where a password hash would in the session's mark."""

    username: str
    name: str
    is_admin: bool
    mark_source: str
    linked: User | None = None


def mark_source(account: SsoAccount) -> str:
    return f"sso:{account.mark}"


def admit(session: Session, identity: Identity, users: Mapping[str, User], *, link: bool, now: datetime) -> Admitted:
    """Register the identity at its first sign-in, or bring its account up to date; `Refused`
    for a blocked identity or a name that is someone else's."""
    account = session.scalar(
        select(SsoAccount)
        .where(SsoAccount.issuer == identity.issuer, SsoAccount.subject == identity.subject)
        .with_for_update()
    )
    username = account.username if account is not None else identity.username
    if account is not None and account.blocked_at is not None:
        raise Refused(BLOCKED)
    if username in users:  # a password user's name (since, perhaps, the account was made)
        # Linked only by a verified email that is the name exactly: a name rewritten to fit
        # ("Admin!" made "admin") or chosen by its owner at the provider links no one.
        if not link or identity.email != username:
            raise Refused(PASSWORD_USER.format(username=username))
        user = users[username]
        return Admitted(user.username, user.name, user.is_admin, user.password_hash, linked=user)
    role = "admin" if identity.is_admin else "user"
    if account is None:
        account = _register(session, identity, username, now)
    elif account.role != role:
        session.add(AuditEvent(actor=username, action=f"sso_role_{role}", target=identity.issuer[:200]))
    account.name, account.email, account.role, account.last_signin_at = identity.name, identity.email, role, now
    session.flush()
    return Admitted(account.username, account.name, identity.is_admin, mark_source(account))


class Raced(Exception):
    """Another replica registered the same identity or name in the same moment: try once more."""


def _register(session: Session, identity: Identity, username: str, now: datetime) -> SsoAccount:
    """A new account for `identity`, unless its name is taken: by another account, or by the data
    of a user who is gone (their conversations would become this one's)."""
    holder = session.get(SsoAccount, username)
    if holder is not None and (holder.issuer, holder.subject) == (identity.issuer, identity.subject):
        raise Raced  # this identity, registered since this sign-in looked (SQLite reads without locks)
    owned = session.scalar(select(Conversation.id).where(Conversation.username == username).limit(1))
    if holder is not None or owned is not None:
        raise Refused(TAKEN.format(username=username))
    account = SsoAccount(
        username=username, issuer=identity.issuer, subject=identity.subject, mark=_new_mark(), created_at=now
    )
    session.add(account)
    session.add(AuditEvent(actor=username, action="sso_register", target=identity.issuer[:200]))
    try:
        session.flush()
    except IntegrityError:
        raise Raced from None
    return account


def account_named(session: Session, username: str) -> SsoAccount | None:
    return session.get(SsoAccount, username)


def end_sign_ins(session: Session, username: str, *, block_at: datetime | None = None) -> bool:
    """End every sign-in of the account now (a new mark); with `block_at`, block it too. False if
    there is no such account."""
    values: dict[str, object] = {"mark": _new_mark()}
    if block_at is not None:
        values["blocked_at"] = block_at
    done = session.execute(update(SsoAccount).where(SsoAccount.username == username).values(**values))
    return done.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def unblock(session: Session, username: str) -> bool:
    done = session.execute(update(SsoAccount).where(SsoAccount.username == username).values(blocked_at=None))
    return done.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def accounts(session: Session) -> list[SsoAccount]:
    return list(session.scalars(select(SsoAccount).order_by(SsoAccount.username)))


@dataclass(frozen=True)
class AccountView:
    """An SSO account as the admin page lists it."""

    username: str
    name: str
    email: str | None
    role: str
    issuer: str
    last_signin_at: datetime
    blocked: bool


class SsoAdmin:
    """What an admin does to SSO accounts, each change in the audit log with who did it."""

    def __init__(self, database: sessionmaker[Session]) -> None:
        self._database = database

    def accounts(self) -> list[AccountView]:
        with self._database() as session:
            return [
                AccountView(a.username, a.name, a.email, a.role, a.issuer, a.last_signin_at, a.blocked_at is not None)
                for a in accounts(session)
            ]

    def end_sign_ins(self, actor: str, username: str) -> bool:
        return self._change(actor, username, "sso_end_sign_ins", lambda s: end_sign_ins(s, username))

    def block(self, actor: str, username: str) -> bool:
        return self._change(actor, username, "sso_block", lambda s: end_sign_ins(s, username, block_at=utcnow()))

    def unblock(self, actor: str, username: str) -> bool:
        return self._change(actor, username, "sso_unblock", lambda s: unblock(s, username))

    def _change(self, actor: str, username: str, action: str, change: Callable[[Session], bool]) -> bool:
        """False if there is no such account. Raises StorageError if the database refuses."""
        try:
            with self._database.begin() as session:
                done = change(session)
                if done:
                    session.add(AuditEvent(actor=actor, action=action, target=username[:200]))
                return done
        except SQLAlchemyError as error:
            raise StorageError(f"The change could not be saved: {error_detail(error)}.") from None


def _new_mark() -> str:
    return secrets.token_hex(8)
