"""`/healthz` and `/readyz` (chat/web/health.py), through Parley's own routes and gate, called as ASGI."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from chat.ops import health
from chat.settings import Settings
from chat.web.app import middleware, routes
from chat.web.context import ProcessContext, WebContext
from chat.web.health import MODEL_WAIT_SECONDS
from chat.web.requests import RequestJudge
from tests import asgi
from tests.conftest import PASSWORDS, make_settings

LOCAL = ("127.0.0.1", 50123)
OUTSIDE = ("203.0.113.7", 50123)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


def call(
    app: Starlette, path: str, *, client: tuple[str, int] = LOCAL, headers: dict[str, str] | None = None
) -> Answer:
    """One GET through the ASGI app, as uvicorn would make it."""
    reply = asgi.call(app, asgi.scope_of(path, client=client[0], headers=headers))
    return Answer(reply.status, dict(reply.headers), json.loads(reply.body))


class Counted:
    """The process's real context source, counting how often it is asked."""

    def __init__(self, load: Settings) -> None:
        self.calls = 0
        self._context = ProcessContext(lambda: load)

    def __call__(self) -> WebContext:
        self.calls += 1
        return self._context()

    def judge(self) -> RequestJudge:
        return self._context.judge()  # the settings alone: not the context, not the database


def parley(source: Counted) -> Starlette:
    return Starlette(routes=routes(source), middleware=middleware(source))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path, auth_file: Path) -> Settings:
    return make_settings(tmp_path, PARLEY_AUTH_FILE=str(auth_file))


def test_healthz_answers_with_the_database_down_and_never_builds_the_context(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the database's folder should be")
    source = Counted(make_settings(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'blocked' / 'parley.db'}"))
    app = parley(source)

    answer = call(app, "/healthz", client=OUTSIDE)
    assert (answer.status, answer.body) == (200, {"status": "ok"})
    assert answer.headers["cache-control"] == "no-store" and answer.headers["content-type"] == "application/json"
    assert source.calls == 0

    ready = call(app, "/readyz")  # the database really is down
    assert ready.status == 503 and ready.body["status"] == "not ready"
    assert ready.body["checks"]["configuration"] == {"status": "ok"}
    assert ready.body["checks"]["database"]["status"] == "failed"
    assert "cannot open its conversation log" in ready.body["checks"]["database"]["detail"]
    assert ready.body["checks"]["model"] == {"status": "not checked"}


def test_readyz_is_ready_with_the_checks_for_a_local_caller(settings: Settings) -> None:
    answer = call(parley(Counted(settings)), "/readyz")
    assert answer.status == 200 and answer.headers["cache-control"] == "no-store"
    assert answer.body == {
        "status": "ready",
        "checks": {
            "configuration": {"status": "ok"},
            "database": {"status": "ok", "detail": "database (sqlite) answers"},
            "model": {"status": "demo", "detail": "model: the offline demo model"},
        },
    }


def test_readyz_takes_no_write_lock_a_writer_holds(settings: Settings) -> None:
    app = parley(Counted(settings))
    assert call(app, "/readyz").status == 200  # the context made the database
    writer = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # the write lock, held
        answer = call(app, "/readyz")
        with pytest.raises(health.Unhealthy, match="locked"):  # the lock is real: the CLI's write waits on it
            health.check_database(settings.database_url)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert answer.status == 200 and answer.body["checks"]["database"]["status"] == "ok"


def test_a_broken_database_is_not_ready_and_only_a_local_caller_reads_why(settings: Settings) -> None:
    app = parley(Counted(settings))
    assert call(app, "/readyz").status == 200
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    database.unlink()  # gone under a running Parley

    local = call(app, "/readyz")
    assert local.status == 503 and local.body["status"] == "not ready"
    assert local.body["checks"]["database"] == {
        "status": "failed",
        "detail": f"the database file {database} does not exist",
    }
    outside = call(app, "/readyz", client=OUTSIDE)
    assert (outside.status, outside.body) == (503, {"status": "not ready"})
    assert not database.exists()  # readiness never makes an empty database


def test_a_model_server_that_is_down_is_reported_and_parley_stays_ready(tmp_path: Path, auth_file: Path) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    settings = make_settings(tmp_path, OPENAI_BASE_URL=base_url, OPENAI_API_KEY="sk-test-not-a-real-key")
    answer = call(parley(Counted(settings)), "/readyz")
    assert answer.status == 200 and answer.body["status"] == "ready"
    assert answer.body["checks"]["model"] == {
        "status": "unreachable",
        "detail": f"the model server ({base_url}) does not answer",
    }


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that takes connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"


def test_a_model_server_that_never_answers_does_not_hold_readiness(tmp_path: Path, silent_server: str) -> None:
    settings = make_settings(tmp_path, OPENAI_BASE_URL=silent_server, OPENAI_API_KEY="sk-test-not-a-real-key")
    app = parley(Counted(settings))
    assert call(app, "/readyz", client=OUTSIDE).status == 200  # the context is made; no probe for outsiders
    started = time.monotonic()
    answer = call(app, "/readyz")
    assert time.monotonic() - started < MODEL_WAIT_SECONDS + 1.5
    assert answer.status == 200 and answer.body["checks"]["model"]["status"] == "unreachable"


def _session_cookie(source: Counted, username: str) -> dict[str, str]:
    context = source()
    result = context.accounts.sign_in(username, PASSWORDS[username], OUTSIDE[0])
    assert result.token is not None, result.error
    return {"cookie": f"{context.settings.cookie_name}={result.token}"}


def test_the_checks_are_for_a_signed_in_admin_and_local_callers_only(settings: Settings) -> None:
    source = Counted(settings)
    app = parley(source)
    admin, alice = _session_cookie(source, "admin"), _session_cookie(source, "alice")

    assert call(app, "/readyz", client=OUTSIDE).body == {"status": "ready"}
    assert call(app, "/readyz", client=OUTSIDE, headers=alice).body == {"status": "ready"}
    bent = {"cookie": f"{settings.cookie_name}=not-a-token"}
    assert call(app, "/readyz", client=OUTSIDE, headers=bent).body == {"status": "ready"}
    shown = call(app, "/readyz", client=OUTSIDE, headers=admin).body
    assert shown["status"] == "ready" and shown["checks"]["database"]["status"] == "ok"

    # Through a proxy on this machine the peer is loopback, but the caller is not.
    forwarded = call(app, "/readyz", headers={"x-forwarded-for": OUTSIDE[0]})
    assert forwarded.body == {"status": "ready"}
    for peer in ("::1", "::ffff:127.0.0.1"):
        assert "checks" in call(app, "/readyz", client=(peer, 1)).body


def test_a_wrong_setting_is_not_ready_and_says_which(tmp_path: Path) -> None:
    def wrong() -> Settings:
        return Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}, env_file=None)  # no cookie key

    app = Starlette(routes=routes(ProcessContext(wrong)), middleware=middleware(ProcessContext(wrong)))
    answer = call(app, "/readyz")
    assert answer.status == 503 and answer.body["checks"]["configuration"]["status"] == "failed"
    assert "PARLEY_COOKIE_KEY" in answer.body["checks"]["configuration"]["detail"]
    assert answer.body["checks"]["database"] == {"status": "not checked"}
    assert call(app, "/healthz").body == {"status": "ok"}
