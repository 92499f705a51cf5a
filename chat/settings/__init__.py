"""Every setting Parley reads, each declared once: its variable, type, default, bounds and meaning.

Precedence follows Starlette's `Config`: the process environment beats `.env`, which beats the
defaults here (pydantic-settings' sources, in that order). A blank value means the default, unless
its field keeps blanks. `Settings.from_env` reports every problem at once, each a sentence naming
the variable, so one run of `make run` names all of them. `.env.example` and docs/configuration.md's table
are checked against this declaration (tests/unit/test_settings.py).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUseDefault
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from chat.errors import ConfigError
from chat.settings.attachments import AttachmentSettings
from chat.settings.reading import (
    ENVIRON,
    KEEP_BLANK,
    PROCESS_ONLY,
    WHEN_MISSING,
    CommaList,
    Environment,
    mark,
    sentence,
    split,
    variable,
)
from chat.settings.sso import SingleSignOn

MIN_COOKIE_KEY_LENGTH = 32

# Keys copied from tutorials and templates: a cookie signed with one of these can
# be forged by anyone who has read the same page.
KNOWN_DEFAULT_COOKIE_KEYS = frozenset(
    ["some_key", "some_signature_key", "random_signature_key", "abcdef", "secret", "changeme", "change-me"]
    + ["replace-me", "your-secret-key", "parley-cookie-key", "generated-by-make-run"]
)

COOKIE = "The session cookie's name (`__Host-` is put before it over HTTPS)."


class Settings(SingleSignOn, AttachmentSettings):
    """Parley's configuration: one field per variable, read by `from_env` (single sign-on's are
    declared in chat/settings/sso.py, attachments' in chat/settings/attachments.py)."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, extra="ignore")

    cookie_key: SecretStr = Field(
        validation_alias="PARLEY_COOKIE_KEY",
        description="Keys CSRF tokens and the throttle's records: 32+ random characters, one for all replicas.",
        json_schema_extra={
            WHEN_MISSING: "PARLEY_COOKIE_KEY is not set. `make run` writes a fresh one into .env; or set one "
            'with: python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
        },
    )
    openai_api_key: SecretStr = Field(
        SecretStr(""), validation_alias="OPENAI_API_KEY", description="Key for the OpenAI API (or your server)."
    )
    openai_base_url: str | None = Field(
        None, validation_alias="OPENAI_BASE_URL", description="Any OpenAI-compatible server (http:// or https://)."
    )
    model: str = Field(
        "gpt-4o-mini", validation_alias="PARLEY_MODEL", description="The default model for a new conversation."
    )
    extra_models: CommaList = Field(
        (), validation_alias="PARLEY_MODELS", description="More models offered in the chat screen, comma-separated."
    )
    system_prompt: str = Field(
        "You are a helpful assistant.",
        validation_alias="PARLEY_SYSTEM_PROMPT",
        description="Sent first in every request (blank: none).",
        json_schema_extra={KEEP_BLANK: True},
    )
    request_timeout: float = Field(
        60.0, ge=1, validation_alias="PARLEY_REQUEST_TIMEOUT", description="Seconds to wait for the server, per read."
    )
    connect_timeout: float = Field(
        10.0, ge=0.5, validation_alias="PARLEY_CONNECT_TIMEOUT", description="Seconds to wait for a connection."
    )
    max_retries: int = Field(
        2, ge=0, validation_alias="PARLEY_MAX_RETRIES", description="Retries of a request before its first token."
    )
    reply_deadline: float = Field(
        300.0, ge=1, validation_alias="PARLEY_REPLY_DEADLINE", description="Seconds one reply may take in all."
    )
    max_tokens: int | None = Field(
        None,
        ge=0,
        validation_alias="PARLEY_MAX_TOKENS",
        description="The most tokens a reply may have (blank or 0: the server's own limit).",
    )
    model_titles: bool = Field(
        True,
        validation_alias="PARLEY_MODEL_TITLES",
        description="After a conversation's first reply, ask its model for a short title (false: its first words).",
    )
    database_url: str = Field(
        "sqlite:///data/parley.db", validation_alias="DATABASE_URL", description="The conversation log's database."
    )
    auto_migrate: bool = Field(
        True,
        validation_alias="PARLEY_AUTO_MIGRATE",
        description="Apply pending schema migrations at start (false: refuse to start until `make migrate`).",
    )
    spool_file: Path = Field(
        Path("data/spool.jsonl"),
        validation_alias="PARLEY_SPOOL_FILE",
        description="Where turns the database refuses wait until it takes them again (chat/db/spool.py).",
    )
    auth_file: Path = Field(Path("auth.yaml"), validation_alias="PARLEY_AUTH_FILE", description="The users file.")
    cookie_name: str = Field(
        "parley_session", pattern=r"^[A-Za-z0-9_-]{1,64}$", validation_alias="PARLEY_COOKIE_NAME", description=COOKIE
    )
    session_idle_minutes: float = Field(
        480.0, ge=1, validation_alias="PARLEY_SESSION_IDLE_MINUTES", description="A sign-in ends after this idle time."
    )
    session_days: float = Field(
        7.0, ge=0.01, validation_alias="PARLEY_SESSION_DAYS", description="A sign-in ends this long after it was made."
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        validation_alias="PARLEY_LOGIN_MAX_FAILURES",
        description="Failed sign-ins per username and address in the window before sign-in is refused a while.",
    )
    login_window_minutes: float = Field(
        15.0,
        ge=0.1,
        validation_alias="PARLEY_LOGIN_WINDOW_MINUTES",
        description="The throttle's rolling window, and its longest lock.",
    )
    login_lock_seconds: float = Field(
        30.0,
        ge=0,
        validation_alias="PARLEY_LOGIN_LOCK_SECONDS",
        description="The first lock, doubled for each further failure (at most the window).",
    )
    # Slowed, never refused: one guesser behind an office's NAT must not lock the office out.
    login_address_budget: int = Field(
        20,
        ge=1,
        validation_alias="PARLEY_LOGIN_ADDRESS_BUDGET",
        description="Failed sign-ins from one address in the window (all usernames) before each attempt waits.",
    )
    login_address_delay_seconds: float = Field(
        1.0,
        ge=0,
        validation_alias="PARLEY_LOGIN_ADDRESS_DELAY_SECONDS",
        description="That wait, doubled per failure past the budget (at most ADDRESS_DELAY_CAP).",
    )
    trusted_proxies: CommaList = Field(
        (),
        validation_alias="PARLEY_TRUSTED_PROXIES",
        description="Proxies (addresses or networks) whose X-Forwarded-For is believed; blank: none.",
    )
    forwarded_allow_ips: str | None = Field(
        None,
        validation_alias="FORWARDED_ALLOW_IPS",
        description="uvicorn's own variable as the process saw it at start (None: unset); see chat/accounts/peer.py.",
        # uvicorn reads it before any `.env` is: `from_env` takes it from the process alone.
        json_schema_extra={KEEP_BLANK: True, PROCESS_ONLY: True},
    )
    quota_messages_per_minute: int = Field(
        20,
        ge=0,
        validation_alias="PARLEY_QUOTA_MESSAGES_PER_MINUTE",
        description="Requests to the model per user per minute (0: no limit; auth.yaml may override).",
    )
    quota_tokens_per_day: int = Field(
        1_000_000,
        ge=0,
        validation_alias="PARLEY_QUOTA_TOKENS_PER_DAY",
        description="Tokens per user over the last 24 hours (0: no limit; auth.yaml may override).",
    )
    max_prompt_chars: int = Field(
        16_000, ge=1, validation_alias="PARLEY_MAX_PROMPT_CHARS", description="Longer prompts are refused."
    )
    context_tokens: int = Field(
        16_000,
        ge=256,
        validation_alias="PARLEY_CONTEXT_TOKENS",
        description="The most prompt tokens one request carries; the oldest turns are left out to fit.",
    )
    prices: Annotated[tuple[tuple[str, float, float], ...], NoDecode] = Field(
        (),
        validation_alias="PARLEY_PRICES",
        description="MODEL=INPUT/OUTPUT in USD per million tokens, comma-separated; a model not listed: unknown.",
    )
    max_workers: int = Field(
        32, ge=1, validation_alias="PARLEY_MAX_WORKERS", description="Replies this process writes at once."
    )
    retention_days: int = Field(
        0,
        ge=0,
        validation_alias="PARLEY_RETENTION_DAYS",
        description="The purge removes conversations inactive this many days (0: never).",
    )
    deleted_retention_days: int = Field(
        30,
        ge=0,
        validation_alias="PARLEY_DELETED_RETENTION_DAYS",
        description="Deleted conversations stay this many days for the audit log (0: until the next purge).",
    )
    demo_token_delay: float = Field(
        0.02, ge=0, validation_alias="PARLEY_DEMO_TOKEN_DELAY", description="Seconds between the demo model's tokens."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment beats `.env` beats the defaults (no secrets directory)."""
        return init_settings, Environment(settings_cls), dotenv_settings

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        env_file: str | os.PathLike[str] | None = ".env",
    ) -> Settings:
        """Read settings from `environ` (default: the process) over `env_file`."""
        process = os.environ if environ is None else environ
        # The keyword beats both sources: uvicorn's variable never comes from `.env`.
        arguments: dict[str, Any] = {"_env_file": env_file, "FORWARDED_ALLOW_IPS": process.get("FORWARDED_ALLOW_IPS")}
        token = ENVIRON.set(environ)
        try:
            return cls(**arguments)
        except ValidationError as error:
            problems = "\n- ".join(sentence(detail, cls.variables()) for detail in error.errors(include_url=False))
            # `from None`: pydantic's own text shows the values given, secrets included.
            raise ConfigError("Parley's configuration has problems:\n- " + problems) from None
        finally:
            ENVIRON.reset(token)

    @classmethod
    def variables(cls) -> Iterator[tuple[str, FieldInfo]]:
        """Each variable Parley reads from the environment or `.env`, with its field."""
        for info in cls.model_fields.values():
            if not mark(info, PROCESS_ONLY):
                yield str(info.validation_alias), info

    @property
    def models(self) -> tuple[str, ...]:
        """The models offered in the chat screen: the default first (the server's are added when it answers)."""
        return tuple(dict.fromkeys([self.model, *self.extra_models]))

    @property
    def demo_mode(self) -> bool:
        """No model server is configured: the built-in offline model answers."""
        return not self.openai_api_key and not self.openai_base_url

    def price(self, model: str) -> tuple[float, float] | None:
        """(input, output) USD per million tokens for `model`, or None if unknown."""
        return next(((i, o) for name, i, o in self.prices if name == model), None)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object, info: ValidationInfo) -> object:
        field = cls.model_fields[str(info.field_name)]
        if value is None and field.default is not None:  # a `.env` line without `=`
            raise PydanticUseDefault
        if isinstance(value, str) and not mark(field, KEEP_BLANK):
            value = value.strip()
            if not value:
                raise PydanticUseDefault
        return value

    @field_validator("extra_models", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return split(value) if isinstance(value, str) else value

    @field_validator("cookie_key")
    @classmethod
    def _unguessable(cls, key: SecretStr, info: ValidationInfo) -> SecretStr:
        name, value = variable(cls, info), key.get_secret_value()
        if value.lower() in KNOWN_DEFAULT_COOKIE_KEYS:
            raise ValueError(
                f"{name} is a well-known example value; anyone could forge a sign-in cookie with it. "
                "Generate a random one."
            )
        if len(value) < MIN_COOKIE_KEY_LENGTH:
            raise ValueError(f"{name} is {len(value)} characters long; it must be at least {MIN_COOKIE_KEY_LENGTH}.")
        return key

    @field_validator("openai_base_url")
    @classmethod
    def _http_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"{variable(cls, info)} must start with http:// or https://, not {url!r}.")
        return url

    @field_validator("max_tokens")
    @classmethod
    def _zero_is_no_limit(cls, tokens: int | None) -> int | None:
        return tokens or None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, entries: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        networks: list[str] = []
        problems: list[str] = []
        for entry in entries:
            try:
                networks.append(str(ipaddress.ip_network(entry, strict=False)))
            except ValueError:
                problems.append(f"{variable(cls, info)}: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8).")
        if problems:
            raise ValueError("\n- ".join(problems))
        return tuple(networks)

    @field_validator("prices", mode="before")
    @classmethod
    def _prices(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        prices: list[tuple[str, float, float]] = []
        problems: list[str] = []
        for entry in split(value):
            name, _, pair = entry.rpartition("=")
            costs = pair.split("/")
            try:
                if not name.strip() or len(costs) != 2:
                    raise ValueError
                input_price, output_price = float(costs[0]), float(costs[1])
                if min(input_price, output_price) < 0:
                    raise ValueError
            except ValueError:
                problems.append(
                    f"{variable(cls, info)}: {entry!r} is not MODEL=INPUT/OUTPUT (USD per million tokens, "
                    "e.g. gpt-4o-mini=0.15/0.60)."
                )
                continue
            prices.append((name.strip(), input_price, output_price))
        if problems:
            raise ValueError("\n- ".join(problems))
        return tuple(prices)
