"""The accounts of people who sign in through the identity provider (chat/accounts/sso.py, issue
21): registered at their first sign-in, keyed by issuer and subject, their role following the
provider, their sessions those of a password sign-in, ended or blocked by an admin at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts import sso
from chat.accounts.auth import Accounts
from chat.accounts.authfile import edit_auth_file, hash_password
from chat.db import store
from chat.db.tables import AuditEvent, new_id, utcnow
from chat.domain.records import ConversationRecord
from chat.domain.sso import Identity
from tests.conftest import make_settings

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

ISSUER = "https://id.example.com"


def identity(subject: str = "u-1", username: str = "ann@example.com", *, admin: bool = False) -> Identity:
    return Identity(ISSUER, subject, username, "Ann", username if "@" in username else None, admin)


@pytest.fixture
def accounts(tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]) -> Accounts:
    return Accounts(make_settings(tmp_path), sessions)


def test_a_first_sign_in_registers_the_account_and_its_session_resumes(accounts: Accounts) -> None:
    result = accounts.sign_in_sso(identity(), "10.0.0.1")
    assert result.user is not None and result.token is not None, result.error
    assert (result.user.username, result.user.roles, result.user.sso) == ("ann@example.com", ("user",), True)
    resumed = accounts.from_cookie(result.token)
    assert resumed is not None and resumed.username == "ann@example.com" and resumed.sso and resumed.name == "Ann"
    assert resumed.quota.messages_per_minute == accounts.settings.quota_messages_per_minute


def test_the_role_follows_the_provider_at_each_sign_in_and_in_running_sessions(accounts: Accounts) -> None:
    first = accounts.sign_in_sso(identity(admin=True), "10.0.0.1")
    assert first.user is not None and first.user.is_admin and first.token
    again = accounts.sign_in_sso(identity(admin=False), "10.0.0.1")
    assert again.user is not None and not again.user.is_admin
    resumed = accounts.from_cookie(first.token)  # the earlier session reads the account as it is now
    assert resumed is not None and not resumed.is_admin


def test_the_account_is_its_issuer_and_subject_never_its_name_alone(accounts: Accounts) -> None:
    assert accounts.sign_in_sso(identity("u-1", "ann@example.com"), "10.0.0.1").user is not None
    # Another identity asking for the same name is refused, not let into Ann's account.
    taken = accounts.sign_in_sso(identity("u-2", "ann@example.com"), "10.0.0.1")
    assert taken.user is None and "already another Parley account's" in str(taken.error)
    # The same identity under a new email keeps its account (and its conversations' name).
    renamed = accounts.sign_in_sso(identity("u-1", "ann.new@example.com"), "10.0.0.1")
    assert renamed.user is not None and renamed.user.username == "ann@example.com"


def test_an_identity_never_takes_over_a_password_user_unless_linked_by_verified_email(
    tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]
) -> None:
    with edit_auth_file(auth_file) as users:
        users.add("carol@example.com", hash_password("carol-password-1"), name="Carol", roles=["user"])
    plain = Accounts(make_settings(tmp_path), sessions)
    refused = plain.sign_in_sso(identity("u-9", "carol@example.com"), "10.0.0.1")
    assert refused.user is None and "signs in with a password" in str(refused.error)
    linked = Accounts(make_settings(tmp_path, PARLEY_OIDC_LINK_ACCOUNTS="true"), sessions)
    result = linked.sign_in_sso(identity("u-9", "carol@example.com"), "10.0.0.1")
    assert result.user is not None and result.user.username == "carol@example.com" and not result.user.sso
    assert result.token and linked.from_cookie(result.token) is not None
    assert linked.sign_in("carol@example.com", "carol-password-1", "10.0.0.1").user is not None  # still works
    # A name that is not a verified email (a claim its owner chose, or one rewritten to fit) links no one.
    taken_over = linked.sign_in_sso(Identity(ISSUER, "u-10", "alice", "Mallory", None, True), "10.0.0.1")
    assert taken_over.user is None and "signs in with a password" in str(taken_over.error)


def test_a_name_whose_conversations_outlived_its_user_is_not_handed_to_a_newcomer(
    accounts: Accounts, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        record = ConversationRecord(
            id=new_id(),
            username="gone@example.com",
            title="Old",
            model="m",
            system_prompt="",
            temperature=None,
            created_at=utcnow(),
        )
        store.create_conversation(session, record)
    refused = accounts.sign_in_sso(identity("u-5", "gone@example.com"), "10.0.0.1")
    assert refused.user is None and "already another Parley account's" in str(refused.error)


def test_first_sign_ins_of_one_person_at_once_all_land_in_one_account(
    accounts: Accounts, sessions: sessionmaker[Session]
) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: accounts.sign_in_sso(identity(), "10.0.0.1"), range(4)))
    assert [r.error for r in results] == [None] * 4
    with sessions() as session:
        assert [a.username for a in sso.accounts(session)] == ["ann@example.com"]
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "ann@example.com")).all()
        assert actions == ["sso_register"]  # registered once, in the audit log


def test_ending_sign_ins_or_blocking_takes_effect_at_once_and_a_blocked_identity_cannot_return(
    accounts: Accounts, sessions: sessionmaker[Session]
) -> None:
    first = accounts.sign_in_sso(identity(), "10.0.0.1")
    assert first.token is not None
    with sessions.begin() as session:
        assert sso.end_sign_ins(session, "ann@example.com")
    assert accounts.from_cookie(first.token) is None
    second = accounts.sign_in_sso(identity(), "10.0.0.1")
    assert second.token is not None and accounts.from_cookie(second.token) is not None
    with sessions.begin() as session:
        assert sso.end_sign_ins(session, "ann@example.com", block_at=utcnow())
    assert accounts.from_cookie(second.token) is None
    blocked = accounts.sign_in_sso(identity(), "10.0.0.1")
    assert blocked.user is None and "blocked" in str(blocked.error)
    with sessions.begin() as session:
        assert sso.unblock(session, "ann@example.com") and not sso.end_sign_ins(session, "nobody")
    assert accounts.sign_in_sso(identity(), "10.0.0.1").user is not None
