"""What the HTTP side works with: the settings, the process's accounts and service, the
CSRF key and the request rule, made once per process on first use."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from chat.accounts.auth import Accounts
from chat.accounts.oidc import Client, RelyingParty
from chat.settings import Settings
from chat.turns.service import ChatService
from chat.turns.wiring import shared
from chat.web.csrf import CsrfKey
from chat.web.requests import RequestJudge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    accounts: Accounts
    service: ChatService
    csrf: CsrfKey
    judge: RequestJudge
    sso: RelyingParty | None = None  # single sign-on, when the settings turn it on

    @classmethod
    def of(cls, settings: Settings) -> WebContext:
        """Raises ConfigError or StorageError (sentences) when Parley cannot work."""
        opened = shared(settings)
        return cls(
            settings=settings,
            accounts=opened.accounts,
            service=opened.service,
            csrf=CsrfKey(settings.cookie_key.get_secret_value()),
            judge=RequestJudge.of(settings),
            sso=_relying_party(settings, opened.accounts.database),
        )


def _relying_party(settings: Settings, database: sessionmaker[Session]) -> RelyingParty | None:
    if not settings.sso_enabled:
        return None
    assert settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret
    client = Client(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        redirect_uri=settings.sso_redirect_uri,
        scopes=settings.oidc_scopes,
    )
    if not settings.oidc_allowed_domains and settings.oidc_required_group is None:
        log.warning(
            "single sign-on lets in anyone %s signs in (no PARLEY_OIDC_ALLOWED_DOMAINS or "
            "PARLEY_OIDC_REQUIRED_GROUP): with a public provider, that is anyone at all",
            settings.oidc_issuer,
        )
    return RelyingParty(client, database)


ContextSource = Callable[[], WebContext]
JudgeSource = Callable[[], RequestJudge]


class ContextWithJudge(Protocol):
    """A context source that can also give the request rule alone (`ProcessContext`)."""

    def __call__(self) -> WebContext: ...

    def judge(self) -> RequestJudge: ...


class ProcessContext:
    """The context from the environment, made on first use and kept once it worked: a wrong
    setting or a database not up yet is reported per request and tried again on the next."""

    def __init__(self, load: Callable[[], Settings] = Settings.from_env) -> None:
        self._load = load
        self._settings: Settings | None = None
        self._context: WebContext | None = None
        self._lock = threading.Lock()

    def __call__(self) -> WebContext:
        with self._lock:
            if self._context is None:
                self._context = WebContext.of(self._settings_locked())
            return self._context

    def judge(self) -> RequestJudge:
        """The request rule alone: from the settings, without opening the database (the headers
        of `/healthz` must not depend on it). Raises ConfigError."""
        with self._lock:
            return RequestJudge.of(self._settings_locked())

    def _settings_locked(self) -> Settings:
        if self._settings is None:
            self._settings = self._load()
        return self._settings
