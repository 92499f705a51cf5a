import base64
import json
import time

import jwt

from chat.auth import cookie_username

KEY = "test-cookie-key-0123456789-abcdefghijklmnop"
USERS = {"alice"}


def token(claims: dict, key: str = KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def test_a_good_cookie_names_its_user() -> None:
    assert cookie_username(token({"username": "alice", "exp_date": time.time() + 60}), KEY, USERS) == "alice"


def test_bent_cookies_are_refused_without_raising() -> None:
    future = time.time() + 60
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps({"username": "alice", "exp_date": future}).encode()).rstrip(b"=")
    bent = [
        token({"username": "alice", "exp_date": future}, key="another-key-0123456789-abcdefghijklmnop"),
        token({"username": "alice", "exp_date": future}, algorithm="HS512"),
        (header + b"." + body + b".").decode(),  # alg: none
        "garbage",
        token({"username": "alice"}),  # no expiry
        token({"username": "alice", "exp_date": "tomorrow"}),
        token({"username": "alice", "exp_date": time.time() - 1}),  # expired
        token({"username": "mallory", "exp_date": future}),  # unknown user
        token({"exp_date": future}),
    ]
    for cookie in bent:
        assert cookie_username(cookie, KEY, USERS) is None, cookie
