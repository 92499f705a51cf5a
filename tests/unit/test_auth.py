"""chat/accounts/auth.py and signins.py without a database: the opaque token, every bent
cookie refused without raising, the dummy hash."""

from __future__ import annotations

import pytest

from chat.accounts import signins
from chat.accounts.auth import dummy_hash
from chat.accounts.authfile import verify_password


def test_tokens_are_random_and_of_one_shape() -> None:
    tokens = {signins.new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(signins.well_formed(token) for token in tokens)
    assert all(len(signins.token_hash(token)) == 64 for token in tokens)


# A JWT of the sign-in before issue 18: its shape alone refuses it now.
OLD_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMCwianRpIjoieCJ9."
    "c2lnbmF0dXJlLW5vdC1jaGVja2Vk"
)
BENT_TOKENS = {
    "empty": "",
    "garbage": "garbage",
    "an old JWT": OLD_JWT,
    "one short": "a" * 42,
    "one long": "a" * 44,
    "padding": "a" * 42 + "=",
    "standard base64": "a" * 42 + "+",
    "a space": "a" * 21 + " " + "a" * 21,
    "a NUL": "a" * 42 + "\x00",
    "a non-ASCII letter": "a" * 42 + "é",
    "a newline": "a" * 43 + "\n",
}


@pytest.mark.parametrize("name", BENT_TOKENS)
def test_bent_tokens_are_not_well_formed(name: str) -> None:
    assert not signins.well_formed(BENT_TOKENS[name])


def test_the_dummy_hash_matches_no_password_at_the_given_cost() -> None:
    assert not verify_password("", dummy_hash(4)) and not verify_password("anything", dummy_hash(4))
    assert dummy_hash(12).startswith("$2b$12$")
