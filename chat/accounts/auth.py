"""Accounts: signing in and out, resuming a sign-in from its cookie, changing a password.

Who may sign in is `auth.yaml` (streamlit-authenticator's format: bcrypt hashes
under `credentials.usernames`), re-read whenever it changes. Everything else a
login must remember (sessions, failed attempts) is in the database, so it holds
across sessions, processes and replicas. No Streamlit here: `chat/ui/signin.py` draws
the forms and keeps the session's token hash in `st.session_state`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts import peer, signins, sso, throttle
from chat.accounts.attempts import PasswordChecks
from chat.accounts.authfile import (
    User,
    UsersRead,
    check_password,
    edit_auth_file,
    hash_password,
    load_users_keeping_last_good,
)
from chat.db.failures import error_detail
from chat.db.quotas import Quota
from chat.db.tables import AuthSession, SsoAccount, utcnow
from chat.domain.sso import Identity, Refused
from chat.errors import InputError, StorageError
from chat.settings import Settings

log = logging.getLogger(__name__)

WRONG_CREDENTIALS = "Incorrect username or password."
DATABASE_DOWN = "Parley cannot reach its database to check your sign-in. Try again in a moment."


def throttled_message(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    wait = f"{int(seconds) + 1} seconds" if seconds < 60 else f"{minutes} minute{'s' if minutes > 1 else ''}"
    return f"Too many failed sign-ins for this username. Try again in {wait}."


@dataclass(frozen=True)
class SignedIn:
    """Who this page run is for, and the session that vouches for it."""

    username: str
    name: str
    roles: tuple[str, ...]
    session_hash: str
    quota: Quota
    must_change_password: bool = False
    sso: bool = False  # signed in through the identity provider: no password in Parley

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass(frozen=True)
class SignInRecord:
    """One of a user's open sign-ins, as the account page lists it (never its token)."""

    address: str
    signed_in_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool

    @classmethod
    def of(cls, row: AuthSession, *, current: bool) -> SignInRecord:
        return cls(row.address, row.created_at, row.last_seen_at, row.expires_at, current)


@dataclass(frozen=True)
class SignInResult:
    user: SignedIn | None = None
    token: str | None = None  # for the cookie; never stored or logged
    expires_at: datetime | None = None
    error: str | None = None


def dummy_hash(cost: int) -> str:
    """A well-formed bcrypt hash of cost `cost` that no password matches: checking
    an unknown username against it costs what checking a real one does."""
    return f"$2b${cost:02d}$" + "." * 53


class Accounts:
    def __init__(self, settings: Settings, database: sessionmaker[Session]) -> None:
        self.settings = settings
        self.database = database
        self.session_policy = signins.SessionPolicy(
            idle=timedelta(minutes=settings.session_idle_minutes), absolute=timedelta(days=settings.session_days)
        )
        self.throttle_policy = throttle.ThrottlePolicy(
            max_failures=settings.login_max_failures,
            window=timedelta(minutes=settings.login_window_minutes),
            lock=timedelta(seconds=settings.login_lock_seconds),
            address_budget=settings.login_address_budget,
            address_delay=timedelta(seconds=settings.login_address_delay_seconds),
        )
        self.checks = PasswordChecks(database, self.throttle_policy)
        self.forwarding = peer.ForwardingRule.of(settings.forwarded_allow_ips, settings.trusted_proxies)
        if (warning := self.forwarding.warning()) is not None:
            log.warning("%s", warning)

    def users(self) -> dict[str, User]:
        return self.users_read().users

    def users_read(self) -> UsersRead:
        """The users: from auth.yaml or, while it is broken, the last good copy (nobody is
        signed out by a bad edit). Raises ConfigError only when there is no good copy."""
        return load_users_keeping_last_good(self.settings.auth_file)

    def quota(self, user: User) -> Quota:
        return Quota(
            messages_per_minute=(
                self.settings.quota_messages_per_minute
                if user.messages_per_minute is None
                else user.messages_per_minute
            ),
            tokens_per_day=self.settings.quota_tokens_per_day if user.tokens_per_day is None else user.tokens_per_day,
        )

    def default_quota(self) -> Quota:
        """The settings' quota: a user without overrides', an SSO account's."""
        return Quota(self.settings.quota_messages_per_minute, self.settings.quota_tokens_per_day)

    def _account(self, username: str) -> str:
        return throttle.username_key(username, self.settings.cookie_key.get_secret_value())

    def _signed_in(self, user: User, hashed: str) -> SignedIn:
        return SignedIn(
            username=user.username,
            name=user.name,
            roles=user.roles,
            session_hash=hashed,
            quota=self.quota(user),
            must_change_password=user.must_change_password,
        )

    def sign_in(self, raw_username: str, password: str, address: str, *, now: datetime | None = None) -> SignInResult:
        """Check a typed username and password, under the throttle.

        Every path that reaches the password check costs one bcrypt check of the
        usual cost, known username or not. A throttled attempt is refused before
        the check, right password or wrong.
        """
        fixed = now
        clock: Callable[[], datetime] = (lambda: fixed) if fixed is not None else utcnow
        now = clock()
        username = raw_username.strip().lower()
        account = self._account(username)
        users = self.users()
        try:
            attempt = self.checks.begin(account, address, clock)
        except SQLAlchemyError as error:
            log.error("sign-in refused, the database could not be written: %s", error_detail(error))
            return SignInResult(error=DATABASE_DOWN)
        if attempt.id is None:
            log.info("sign-in refused by the throttle (%.0f s left)", attempt.refused_for)
            return SignInResult(error=throttled_message(attempt.refused_for))
        user = users.get(username)
        with self.checks.failed_unless_finished(attempt, account, address):
            self.checks.wait_for_turn(attempt, clock())  # not `now`: waiting for attempts in flight took time
            matches = self.checks.verify(password, user.password_hash if user else dummy_hash(_usual_cost(users)))
        if user is None or not matches:
            try:
                self.checks.finish(attempt, account, address, succeeded=False)
            except SQLAlchemyError as error:
                # The row stays in flight and counts as a failure once it is stale.
                log.error("a failed sign-in could not be recorded: %s", error_detail(error))
            return SignInResult(error=WRONG_CREDENTIALS)
        try:
            with self.database.begin() as session:
                throttle.finish_attempt(session, attempt, account, address, succeeded=True)
                token, expires_at = self._new_session(session, user.username, user.password_hash, address, now)
        except SQLAlchemyError as error:
            log.error("sign-in could not be recorded: %s", error_detail(error))
            return SignInResult(error=DATABASE_DOWN)
        return SignInResult(user=self._signed_in(user, signins.token_hash(token)), token=token, expires_at=expires_at)

    def _new_session(
        self, session: Session, username: str, mark_source: str, address: str, now: datetime
    ) -> tuple[str, datetime]:
        """A sign-in's session row; its token (for the cookie alone) and when it expires. `mark_source`:
        the password hash, or an SSO account's mark (its sessions end when it changes)."""
        token, expires_at = signins.new_token(), now + self.session_policy.absolute
        signins.create(
            session,
            token=token,
            username=username,
            password_hash=mark_source,
            address=address,
            now=now,
            expires_at=expires_at,
        )
        return token, expires_at

    def from_cookie(self, token: str, *, now: datetime | None = None) -> SignedIn | None:
        """The user a cookie's token signs in, if its session is still live."""
        if not signins.well_formed(token):
            return None
        return self.resume(signins.token_hash(token), now=now)

    def resume(self, hashed: str, *, now: datetime | None = None) -> SignedIn | None:
        """The session's user, or None if it was revoked, expired, idle too long, or
        its user was removed or changed password since. Raises StorageError if the
        database cannot be read (a sign-in is never assumed)."""
        now = now or utcnow()
        users = self.users()
        try:
            with self.database() as session:
                row = signins.find_live(session, hashed, now=now, policy=self.session_policy)
                account = sso.account_named(session, row.username) if row and row.username not in users else None
        except SQLAlchemyError as error:
            log.error("could not read a sign-in session: %s", error_detail(error))
            raise StorageError(DATABASE_DOWN) from None
        if row is None:
            return None
        signed = self._resumed(row, users.get(row.username), account, hashed)
        if signed is None:
            return None
        if now - row.last_seen_at < signins.TOUCH_EVERY:
            return signed  # most runs: a read, no write transaction
        try:
            with self.database.begin() as session:
                signins.touch(session, hashed, now=now)
        except SQLAlchemyError as error:
            # Only the idle clock misses a beat; the chat goes on.
            log.warning("could not record sign-in activity: %s", error_detail(error))
        return signed

    def _resumed(self, row: AuthSession, user: User | None, account: SsoAccount | None, hashed: str) -> SignedIn | None:
        """Who a live session's row signs in: a password user whose password is unchanged, or an
        SSO account not blocked whose sign-ins were not ended since (chat/accounts/sso.py)."""
        if user is not None:
            unchanged = row.password_mark == signins.password_mark(user.password_hash)
            return self._signed_in(user, hashed) if unchanged else None
        if account is None or account.blocked_at is not None:
            return None
        if row.password_mark != signins.password_mark(sso.mark_source(account)):
            return None
        return SignedIn(
            username=account.username,
            name=account.name or account.username,
            roles=(account.role,),
            session_hash=hashed,
            quota=self.default_quota(),
            sso=True,
        )

    def sign_in_sso(self, identity: Identity, address: str, *, now: datetime | None = None) -> SignInResult:
        """A sign-in the identity provider vouched for (chat/web/sso.py): the account registered or
        brought up to date, and a session like a password sign-in's. `error` for a refusal."""
        now = now or utcnow()
        for attempt in (1, 2):
            try:
                return self._sign_in_sso(identity, address, now)
            except sso.Raced:  # registered by another replica just now: the second attempt finds it
                if attempt == 2:
                    break
        return SignInResult(error=sso.TAKEN.format(username=identity.username))

    def _sign_in_sso(self, identity: Identity, address: str, now: datetime) -> SignInResult:
        users = self.users()
        try:
            with self.database.begin() as session:
                admitted = sso.admit(session, identity, users, link=self.settings.oidc_link_accounts, now=now)
                token, expires_at = self._new_session(session, admitted.username, admitted.mark_source, address, now)
        except Refused as refused:
            log.info("a sign-in through the identity provider was refused: %s", refused.message)
            return SignInResult(error=refused.message)
        except SQLAlchemyError as error:
            log.error("an SSO sign-in could not be recorded: %s", error_detail(error))
            return SignInResult(error=DATABASE_DOWN)
        hashed = signins.token_hash(token)
        if admitted.linked is not None:
            signed = self._signed_in(admitted.linked, hashed)
        else:
            role = "admin" if admitted.is_admin else "user"
            name = admitted.name or admitted.username
            signed = SignedIn(admitted.username, name, (role,), hashed, self.default_quota(), sso=True)
        return SignInResult(user=signed, token=token, expires_at=expires_at)

    def sign_out(self, hashed: str) -> None:
        """Revoke the session. Raises StorageError if the database cannot record it."""
        try:
            with self.database.begin() as session:
                signins.revoke(session, hashed, now=utcnow())
        except SQLAlchemyError as error:  # translated here, where the database is used
            log.error("sign-out could not be recorded: %s", error_detail(error))
            raise StorageError("Sign-out failed: Parley cannot reach its database. Try again in a moment.") from None

    def sign_ins(self, user: SignedIn, *, now: datetime | None = None) -> list[SignInRecord]:
        """The user's own sign-ins still open, most recently used first; raises StorageError."""
        now = now or utcnow()
        try:
            with self.database() as session:
                rows = signins.live_for_user(session, user.username, now=now, policy=self.session_policy)
                return [SignInRecord.of(row, current=row.token_hash == user.session_hash) for row in rows]
        except SQLAlchemyError as error:
            log.error("could not list a user's sign-ins: %s", error_detail(error))
            raise StorageError(DATABASE_DOWN) from None

    def sign_out_elsewhere(self, user: SignedIn) -> int:
        """End the user's other sign-ins; this one goes on. How many ended; raises StorageError."""
        try:
            with self.database.begin() as session:
                ended = signins.revoke_others(session, user.username, user.session_hash, now=utcnow())
        except SQLAlchemyError as error:
            log.error("could not end a user's other sign-ins: %s", error_detail(error))
            raise StorageError("Parley cannot reach its database to sign you out elsewhere. Try again.") from None
        log.info("a user ended %d other sign-in(s)", ended)
        return ended

    def change_password(self, user: SignedIn, current: str, new: str, repeat: str, address: str) -> SignInResult:
        """Change the signed-in user's own password through the same locked writer as
        the CLI. The current password is required and a wrong one counts as a failed
        sign-in. Every session of the user ends, this one included: it goes on under a new
        token (the result's, for a new cookie), so a copy of the old cookie is worthless.
        A wrong input is an InputError; a database that cannot be reached a StorageError."""
        try:
            return self._change_password(user, current, new, repeat, address)
        except SQLAlchemyError as error:  # translated here, where the database is used
            log.error("a password change could not be completed: %s", error_detail(error))
            raise StorageError(
                "Parley cannot reach its database; your password may not have changed. Try again in a moment."
            ) from None

    def _change_password(self, user: SignedIn, current: str, new: str, repeat: str, address: str) -> SignInResult:
        account = self._account(user.username)
        attempt = self.checks.begin(account, address, utcnow)
        if attempt.id is None:
            raise InputError(throttled_message(attempt.refused_for))
        stored = self.users().get(user.username)
        with self.checks.failed_unless_finished(attempt, account, address):
            self.checks.wait_for_turn(attempt, utcnow())
            matches = stored is not None and self.checks.verify(current, stored.password_hash)
        self.checks.finish(attempt, account, address, succeeded=matches)
        if stored is None or not matches:
            raise InputError("The current password is not right.")
        if new != repeat:
            raise InputError("The new passwords do not match.")
        if new == current:
            raise InputError("The new password must differ from the current one.")
        check_password(new)
        new_hash = hash_password(new)
        with edit_auth_file(self.settings.auth_file) as editor:
            editor.set_password(user.username, new_hash, expected_hash=stored.password_hash)
        log.info("a user changed their password")
        now = utcnow()
        try:
            with self.database.begin() as session:
                signins.revoke(session, user.session_hash, now=now)
                token, expires_at = self._new_session(session, user.username, new_hash, address, now)
        except SQLAlchemyError as error:
            log.error("a changed password's new sign-in could not be recorded: %s", error_detail(error))
            raise InputError(
                "Your password was changed, but Parley could not keep you signed in: sign in with the new one."
            ) from None
        changed = replace(stored, password_hash=new_hash, must_change_password=False)
        return SignInResult(self._signed_in(changed, signins.token_hash(token)), token=token, expires_at=expires_at)


def _usual_cost(users: dict[str, User]) -> int:
    """The bcrypt cost most users' hashes have (12 if there are none)."""
    costs = Counter(int(user.password_hash[4:6]) for user in users.values())
    return costs.most_common(1)[0][0] if costs else 12
