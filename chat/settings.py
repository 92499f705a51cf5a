"""Every setting Parley reads, validated once.

Precedence follows Starlette's `Config`: the process environment beats `.env`,
which beats the defaults here. `Settings.from_env` collects every problem before
failing, so one run of `make run` names all of them at once.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dotenv import dotenv_values

from chat.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///data/parley.db"
MIN_COOKIE_KEY_LENGTH = 32

# Keys copied from tutorials and templates: a cookie signed with one of these can
# be forged by anyone who has read the same page.
KNOWN_DEFAULT_COOKIE_KEYS = frozenset(
    {
        "some_key",
        "some_signature_key",
        "random_signature_key",
        "abcdef",
        "secret",
        "changeme",
        "change-me",
        "replace-me",
        "your-secret-key",
        "parley-cookie-key",
        "generated-by-make-run",
    }
)


class Secret:
    """A string that does not show itself in `repr`, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    cookie_key: Secret
    openai_api_key: Secret = field(default_factory=lambda: Secret(""))
    openai_base_url: str | None = None
    model: str = "gpt-4o-mini"
    # Models offered in the chat screen (the server's /v1/models are added when it answers).
    models: tuple[str, ...] = ()
    system_prompt: str = "You are a helpful assistant."
    request_timeout: float = 60.0
    connect_timeout: float = 10.0
    max_retries: int = 2
    database_url: str = DEFAULT_DATABASE_URL
    # Apply pending schema migrations at start (False: refuse to start until `make migrate`).
    auto_migrate: bool = True
    # Turns the database refuses (locked, read-only, unreachable) wait here, on disk, until it
    # takes them again (chat/spool.py).
    spool_file: Path = Path("data/spool.jsonl")
    auth_file: Path = Path("auth.yaml")
    cookie_name: str = "parley_auth"
    # A sign-in ends after this long without a page run (idle), and in any case after
    # `session_days` (absolute).
    session_idle_minutes: float = 480.0
    session_days: float = 7.0
    # Failed sign-ins per username and address within the window before sign-in is
    # refused for `login_lock_seconds`, doubled for each further failure (at most
    # the window).
    login_max_failures: int = 5
    login_window_minutes: float = 15.0
    login_lock_seconds: float = 30.0
    # Failed sign-ins from one address within the window, all usernames together, before
    # each further attempt from it waits `login_address_delay_seconds`, doubled per failure
    # past the budget (at most ADDRESS_DELAY_CAP). Slowed, never refused: one guesser behind
    # an office's NAT must not lock the office out (password spraying).
    login_address_budget: int = 20
    login_address_delay_seconds: float = 1.0
    # Proxies whose X-Forwarded-For is believed (addresses or networks). Empty: the
    # peer address is the client's.
    trusted_proxies: tuple[str, ...] = ()
    # uvicorn's own FORWARDED_ALLOW_IPS, as the process saw it when the server started
    # (None: unset, uvicorn's default). Only the process environment: uvicorn reads it
    # before any `.env` is. See chat/peer.py.
    forwarded_allow_ips: str | None = None
    # Per-user defaults (0: no limit); `auth.yaml` may override them per user.
    quota_messages_per_minute: int = 20
    quota_tokens_per_day: int = 1_000_000
    max_prompt_chars: int = 16_000
    # The most prompt tokens one request may carry: older turns are left out to fit.
    context_tokens: int = 16_000
    # USD per million tokens, input and output, by model name. A model not listed has
    # an unknown cost (never $0).
    prices: tuple[tuple[str, float, float], ...] = ()
    # The most tokens a reply may have (sent as max_tokens); None: the server's own limit.
    max_tokens: int | None = None
    # Seconds one reply may take from the request to its end, however it streams.
    reply_deadline: float = 300.0
    # Replies written at once by this process (each a worker thread); more are refused.
    max_workers: int = 32
    # The purge (`python -m chat purge`) removes conversations inactive for this
    # many days (0: never), and those their owners deleted after `deleted_retention_days`
    # (kept that long for the audit log; 0: at the next purge).
    retention_days: int = 0
    deleted_retention_days: int = 30
    demo_token_delay: float = 0.02

    def price(self, model: str) -> tuple[float, float] | None:
        """(input, output) USD per million tokens for `model`, or None if unknown."""
        return next(((i, o) for name, i, o in self.prices if name == model), None)

    @property
    def demo_mode(self) -> bool:
        """No model server is configured: the built-in offline model answers."""
        return not self.openai_api_key and not self.openai_base_url

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        env_file: str | os.PathLike[str] | None = ".env",
    ) -> Settings:
        """Read settings from `environ` (default: the process) over `env_file`."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        process = os.environ if environ is None else environ
        values.update(process)
        return replace(_parse(values), forwarded_allow_ips=process.get("FORWARDED_ALLOW_IPS"))


def _parse(env: Mapping[str, str]) -> Settings:
    problems: list[str] = []

    def text(name: str, default: str) -> str:
        value = env.get(name, "").strip()
        return value or default

    def flag(name: str, default: bool) -> bool:
        raw = env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        problems.append(f"{name} must be true or false, not {raw!r}.")
        return default

    def number(name: str, default: float, *, minimum: float, integer: bool = False) -> float:
        raw = env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            problems.append(f"{name} must be {kind}, not {raw!r}.")
            return default
        if value < minimum:
            problems.append(f"{name} must be at least {minimum:g}, not {raw}.")
            return default
        return value

    cookie_key = env.get("PARLEY_COOKIE_KEY", "").strip()
    if not cookie_key:
        problems.append(
            "PARLEY_COOKIE_KEY is not set. `make run` writes a fresh one into .env; "
            'or set one with: python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    elif cookie_key.lower() in KNOWN_DEFAULT_COOKIE_KEYS:
        problems.append(
            "PARLEY_COOKIE_KEY is a well-known example value; anyone could forge a sign-in "
            "cookie with it. Generate a random one."
        )
    elif len(cookie_key) < MIN_COOKIE_KEY_LENGTH:
        problems.append(
            f"PARLEY_COOKIE_KEY is {len(cookie_key)} characters long; it must be at least {MIN_COOKIE_KEY_LENGTH}."
        )

    prices: list[tuple[str, float, float]] = []
    for entry in filter(None, (e.strip() for e in env.get("PARLEY_PRICES", "").split(","))):
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
                f"PARLEY_PRICES: {entry!r} is not MODEL=INPUT/OUTPUT (USD per million tokens, "
                "e.g. gpt-4o-mini=0.15/0.60)."
            )
            continue
        prices.append((name.strip(), input_price, output_price))

    proxies: list[str] = []
    for entry in filter(None, (e.strip() for e in env.get("PARLEY_TRUSTED_PROXIES", "").split(","))):
        try:
            proxies.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            problems.append(f"PARLEY_TRUSTED_PROXIES: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8).")

    base_url = env.get("OPENAI_BASE_URL", "").strip() or None
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        problems.append(f"OPENAI_BASE_URL must start with http:// or https://, not {base_url!r}.")

    model = text("PARLEY_MODEL", Settings.model)
    settings = Settings(
        cookie_key=Secret(cookie_key),
        openai_api_key=Secret(env.get("OPENAI_API_KEY", "").strip()),
        openai_base_url=base_url,
        model=model,
        models=tuple(
            dict.fromkeys([model, *(m.strip() for m in env.get("PARLEY_MODELS", "").split(",") if m.strip())])
        ),
        system_prompt=env.get("PARLEY_SYSTEM_PROMPT", Settings.system_prompt),
        request_timeout=number("PARLEY_REQUEST_TIMEOUT", Settings.request_timeout, minimum=1),
        connect_timeout=number("PARLEY_CONNECT_TIMEOUT", Settings.connect_timeout, minimum=0.5),
        max_retries=int(number("PARLEY_MAX_RETRIES", Settings.max_retries, minimum=0, integer=True)),
        database_url=text("DATABASE_URL", DEFAULT_DATABASE_URL),
        auto_migrate=flag("PARLEY_AUTO_MIGRATE", Settings.auto_migrate),
        spool_file=Path(text("PARLEY_SPOOL_FILE", str(Settings.spool_file))),
        auth_file=Path(text("PARLEY_AUTH_FILE", str(Settings.auth_file))),
        cookie_name=text("PARLEY_COOKIE_NAME", Settings.cookie_name),
        session_idle_minutes=number("PARLEY_SESSION_IDLE_MINUTES", Settings.session_idle_minutes, minimum=1),
        session_days=number("PARLEY_SESSION_DAYS", Settings.session_days, minimum=0.01),
        login_max_failures=int(
            number("PARLEY_LOGIN_MAX_FAILURES", Settings.login_max_failures, minimum=1, integer=True)
        ),
        login_window_minutes=number("PARLEY_LOGIN_WINDOW_MINUTES", Settings.login_window_minutes, minimum=0.1),
        login_lock_seconds=number("PARLEY_LOGIN_LOCK_SECONDS", Settings.login_lock_seconds, minimum=0),
        login_address_budget=int(
            number("PARLEY_LOGIN_ADDRESS_BUDGET", Settings.login_address_budget, minimum=1, integer=True)
        ),
        login_address_delay_seconds=number(
            "PARLEY_LOGIN_ADDRESS_DELAY_SECONDS", Settings.login_address_delay_seconds, minimum=0
        ),
        trusted_proxies=tuple(proxies),
        quota_messages_per_minute=int(
            number("PARLEY_QUOTA_MESSAGES_PER_MINUTE", Settings.quota_messages_per_minute, minimum=0, integer=True)
        ),
        quota_tokens_per_day=int(
            number("PARLEY_QUOTA_TOKENS_PER_DAY", Settings.quota_tokens_per_day, minimum=0, integer=True)
        ),
        max_prompt_chars=int(number("PARLEY_MAX_PROMPT_CHARS", Settings.max_prompt_chars, minimum=1, integer=True)),
        prices=tuple(prices),
        max_tokens=int(number("PARLEY_MAX_TOKENS", 0, minimum=0, integer=True)) or None,
        reply_deadline=number("PARLEY_REPLY_DEADLINE", Settings.reply_deadline, minimum=1),
        max_workers=int(number("PARLEY_MAX_WORKERS", Settings.max_workers, minimum=1, integer=True)),
        context_tokens=int(number("PARLEY_CONTEXT_TOKENS", Settings.context_tokens, minimum=256, integer=True)),
        retention_days=int(number("PARLEY_RETENTION_DAYS", Settings.retention_days, minimum=0, integer=True)),
        deleted_retention_days=int(
            number("PARLEY_DELETED_RETENTION_DAYS", Settings.deleted_retention_days, minimum=0, integer=True)
        ),
        demo_token_delay=number("PARLEY_DEMO_TOKEN_DELAY", Settings.demo_token_delay, minimum=0),
    )
    if problems:
        raise ConfigError("Parley's configuration has problems:\n- " + "\n- ".join(problems))
    return settings
