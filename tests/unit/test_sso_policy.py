"""What verified ID-token claims mean to Parley (chat/domain/sso.py, issue 21)."""

from __future__ import annotations

import pytest

from chat.domain.sso import Policy, Refused, judge

ISSUER = "https://id.example.com"


def claims(**extra: object) -> dict[str, object]:
    return {"iss": ISSUER, "sub": "u-1", "email": "Ann@Example.com", "email_verified": True, "name": "Ann"} | extra


def test_a_verified_email_names_the_account_keyed_by_issuer_and_subject() -> None:
    identity = judge(claims(), Policy())
    assert (identity.issuer, identity.subject, identity.username) == (ISSUER, "u-1", "ann@example.com")
    assert identity.email == "ann@example.com" and identity.name == "Ann" and not identity.is_admin


@pytest.mark.parametrize("verified", [False, None, "false", "yes"])
def test_an_unverified_email_names_no_one_and_counts_for_no_list(verified: object) -> None:
    with pytest.raises(Refused, match="not confirmed"):
        judge(claims(email_verified=verified), Policy())  # the email would name the account
    with pytest.raises(Refused, match="not confirmed your email"):
        judge(claims(email_verified=verified), Policy(username_claim="sub", allowed_domains=("example.com",)))
    admin_by_email = Policy(username_claim="sub", admin_emails=("ann@example.com",))
    assert not judge(claims(email_verified=verified), admin_by_email).is_admin


def test_allowed_domains_and_the_required_group_let_in_only_their_own() -> None:
    assert judge(claims(), Policy(allowed_domains=("example.com",))).email == "ann@example.com"
    with pytest.raises(Refused, match="Accounts of example.com may not"):
        judge(claims(), Policy(allowed_domains=("corp.example",)))
    staff = Policy(required_group="staff")
    assert judge(claims(groups=["staff", "x"]), staff).username == "ann@example.com"
    assert judge(claims(groups="x staff"), staff).username == "ann@example.com"  # a space-separated claim
    with pytest.raises(Refused, match="not in the group"):
        judge(claims(groups=["x"]), staff)
    with pytest.raises(Refused, match="not in the group"):
        judge(claims(), staff)


def test_admins_come_from_the_email_list_or_the_group_claim() -> None:
    assert judge(claims(), Policy(admin_emails=("ann@example.com",))).is_admin
    assert judge(claims(roles=["parley-admins"]), Policy(groups_claim="roles", admin_group="parley-admins")).is_admin
    assert not judge(
        claims(groups=["parley-admins"]), Policy(groups_claim="roles", admin_group="parley-admins")
    ).is_admin


def test_another_claim_names_the_account_made_a_usable_username() -> None:
    policy = Policy(username_claim="preferred_username")
    assert judge(claims(preferred_username="  Ann Smith/Ops "), policy).username == "ann-smith-ops"
    with pytest.raises(Refused, match="did not send the 'preferred_username'"):
        judge(claims(), policy)
    with pytest.raises(Refused, match="cannot name an account"):
        judge(claims(preferred_username="///"), policy)


def test_claims_without_issuer_or_subject_are_refused() -> None:
    with pytest.raises(Refused, match="did not say who you are"):
        judge(claims(sub=""), Policy())
    with pytest.raises(Refused, match="did not say who you are"):
        judge({k: v for k, v in claims().items() if k != "iss"}, Policy())
