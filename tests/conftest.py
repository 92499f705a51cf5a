"""Shared fixtures: a sandboxed environment, users, a fake model server, the app under AppTest."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, make_url, select
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts import authfile
from chat.accounts.authfile import edit_auth_file
from chat.cli import cli
from chat.db import store
from chat.db.engine import init_db, make_engine, session_factory
from chat.db.tables import Conversation, Message, new_id, utcnow
from chat.domain.records import ConversationRecord
from chat.llm.client import build_model
from chat.settings import Settings
from chat.turns import wiring
from chat.turns.service import ChatService
from tests import postgres_server as postgres_server_script
from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
# Read now: the sandbox fixture clears PARLEY_* variables before each test.
POSTGRES_URL = os.environ.get("PARLEY_TEST_POSTGRES_URL", "")
TEST_COOKIE_KEY = "test-cookie-key-0123456789-abcdefghijklmnop"
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22", "admin": "admin-password-333"}


def require(condition: bool, reason: str) -> None:
    """Skip when a component is missing, except under CI, where a skip would hide it."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


def chat_process(database_url: str, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m chat ARGV` in a process of its own, on `database_url`, with none of the
    developer's settings (for what must hold across a process: exit codes, locks, signals)."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "OPENAI_"))},
        "PYTHONPATH": str(ROOT),
        "PARLEY_COOKIE_KEY": TEST_COOKIE_KEY,
        "DATABASE_URL": database_url,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "chat", *argv], env=environment, capture_output=True, text=True, timeout=120
    )


def parley(*argv: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """`python -m chat ARGV` in this process (click's runner): stdout and stderr apart, and
    anything but a ChatError or a usage error raised here, as a test failure."""
    return CliRunner().invoke(cli, list(argv), input=input, env=env, catch_exceptions=False)


@pytest.fixture(autouse=True)
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in an empty folder with none of the developer's settings."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "PARLEY_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, str]:
    # Low cost: these hashes only guard test users. The CLI uses authfile.BCRYPT_ROUNDS.
    return {name: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode() for name, pw in PASSWORDS.items()}


@pytest.fixture
def auth_file(sandbox: Path, password_hashes: dict[str, str]) -> Path:
    path = sandbox / "auth.yaml"
    with edit_auth_file(path) as users:
        users.add("alice", password_hashes["alice"], name="Alice", roles=["user"])
        users.add("bob", password_hashes["bob"], name="Bob", roles=["user"])
        users.add("admin", password_hashes["admin"], name="Admin", roles=["admin"])
    return path


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@dataclass
class AppEnv:
    root: Path
    auth_file: Path
    database_url: str
    database_path: Path


@pytest.fixture
def app_env(sandbox: Path, auth_file: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> AppEnv:
    """The environment the app reads, pointed at the sandbox and the fake server."""
    database_path = sandbox / "data" / "parley.db"
    url = f"sqlite:///{database_path}"
    for name, value in {
        "PARLEY_COOKIE_KEY": TEST_COOKIE_KEY,
        "PARLEY_AUTH_FILE": str(auth_file),
        "DATABASE_URL": url,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "PARLEY_MAX_RETRIES": "0",
        "PARLEY_REQUEST_TIMEOUT": "3",
    }.items():
        monkeypatch.setenv(name, value)
    return AppEnv(root=ROOT, auth_file=auth_file, database_url=url, database_path=database_path)


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches() -> Iterator[None]:
    """Cached resources outlive an AppTest; each test gets its own engine and client."""
    yield
    authfile._cache.clear()
    wiring.forget_shared()
    st = sys.modules.get("streamlit")
    if st is None:
        return
    st.cache_resource.clear()
    st.cache_data.clear()


def logged_messages(database_url: str) -> list[Message]:
    """Every message row in the log, oldest first."""
    engine = create_engine(database_url)
    with Session(engine) as session:
        rows = list(session.scalars(select(Message).order_by(Message.id)))
    engine.dispose()
    return rows


def make_settings(tmp_path: Path, **env: str) -> Settings:
    """Settings for service tests: a temp database, no retries, short timeouts."""
    base = {
        "PARLEY_COOKIE_KEY": TEST_COOKIE_KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'parley.db'}",
        "PARLEY_MAX_RETRIES": "0",
        "PARLEY_REQUEST_TIMEOUT": "2",
        "PARLEY_DEMO_TOKEN_DELAY": "0",
    }
    return Settings.from_env({**base, **env}, env_file=None)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server's admin URL: the one `.ci/run` started, or one of our own."""
    if POSTGRES_URL:
        yield POSTGRES_URL
        return
    require(postgres_server_script.bin_dir() is not None, "PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="parley-postgres-"))  # pytest's own temp root is closed to `postgres`
    try:
        yield postgres_server_script.start(folder)
    finally:
        postgres_server_script.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


ENGINES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test about the database (`@pytest.mark.both_engines`) runs on each engine Parley supports;
    any other test that needs a database (the model server's behaviour, the app) runs on SQLite."""
    if "database_url" not in metafunc.fixturenames or not metafunc.definition.get_closest_marker("both_engines"):
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if "database_url" in (names.replace(" ", "").split(",") if isinstance(names, str) else names):
            return  # the test names its engines itself (["sqlite"]: a test about SQLite)
    metafunc.parametrize("database_url", ENGINES, indirect=True)


def pytest_configure(config: pytest.Config) -> None:
    """A pytest that a shell started in the background (`make test`'s Docker module) begins with
    SIGINT ignored, as POSIX shells start background jobs: Ctrl+C would not stop it, and its
    fixtures would not stop the Docker engine they started. Take the signal back. A TERM (a CI
    timeout, `make test`'s trap) would end Python with no teardown at all: it is an interrupt too."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt_once)


def _interrupt_once(signum: int, frame: object) -> None:
    """The first TERM stops the run as Ctrl+C does; later ones (the group's and `make test`'s trap
    both send one) are ignored, so they do not cut short the fixtures stopping their servers."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fast tiers stay fast: no PostgreSQL in tests/unit and tests/app, no server in tests/unit.

    The Docker module goes first in a run that holds it (`make test` runs it in a process of its
    own; a run of everything in one process starts with its build, the longest unit), the secrets
    check (`after_all`) after every other browser test. The sort is stable: otherwise collection order."""
    items.sort(key=lambda item: (item.path.name != "test_docker.py", item.get_closest_marker("after_all") is not None))
    for item in items:
        tier = item.path.parent.name if item.path.parent.parent == ROOT / "tests" else ""
        if tier in ("unit", "app") and item.get_closest_marker("both_engines"):
            raise pytest.UsageError(f"{item.nodeid}: both_engines goes in tests/integration (the fast tier is SQLite)")
        if tier == "unit" and {"fake_openai", "app_env", "postgres_server"} & set(getattr(item, "fixturenames", ())):
            raise pytest.UsageError(f"{item.nodeid}: a unit test starts no server (tests/integration or tests/app)")


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: SQLite, or on `both_engines` tests each engine in turn (a fresh PostgreSQL
    database per test)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'parley.db'}"
        return
    with scratch_database(request.getfixturevalue("postgres_server"), "parley_test") as url:
        yield url


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the test PostgreSQL server (its URL), dropped at the end."""
    admin_url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def new_conversation(
    session: Session, username: str, *, model: str = "m", system_prompt: str = "", title: str = ""
) -> Conversation:
    """A conversation of `username`'s, started now, as the chat starts one."""
    record = ConversationRecord(
        id=new_id(),
        username=username,
        title=title,
        model=model,
        system_prompt=system_prompt,
        temperature=None,
        created_at=utcnow(),
    )
    return store.create_conversation(session, record)


def url_of(sessions: sessionmaker[Session]) -> str:
    engine = sessions.kw["bind"]
    return str(engine.url.render_as_string(hide_password=False))


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A fresh conversation log (`database_url`: SQLite, or each engine for `both_engines` tests)."""
    engine = make_engine(database_url)
    init_db(engine)
    yield session_factory(engine)
    engine.dispose()


def service_with(tmp_path: Path, fake: FakeOpenAI, sessions: sessionmaker[Session], **env: str) -> ChatService:
    """The chat service against the fake model server and `sessions`' log, with `env` on top."""
    settings = make_settings(
        tmp_path, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="sk-test", DATABASE_URL=url_of(sessions), **env
    )
    return ChatService(settings, sessions, build_model(settings))


@pytest.fixture
def service(tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]) -> ChatService:
    """The chat service against the fake model server and the temp log (SQLite unless the test is
    marked `both_engines`: the model server's behaviour does not depend on the engine)."""
    return service_with(tmp_path, fake_openai, sessions)


def chromium_path() -> str | None:
    return shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium") or None
