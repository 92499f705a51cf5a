import re
import traceback
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from chat.errors import ConfigError
from chat.settings import Settings

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
    assert settings.openai_api_key.get_secret_value() == "sk-very-secret"
    assert SecretStr("a") == SecretStr("a") and SecretStr("a") != SecretStr("b")


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


# The one declaration against what people read: `.env.example` and docs/configuration.md's table.
ROOT = Path(__file__).resolve().parents[2]
VARIABLES = dict(Settings.variables())
DEFAULTS = Settings.from_env({"PARLEY_COOKIE_KEY": KEY}, env_file=None)


def field_of(variable: str) -> str:
    return next(name for name, info in Settings.model_fields.items() if info.validation_alias == variable)


def read_as(variable: str, text: str) -> object:
    """What Parley makes of `variable=text` (every other setting at its default)."""
    return getattr(Settings.from_env({"PARLEY_COOKIE_KEY": KEY, variable: text}, env_file=None), field_of(variable))


def default_of(variable: str) -> object:
    return getattr(DEFAULTS, field_of(variable))


def test_every_setting_is_declared_with_its_variable_and_a_one_line_description() -> None:
    for name, info in Settings.model_fields.items():
        assert isinstance(info.validation_alias, str), name
        assert info.description and "\n" not in info.description, name
    assert "PARLEY_COOKIE_KEY" in VARIABLES and VARIABLES["PARLEY_COOKIE_KEY"].is_required()
    assert "FORWARDED_ALLOW_IPS" not in VARIABLES  # uvicorn's, read from the process only


def test_env_example_names_every_setting_once_and_nothing_unknown() -> None:
    text = (ROOT / ".env.example").read_text()
    named = re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)  # commented examples count
    assert sorted(named) == sorted(VARIABLES)


def test_env_example_shows_the_defaults() -> None:
    text = (ROOT / ".env.example").read_text()
    for variable, value in re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE):
        if VARIABLES[variable].is_required():
            assert value == "", f"{variable} has no default: .env.example must leave it blank"
        else:
            assert read_as(variable, value) == default_of(variable), variable


def documented_table() -> list[tuple[str, str]]:
    page = (ROOT / "docs" / "configuration.md").read_text()
    section = page.split("## Every setting", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| ([^|]+) \|", section, flags=re.MULTILINE)


def test_the_configuration_page_lists_every_setting_with_its_default() -> None:
    rows = documented_table()
    assert sorted(variable for variable, _ in rows) == sorted(VARIABLES)
    for variable, shown in rows:
        shown = shown.strip()
        if shown == "generated":
            assert VARIABLES[variable].is_required(), variable
        elif shown == "empty":
            assert not default_of(variable), variable
        else:
            assert read_as(variable, shown.strip("`")) == default_of(variable), variable


def test_a_blank_value_is_the_default_except_for_the_system_prompt() -> None:
    settings = Settings.from_env(
        {"PARLEY_COOKIE_KEY": f"  {KEY} ", "PARLEY_MODEL": "  ", "PARLEY_MAX_RETRIES": "", "PARLEY_SYSTEM_PROMPT": ""},
        env_file=None,
    )
    assert settings.cookie_key.get_secret_value() == KEY
    assert (settings.model, settings.max_retries, settings.system_prompt) == ("gpt-4o-mini", 2, "")


def test_a_blank_variable_in_the_environment_still_beats_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"PARLEY_COOKIE_KEY={KEY}\nPARLEY_MODEL=from-file\n")
    assert Settings.from_env({"PARLEY_MODEL": ""}, env_file=env_file).model == "gpt-4o-mini"


def test_the_process_environment_is_read_unless_a_mapping_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"PARLEY_COOKIE_KEY={KEY}\nPARLEY_MODEL=from-file\n")
    monkeypatch.setenv("PARLEY_MODEL", "from-process")
    assert Settings.from_env(env_file=env_file).model == "from-process"
    assert Settings.from_env({}, env_file=env_file).model == "from-file"
    assert Settings.from_env({"PARLEY_COOKIE_KEY": KEY}, env_file=None).model == "gpt-4o-mini"


def test_lists_prices_and_the_token_limit_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "PARLEY_COOKIE_KEY": KEY,
            "PARLEY_MODELS": "llama3, gpt-4o-mini ,,qwen",
            "PARLEY_PRICES": "gpt-4o-mini=0.15/0.60, gpt-4o=2.50/10.00",
            "PARLEY_MAX_TOKENS": "0",
        },
        env_file=None,
    )
    assert settings.models == ("gpt-4o-mini", "llama3", "qwen")
    assert settings.price("gpt-4o") == (2.5, 10.0) and settings.price("llama3") is None
    assert settings.max_tokens is None
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(
            {"PARLEY_COOKIE_KEY": KEY, "PARLEY_PRICES": "a=1,b=-1/2", "PARLEY_AUTO_MIGRATE": "maybe"}, env_file=None
        )
    assert "PARLEY_PRICES: 'a=1' is not MODEL=INPUT/OUTPUT" in refused.value.message
    assert "PARLEY_PRICES: 'b=-1/2' is not MODEL=INPUT/OUTPUT" in refused.value.message
    assert "PARLEY_AUTO_MIGRATE must be true or false, not 'maybe'." in refused.value.message


def test_a_refused_secret_does_not_show_in_the_error_or_its_traceback() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(
            {"PARLEY_COOKIE_KEY": "short-but-secret", "OPENAI_API_KEY": "sk-very-secret", "PARLEY_MAX_RETRIES": "x"},
            env_file=None,
        )
    shown = "".join(traceback.format_exception(refused.value))
    assert "PARLEY_COOKIE_KEY is 16 characters long" in shown
    assert "short-but-secret" not in shown and "sk-very-secret" not in shown


def test_settings_are_a_cache_key_equal_when_read_alike() -> None:
    first = Settings.from_env({"PARLEY_COOKIE_KEY": KEY, "PARLEY_TRUSTED_PROXIES": "10.0.0.1"}, env_file=None)
    again = Settings.from_env({"PARLEY_COOKIE_KEY": KEY, "PARLEY_TRUSTED_PROXIES": "10.0.0.1"}, env_file=None)
    other = Settings.from_env({"PARLEY_COOKIE_KEY": KEY, "PARLEY_MODEL": "other"}, env_file=None)
    assert first == again and hash(first) == hash(again)
    assert first != other
    with pytest.raises(ValidationError):
        first.model = "changed"  # type: ignore[misc]


def test_a_name_without_a_value_in_env_file_is_the_default(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"PARLEY_COOKIE_KEY={KEY}\nPARLEY_MODEL\nOPENAI_BASE_URL\n")
    settings = Settings.from_env({}, env_file=env_file)
    assert (settings.model, settings.openai_base_url) == ("gpt-4o-mini", None)
    env_file.write_text("PARLEY_COOKIE_KEY\n")
    with pytest.raises(ConfigError, match="PARLEY_COOKIE_KEY is not set"):
        Settings.from_env({}, env_file=env_file)
