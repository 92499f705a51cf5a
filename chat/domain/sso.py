"""Who an identity provider says someone is, and whether Parley lets them in (issue 21).

The ID token's claims have been verified before they come here (signature, issuer, audience,
expiry, nonce: chat/accounts/oidc.py); this decides what they mean. An account is keyed by
its issuer and subject, never by its email alone; an email counts (for the domain and admin
lists) only when the provider says it has verified it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

USERNAME_LENGTH = 64  # what Parley's username columns hold
_USABLE = re.compile(r"[^a-z0-9_.@+-]+")


class Refused(Exception):
    """The provider signed someone in whom Parley does not let in: `message` says why, to them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Policy:
    """Who may come in through single sign-on, and who is an admin (the settings' words)."""

    username_claim: str = "email"
    allowed_domains: tuple[str, ...] = ()  # empty: any domain
    required_group: str | None = None
    groups_claim: str = "groups"
    admin_emails: tuple[str, ...] = ()
    admin_group: str | None = None


@dataclass(frozen=True)
class Identity:
    """Someone the provider signed in and Parley lets in."""

    issuer: str
    subject: str
    username: str  # what Parley calls them (unique: checked where accounts are kept)
    name: str
    email: str | None  # verified by the provider, else None
    is_admin: bool


def judge(claims: Mapping[str, object], policy: Policy) -> Identity:
    """The identity the verified `claims` name, if the policy lets it in; else `Refused`."""
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not issuer or not isinstance(subject, str) or not subject:
        raise Refused("The identity provider did not say who you are (no issuer or subject).")
    email = verified_email(claims)
    groups = _groups(claims, policy.groups_claim)
    if policy.allowed_domains:
        if email is None:
            raise Refused(
                "Your identity provider has not confirmed your email address, and Parley lets in only "
                "addresses of certain domains. Ask your administrator."
            )
        if email.rpartition("@")[2] not in policy.allowed_domains:
            raise Refused(f"Accounts of {email.rpartition('@')[2]} may not use this Parley. Ask your administrator.")
    if policy.required_group is not None and policy.required_group not in groups:
        raise Refused("Your account is not in the group allowed to use this Parley. Ask your administrator.")
    is_admin = (email is not None and email in policy.admin_emails) or (
        policy.admin_group is not None and policy.admin_group in groups
    )
    return Identity(issuer, subject, _username(claims, policy, email), _name(claims), email, is_admin)


def verified_email(claims: Mapping[str, object]) -> str | None:
    """The email, lower-cased, if the provider says it verified it (some send "true" as text)."""
    email, verified = claims.get("email"), claims.get("email_verified")
    if isinstance(email, str) and "@" in email and verified in (True, "true"):
        return email.strip().lower()
    return None


def _groups(claims: Mapping[str, object], claim: str) -> frozenset[str]:
    value = claims.get(claim)
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()


def _username(claims: Mapping[str, object], policy: Policy, email: str | None) -> str:
    """The claim that names the user, made a usable username. An email claim counts only
    verified: anyone can type any address into an account at many providers."""
    if policy.username_claim == "email":
        value: object = email
    else:
        value = claims.get(policy.username_claim)
    if not isinstance(value, str):
        raise Refused(
            f"Your identity provider did not send the {policy.username_claim!r} Parley names you by"
            + (" (or has not confirmed it)." if policy.username_claim == "email" else ".")
        )
    username = _USABLE.sub("-", value.strip().lower()).strip("-._")[:USERNAME_LENGTH]
    if not username:
        raise Refused(f"Your {policy.username_claim!r} cannot name an account in Parley.")
    return username


def _name(claims: Mapping[str, object]) -> str:
    for claim in ("name", "preferred_username", "email"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return ""
