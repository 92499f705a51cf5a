"""`python -m chat health` where no database is reached: a bad configuration, a path the OS refuses,
a .env it cannot read. Healthy and broken databases on both engines: tests/integration/test_health.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, TEST_COOKIE_KEY, parley


def health(url: str, *argv: str, **env: str) -> tuple[int, str]:
    """`python -m chat health ARGV`: its exit code and its one line (stdout when healthy, else stderr)."""
    result = parley("health", *argv, env={"PARLEY_COOKIE_KEY": TEST_COOKIE_KEY, "DATABASE_URL": url, **env})
    assert (result.stderr if result.exit_code else result.stdout).count("\n") == 1
    assert not (result.stdout if result.exit_code else result.stderr)
    return result.exit_code, (result.stdout + result.stderr).strip()


def test_a_bad_configuration_is_one_line() -> None:
    code, line = health("sqlite:///x.db", PARLEY_COOKIE_KEY="short")
    assert code == 1 and line.count("\n") == 0 and "PARLEY_COOKIE_KEY" in line


def health_command(cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    """The real `python -m chat health`, as Docker's HEALTHCHECK runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "OPENAI_")) and k != "DATABASE_URL"}
    env.update(PYTHONPATH=str(ROOT), PARLEY_COOKIE_KEY=TEST_COOKIE_KEY, DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "chat", "health"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_path_it_may_not_read_is_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    """The OS refuses the path itself (here a name longer than the file system allows; as a
    non-root user, a folder it may not search): the same branch, one line."""
    database = tmp_path / ("d" * 300) / "parley.db"
    result = health_command(tmp_path, f"sqlite:///{database}")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"Error: unhealthy: the database file {database} cannot be read: File name too long\n"
    if os.geteuid() != 0:  # root may search any folder
        (tmp_path / "closed").mkdir(mode=0)
        result = health_command(tmp_path, f"sqlite:///{tmp_path / 'closed' / 'parley.db'}")
        assert result.stderr.endswith("cannot be read: Permission denied\n")


def test_what_no_check_foresaw_is_still_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"PARLEY_MODEL=caf\xe9\n")  # a .env saved as Latin-1
    result = health_command(tmp_path, f"sqlite:///{tmp_path / 'parley.db'}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: unhealthy: ") and result.stderr.count("\n") == 1
