"""`make run`'s set-up step: what it creates, what it reuses, when it refuses to start."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from chat.accounts import authfile
from chat.accounts.authfile import load_users, verify_password
from chat.db.engine import make_engine
from chat.settings import Settings
from tests.conftest import ROOT, parley


def main(argv: list[str]) -> tuple[int, str, str]:
    """`python -m chat bootstrap ARGV` in this process: exit code, stdout, stderr."""
    result = parley("bootstrap", *argv)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authfile, "BCRYPT_ROUNDS", 4)


def test_first_run_creates_env_admin_and_database(sandbox: Path) -> None:
    (sandbox / ".env.example").write_text((ROOT / ".env.example").read_text())
    umask = os.umask(0o022)
    try:
        code, out, _ = main([])
        assert os.umask(0o022) == 0o022  # the command's own umask (077) ends with it
    finally:
        os.umask(umask)
    assert code == 0
    settings = Settings.from_env(env_file=sandbox / ".env")
    assert len(settings.cookie_key.get_secret_value()) >= 32 and settings.cookie_key.get_secret_value() not in out
    assert oct((sandbox / ".env").stat().st_mode & 0o777) == "0o600"
    password = next(line.split(": ", 1)[1] for line in out.splitlines() if "password:" in line)
    admin = load_users(sandbox / "auth.yaml")["admin"]
    assert admin.is_admin and verify_password(password, admin.password_hash)
    assert password not in (sandbox / "auth.yaml").read_text()
    assert (sandbox / "data" / "parley.db").exists()
    assert "offline demo mode" in out


def test_second_run_reuses_what_exists(sandbox: Path) -> None:
    (sandbox / ".env.example").write_text((ROOT / ".env.example").read_text())
    assert main([])[0] == 0
    env_before = (sandbox / ".env").read_text()
    auth_before = (sandbox / "auth.yaml").read_text()
    code, out, _ = main([])
    assert code == 0
    assert "password:" not in out and "Wrote" not in out
    assert (sandbox / ".env").read_text() == env_before and (sandbox / "auth.yaml").read_text() == auth_before


@pytest.mark.parametrize(("key", "says"), [("", "not set"), ("short", "at least 32"), ("some_key", "well-known")])
def test_a_bad_cookie_key_refuses_to_start(sandbox: Path, monkeypatch: pytest.MonkeyPatch, key: str, says: str) -> None:
    (sandbox / ".env").write_text("# no key here\n")
    monkeypatch.setenv("PARLEY_COOKIE_KEY", key)
    code, out, err = main(["--check"])
    assert (code, out) == (1, "")
    assert (
        err.startswith("Error: Parley's configuration has problems: - PARLEY_COOKIE_KEY ")
        and says in err
        and err.count("\n") == 1
    )


def test_a_plaintext_password_refuses_to_start(sandbox: Path) -> None:
    (sandbox / ".env").write_text("PARLEY_COOKIE_KEY=" + "k" * 40 + "\n")
    (sandbox / "auth.yaml").write_text("credentials:\n  usernames:\n    erin:\n      password: opensesame\n")
    code, _, err = main([])
    assert code == 1 and err.startswith("Error: ") and "'erin' has a plaintext" in err


def test_make_run_stops_before_streamlit_when_the_key_is_bad(sandbox: Path) -> None:
    """The real `make run`, with a venv that already exists, exits non-zero with the reason."""
    for name in ("Makefile", "app.py", ".env.example", "requirements.txt"):
        (sandbox / name).write_bytes((ROOT / name).read_bytes())
    (sandbox / "chat").symlink_to(ROOT / "chat")
    venv = sandbox / ".venv"
    (venv / "bin").mkdir(parents=True)
    wrapper = venv / "bin" / "python"  # stands for the venv `make run` would have made
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    (venv / ".runtime").touch()
    env = {**os.environ, "PARLEY_COOKIE_KEY": "too-short", "PORT": str(free_port())}
    result = subprocess.run(["make", "run"], cwd=sandbox, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "at least 32" in result.stderr and "streamlit" not in result.stdout.split("chat bootstrap")[-1]


def test_a_container_start_reads_the_environment_only(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--no-env-file (the Docker entrypoint): no .env is read or written; the first admin and the database are made."""
    (sandbox / ".env.example").write_text((ROOT / ".env.example").read_text())
    (sandbox / ".env").write_text("PARLEY_COOKIE_KEY=from-a-file-that-must-be-ignored-0123456789\n")
    code, _, err = main(["--no-env-file"])
    assert code == 1 and "PARLEY_COOKIE_KEY is not set" in err
    monkeypatch.setenv("PARLEY_COOKIE_KEY", "k" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{sandbox / 'volume' / 'parley.db'}")
    monkeypatch.setenv("PARLEY_AUTH_FILE", str(sandbox / "volume" / "auth.yaml"))
    code, out, _ = main(["--no-env-file"])
    assert code == 0
    assert "Wrote" not in out and "No users yet: creating the first admin account." in out
    assert load_users(sandbox / "volume" / "auth.yaml")["admin"].must_change_password
    assert (sandbox / "volume" / "parley.db").exists()
    assert (sandbox / ".env").read_text().startswith("PARLEY_COOKIE_KEY=from-a-file")


def modes(folder: Path) -> dict[str, str]:
    """Each entry's permission bits, as `ls -l` would show them in octal, by relative name."""
    return {str(p.relative_to(folder)): oct(p.stat().st_mode & 0o777) for p in sorted(folder.rglob("*"))}


def first_start(sandbox: Path) -> subprocess.CompletedProcess[str]:
    """`python -m chat bootstrap` as `make run` runs it, under a permissive umask (022)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "OPENAI_")) and k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "chat", "bootstrap"],
        cwd=sandbox,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        umask=0o022,
    )


def test_the_data_folder_and_its_files_are_the_owners_alone(sandbox: Path) -> None:
    """On a first start and on a start over files an older Parley left world-readable; the
    -wal and -shm a running app makes too."""
    (sandbox / ".env.example").write_text((ROOT / ".env.example").read_text())
    started = first_start(sandbox)
    assert started.returncode == 0, started.stderr
    assert "parley.db" in modes(sandbox / "data") and set(modes(sandbox / "data").values()) == {"0o600"}
    assert oct((sandbox / "data").stat().st_mode & 0o777) == "0o700"
    assert oct((sandbox / "auth.yaml").stat().st_mode & 0o777) == "0o600"
    # As an older Parley left them: folder 0755, database 0644, with its -wal and -shm.
    (sandbox / "data").chmod(0o755)
    (sandbox / "data" / "parley.db").chmod(0o644)
    with closing(sqlite3.connect(sandbox / "data" / "parley.db")) as older:
        older.execute("PRAGMA journal_mode=WAL")
        older.execute("CREATE TABLE scratch (x)")
        assert first_start(sandbox).returncode == 0
        assert {"parley.db-shm", "parley.db-wal"} <= set(modes(sandbox / "data"))
        assert set(modes(sandbox / "data").values()) == {"0o600"}
    assert oct((sandbox / "data").stat().st_mode & 0o777) == "0o700"
    # The app's own process (its umask untouched) opens the database: new -wal and -shm are 0600.
    old_umask = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{sandbox / 'data' / 'parley.db'}")
        with engine.connect() as connection:
            connection.exec_driver_sql("INSERT INTO scratch VALUES (1)")
            connection.commit()
            assert {"parley.db-shm", "parley.db-wal"} <= set(modes(sandbox / "data"))
            assert set(modes(sandbox / "data").values()) == {"0o600"}
        engine.dispose()
    finally:
        os.umask(old_umask)


def test_a_new_database_in_a_new_folder_is_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        make_engine(f"sqlite:///{tmp_path / 'new' / 'parley.db'}").dispose()
    finally:
        os.umask(old_umask)
    assert oct((tmp_path / "new").stat().st_mode & 0o777) == "0o700"
    assert modes(tmp_path / "new") == {"parley.db": "0o600"}


def test_a_database_in_the_projects_own_folder_leaves_the_folder_open(tmp_path: Path) -> None:
    # DATABASE_URL=sqlite:///parley.db: the folder is the project's, not Parley's to close.
    project = tmp_path / "project"
    project.mkdir(mode=0o755)
    (project / "app.py").write_text("")
    project.chmod(0o755)
    make_engine(f"sqlite:///{project / 'parley.db'}").dispose()
    assert oct(project.stat().st_mode & 0o777) == "0o755"
    assert oct((project / "parley.db").stat().st_mode & 0o777) == "0o600"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_n(target: str, **env: str) -> str:
    """The commands `make TARGET` would run, with `env` as the only port and address settings."""
    clean = {k: v for k, v in os.environ.items() if k not in ("PORT", "ADDRESS", "STREAMLIT_SERVER_PORT")}
    result = subprocess.run(
        ["make", "-n", target], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("env", "port"),
    [
        ({}, "8501"),
        ({"STREAMLIT_SERVER_PORT": "8600"}, "8600"),
        ({"PORT": "8700", "STREAMLIT_SERVER_PORT": "8600"}, "8700"),
    ],
)
def test_make_run_serves_on_port_then_streamlit_server_port_then_8501(env: dict[str, str], port: str) -> None:
    for target in ("run", "prod"):
        commands = make_n(target, **env)
        assert "-m chat bootstrap " in commands and f"--port {port} " in commands.split("chat bootstrap", 1)[1]
        assert f"--server.port {port} " in commands
        assert commands.index("chat bootstrap") < commands.index("streamlit run")  # checked before it starts


def test_make_run_listens_on_localhost_unless_address_says_otherwise() -> None:
    assert "--server.address 127.0.0.1" in make_n("run") and "--address 127.0.0.1" in make_n("run")
    assert "--server.address 0.0.0.0" in make_n("run", ADDRESS="0.0.0.0")
    assert "--server.address 0.0.0.0" in make_n("prod")
    assert "--server.address 127.0.0.1" in make_n("prod", ADDRESS="127.0.0.1")
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert '--server.address "${ADDRESS:-0.0.0.0}"' in entrypoint  # Docker: every interface


def test_a_busy_port_is_found_before_anything_is_made(sandbox: Path) -> None:
    (sandbox / ".env.example").write_text((ROOT / ".env.example").read_text())
    before = sorted(sandbox.iterdir())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = main(["--port", str(port), "--address", "127.0.0.1"])
    assert (code, out) == (1, "")  # no "Wrote .env", no one-time password
    assert err == (
        f"Error: Port {port} on 127.0.0.1 is already in use (another Parley, or another program); "
        f"choose another with PORT, e.g. PORT={port + 1} make run.\n"
    )
    assert sorted(sandbox.iterdir()) == before
    # Free again, the same start goes on.
    assert main(["--port", str(port), "--address", "127.0.0.1"])[0] == 0


@pytest.mark.parametrize(
    ("port", "sentence"),
    [
        ("abc", "PORT must be a number from 1 to 65535, not 'abc'."),
        ("70000", "PORT must be a number from 1 to 65535, not '70000'."),
    ],
)
def test_a_port_that_is_not_one_is_named(sandbox: Path, port: str, sentence: str) -> None:
    assert main(["--port", port]) == (1, "", f"Error: {sentence}\n")
    assert list(sandbox.iterdir()) == []
