"""A real Streamlit server and Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from chat.accounts.authfile import edit_auth_file
from tests.conftest import PASSWORDS, ROOT, TEST_COOKIE_KEY, chromium_path, require
from tests.e2e.listener import Listener
from tests.fake_openai import FakeOpenAI

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Several tests drive two tabs at once: never let a busy machine throttle the one behind.
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
]


# Every server folder and every page's final HTML of this run, for the check that no
# secret reached a log, a database or a page (`test_secrets_browser.py`, run last).
SERVER_FOLDERS: list[Path] = []
PAGE_HTML: list[str] = []
COOKIES_SEEN: set[str] = set()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    folder: Path
    database_url: str
    fake: FakeOpenAI
    log: Path


@pytest.fixture(scope="module")
def fake_model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def write_test_users(auth_file: Path) -> None:
    with edit_auth_file(auth_file) as users:
        for name, password in PASSWORDS.items():
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
            users.add(name, hashed, name=name.title(), roles=["admin" if name == "admin" else "user"])


@contextmanager
def running_server(
    folder: Path,
    fake: FakeOpenAI,
    *,
    database_url: str | None = None,
    auth_file: Path | None = None,
    env_extra: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[tuple[Server, subprocess.Popen[bytes]]]:
    """`streamlit run app.py` in `folder`, with the project's Streamlit config.

    By default with its own SQLite database and auth.yaml of the test users; replicas
    pass one `database_url` and `auth_file` to share them."""
    SERVER_FOLDERS.append(folder)
    (folder / ".streamlit").mkdir()
    shutil.copy(ROOT / ".streamlit" / "config.toml", folder / ".streamlit" / "config.toml")
    if auth_file is None:
        auth_file = folder / "auth.yaml"
        write_test_users(auth_file)
    port = port or free_port()  # given when a setting must name it (PARLEY_PUBLIC_URL)
    database_url = database_url or f"sqlite:///{folder / 'parley.db'}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "PARLEY_", "STREAMLIT_")) and key != "DATABASE_URL"
    }
    env.update(
        PARLEY_COOKIE_KEY=TEST_COOKIE_KEY,
        PARLEY_AUTH_FILE=str(auth_file),
        DATABASE_URL=database_url,
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_API_KEY="sk-test-not-a-real-key",
        PARLEY_MAX_RETRIES="0",
    )
    env.update(env_extra or {})  # may override the above (an empty OPENAI_BASE_URL: demo mode)
    log = folder / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port)],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Streamlit did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield Server(url=url, folder=folder, database_url=database_url, fake=fake, log=log), process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def two_replicas(
    folders: Callable[[str], Path],
    fake: FakeOpenAI,
    *,
    database_url: str,
    auth_file: Path,
    env_extra: dict[str, str] | None = None,
    ports: tuple[int | None, int | None] = (None, None),
) -> Iterator[tuple[Server, Server]]:
    """Two Parley servers on one database and one users file: replicas A and B."""
    with contextlib.ExitStack() as stack:
        a, b = (
            stack.enter_context(
                running_server(
                    folders(f"replica_{name}"),
                    fake,
                    database_url=database_url,
                    auth_file=auth_file,
                    env_extra=env_extra,
                    port=port,
                )
            )[0]
            for name, port in zip("ab", ports, strict=True)
        )
        yield a, b


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake_model: FakeOpenAI) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server"), fake_model) as (server, _process):
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the run (each test has a context of its own: cookies and storage apart)."""
    executable = chromium_path()
    require(executable is not None, "Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    with contextlib.suppress(Exception):  # a page its test closed has nothing more to show
        PAGE_HTML.append(page.content())
    context.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    """Another host, as far as the browser can tell: it logs every request it gets."""
    server = Listener()
    yield server
    server.stop()
