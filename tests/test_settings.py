from pathlib import Path

import pytest

from chat.errors import ConfigError
from chat.settings import Secret, Settings

KEY = "k" * 40


def test_defaults_need_only_a_cookie_key() -> None:
    settings = Settings.from_env({"PARLEY_COOKIE_KEY": KEY}, env_file=None)
    assert settings.model == "gpt-4o-mini"
    assert settings.database_url == "sqlite:///data/parley.db"
    assert settings.max_retries == 2
    assert settings.demo_mode


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("", "PARLEY_COOKIE_KEY is not set"),
        ("short-key", "it must be at least 32"),
        ("some_key", "well-known example value"),
        ("   ", "PARLEY_COOKIE_KEY is not set"),
    ],
)
def test_cookie_key_missing_short_or_default_is_refused(key: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Settings.from_env({"PARLEY_COOKIE_KEY": key}, env_file=None)


def test_environment_beats_env_file_which_beats_defaults(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"PARLEY_COOKIE_KEY={KEY}\nPARLEY_MODEL=from-file\nPARLEY_MAX_RETRIES=5\n")
    settings = Settings.from_env({"PARLEY_MODEL": "from-env"}, env_file=env_file)
    assert settings.model == "from-env"
    assert settings.max_retries == 5
    assert settings.request_timeout == 60.0


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {"PARLEY_REQUEST_TIMEOUT": "soon", "PARLEY_MAX_RETRIES": "-1", "OPENAI_BASE_URL": "localhost:11434"},
            env_file=None,
        )
    message = caught.value.message
    for name in ("PARLEY_COOKIE_KEY", "PARLEY_REQUEST_TIMEOUT", "PARLEY_MAX_RETRIES", "OPENAI_BASE_URL"):
        assert name in message


def test_base_url_without_key_is_not_demo_mode() -> None:
    settings = Settings.from_env(
        {"PARLEY_COOKIE_KEY": KEY, "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, env_file=None
    )
    assert not settings.demo_mode
    assert not settings.openai_api_key


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings.from_env({"PARLEY_COOKIE_KEY": KEY, "OPENAI_API_KEY": "sk-very-secret"}, env_file=None)
    text = repr(settings) + str(settings)
    assert KEY not in text and "sk-very-secret" not in text
    assert settings.openai_api_key.reveal() == "sk-very-secret"
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


def test_account_settings_have_safe_defaults_and_are_checked() -> None:
    settings = Settings.from_env({"PARLEY_COOKIE_KEY": KEY}, env_file=None)
    assert (settings.session_idle_minutes, settings.session_days) == (480, 7)
    assert (settings.login_max_failures, settings.login_window_minutes, settings.login_lock_seconds) == (5, 15, 30)
    assert settings.trusted_proxies == ()  # no proxy header is believed unless configured
    assert (settings.quota_messages_per_minute, settings.quota_tokens_per_day) == (20, 1_000_000)
    proxied = Settings.from_env(
        {"PARLEY_COOKIE_KEY": KEY, "PARLEY_TRUSTED_PROXIES": "10.0.0.1, 172.16.0.0/12"}, env_file=None
    )
    assert proxied.trusted_proxies == ("10.0.0.1/32", "172.16.0.0/12")
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(
            {"PARLEY_COOKIE_KEY": KEY, "PARLEY_TRUSTED_PROXIES": "proxy.local", "PARLEY_LOGIN_MAX_FAILURES": "0"},
            env_file=None,
        )
    assert "PARLEY_TRUSTED_PROXIES: 'proxy.local'" in refused.value.message
    assert "PARLEY_LOGIN_MAX_FAILURES must be at least 1" in refused.value.message


def test_the_address_budget_has_defaults_and_is_checked() -> None:
    settings = Settings.from_env({"PARLEY_COOKIE_KEY": KEY}, env_file=None)
    assert (settings.login_address_budget, settings.login_address_delay_seconds) == (20, 1.0)
    with pytest.raises(ConfigError, match="PARLEY_LOGIN_ADDRESS_BUDGET must be at least 1"):
        Settings.from_env({"PARLEY_COOKIE_KEY": KEY, "PARLEY_LOGIN_ADDRESS_BUDGET": "0"}, env_file=None)


def test_uvicorns_forwarded_allow_ips_is_read_from_the_process_never_from_env_file(tmp_path: Path) -> None:
    # uvicorn reads it from the environment when the server starts, before any .env is read.
    env_file = tmp_path / ".env"
    env_file.write_text("FORWARDED_ALLOW_IPS=10.0.0.0/8\n")
    assert Settings.from_env({"PARLEY_COOKIE_KEY": KEY}, env_file=env_file).forwarded_allow_ips is None
    process = {"PARLEY_COOKIE_KEY": KEY, "FORWARDED_ALLOW_IPS": ""}
    assert Settings.from_env(process, env_file=env_file).forwarded_allow_ips == ""
