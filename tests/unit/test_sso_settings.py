"""Single sign-on's settings (chat/settings/sso.py): off unless whole, a half one stops start-up."""

from __future__ import annotations

import pytest

from chat.errors import ConfigError
from chat.settings import Settings

KEY = "k" * 40
WHOLE = {
    "PARLEY_COOKIE_KEY": KEY,
    "PARLEY_OIDC_ISSUER": "https://id.example.com/realms/staff",
    "PARLEY_OIDC_CLIENT_ID": "parley",
    "PARLEY_OIDC_CLIENT_SECRET": "s3cret-from-the-provider",
    "PARLEY_PUBLIC_URL": "https://parley.example.com/",
}


def read(**env: str) -> Settings:
    return Settings.from_env(env, env_file=None)


def test_off_by_default_and_on_when_whole() -> None:
    assert not read(PARLEY_COOKIE_KEY=KEY).sso_enabled
    settings = read(
        **WHOLE, PARLEY_OIDC_ALLOWED_DOMAINS="Example.com, @corp.example", PARLEY_OIDC_SCOPES=" openid  email"
    )
    assert settings.sso_enabled and settings.password_signin
    assert settings.sso_redirect_uri == "https://parley.example.com/signin/sso/callback"
    assert settings.oidc_allowed_domains == ("example.com", "corp.example") and settings.oidc_scopes == "openid email"


@pytest.mark.parametrize("left_out", ["PARLEY_OIDC_CLIENT_ID", "PARLEY_OIDC_CLIENT_SECRET", "PARLEY_PUBLIC_URL"])
def test_a_half_configuration_names_what_is_missing(left_out: str) -> None:
    with pytest.raises(ConfigError, match=f"Single sign-on needs {left_out} too"):
        read(**{k: v for k, v in WHOLE.items() if k != left_out})


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("PARLEY_OIDC_ISSUER", "http://id.example.com", "must be an https:// URL"),
        ("PARLEY_PUBLIC_URL", "parley.example.com", "must be an https:// URL"),
        ("PARLEY_OIDC_SCOPES", "email profile", "must include openid"),
    ],
)
def test_addresses_and_scopes_are_checked(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=f"{variable} {says}" if "URL" in says else says):
        read(**{**WHOLE, variable: value})


def test_loopback_may_use_http_and_password_sign_in_may_be_turned_off_only_with_sso() -> None:
    assert read(
        **{**WHOLE, "PARLEY_OIDC_ISSUER": "http://127.0.0.1:9400", "PARLEY_PUBLIC_URL": "http://localhost:8501"}
    )
    assert not read(**WHOLE, PARLEY_PASSWORD_SIGNIN="false").password_signin
    with pytest.raises(ConfigError, match="leaves no way to sign in"):
        read(PARLEY_COOKIE_KEY=KEY, PARLEY_PASSWORD_SIGNIN="false")
