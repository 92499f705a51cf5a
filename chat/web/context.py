"""What the HTTP side works with: the settings, the process's accounts and service, the
CSRF key and the request rule, made once per process on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from chat.accounts.auth import Accounts
from chat.accounts.peer import ForwardingRule
from chat.settings import Settings
from chat.turns.service import ChatService
from chat.turns.wiring import shared
from chat.web.csrf import CsrfKey
from chat.web.requests import RequestJudge


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    accounts: Accounts
    service: ChatService
    csrf: CsrfKey
    judge: RequestJudge

    @classmethod
    def of(cls, settings: Settings) -> WebContext:
        """Raises ConfigError or StorageError (sentences) when Parley cannot work."""
        opened = shared(settings)
        return cls(
            settings=settings,
            accounts=opened.accounts,
            service=opened.service,
            csrf=CsrfKey(settings.cookie_key.get_secret_value()),
            judge=RequestJudge(ForwardingRule.of(settings.forwarded_allow_ips, settings.trusted_proxies)),
        )


ContextSource = Callable[[], WebContext]


class ProcessContext:
    """The context from the environment, made on first use and kept once it worked: a wrong
    setting or a database not up yet is reported per request and tried again on the next."""

    def __init__(self, load: Callable[[], Settings] = Settings.from_env) -> None:
        self._load = load
        self._context: WebContext | None = None
        self._lock = threading.Lock()

    def __call__(self) -> WebContext:
        with self._lock:
            if self._context is None:
                self._context = WebContext.of(self._load())
            return self._context
