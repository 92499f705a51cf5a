"""chat/accounts/auth.py and signins.py without a database: the signed token, every bent one refused
without raising, the dummy hash."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest

from chat.accounts import signins
from chat.accounts.auth import dummy_hash
from chat.accounts.authfile import verify_password
from chat.db.tables import utcnow
from tests.conftest import TEST_COOKIE_KEY

NOW = utcnow()


def test_a_good_token_names_its_user() -> None:
    token, _ = signins.new_token("alice", TEST_COOKIE_KEY, now=NOW, lifetime=timedelta(days=1))
    assert signins.token_username(token, TEST_COOKIE_KEY, now=NOW) == "alice"


def forged(claims: dict, key: str = TEST_COOKIE_KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def alg_none(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


FUTURE = int(NOW.timestamp()) + 3600


BENT_TOKENS = {
    "wrong signature": forged({"sub": "alice", "exp": FUTURE, "jti": "x"}, key="another-key-0123456789-abcdefghijk"),
    "another algorithm": forged({"sub": "alice", "exp": FUTURE, "jti": "x"}, algorithm="HS512"),
    "alg none": alg_none({"sub": "alice", "exp": FUTURE, "jti": "x"}),
    "garbage": "garbage",
    "three dots": "a.b.c",
    "no expiry": forged({"sub": "alice", "jti": "x"}),
    "text expiry": forged({"sub": "alice", "exp": "tomorrow", "jti": "x"}),
    "boolean expiry": forged({"sub": "alice", "exp": True, "jti": "x"}),
    "expired": forged({"sub": "alice", "exp": int(NOW.timestamp()) - 1, "jti": "x"}),
    "no user": forged({"exp": FUTURE, "jti": "x"}),
    "no session id": forged({"sub": "alice", "exp": FUTURE}),
}


@pytest.mark.parametrize("name", BENT_TOKENS)
def test_bent_tokens_are_refused_without_raising(name: str) -> None:
    assert signins.token_username(BENT_TOKENS[name], TEST_COOKIE_KEY, now=NOW) is None


def test_the_dummy_hash_matches_no_password_at_the_given_cost() -> None:
    assert not verify_password("", dummy_hash(4)) and not verify_password("anything", dummy_hash(4))
    assert dummy_hash(12).startswith("$2b$12$")
