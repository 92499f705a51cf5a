"""The one command line (`python -m chat <command>`, chat/cli.py): every command answers
--help, and errors are printed one way with one set of exit codes."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import click
import pytest

from chat import cli
from chat.errors import ConfigError
from chat.ops import purge as admin
from tests.conftest import ROOT, TEST_COOKIE_KEY, parley

OPERATOR_COMMANDS = {"users", "migrate", "backup", "restore", "purge", "export", "import", "health", "bootstrap"}


def every_command(group: click.Group = cli.cli, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*path, name))
        if isinstance(command, click.Group):
            found.extend(every_command(command, (*path, name)))
    return found


def test_every_operator_command_is_there() -> None:
    commands = every_command()
    assert {path[0] for path in commands} >= OPERATOR_COMMANDS
    assert {("users", name) for name in ("add", "passwd", "remove", "quota", "list")} <= set(commands)


@pytest.mark.parametrize("path", every_command(), ids=" ".join)
def test_every_command_answers_help(path: tuple[str, ...]) -> None:
    shown = parley(*path, "--help")
    assert shown.exit_code == 0 and shown.stderr == ""
    assert shown.stdout.startswith(f"Usage: {' '.join(('cli', *path))} ")  # click names the runner's group `cli`
    assert parley(*path, "-h").stdout == shown.stdout


def test_a_chat_error_is_one_line_on_stderr_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*, dry_run: bool) -> str:
        raise ConfigError("Parley's configuration has problems:\n- PARLEY_RETENTION_DAYS must be a whole number.")

    monkeypatch.setattr(admin, "run_purge", refuse)
    refused = parley("purge")
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        "Error: Parley's configuration has problems: - PARLEY_RETENTION_DAYS must be a whole number.\n"
    )


def test_a_usage_error_exits_2_and_says_how() -> None:
    for argv in (("purge", "--everything"), ("no-such-command",), ("restore",), ("users", "add")):
        wrong = parley(*argv)
        assert wrong.exit_code == 2 and wrong.stdout == "", argv
        assert "Usage: " in wrong.stderr and "Error: " in wrong.stderr


def test_what_no_one_foresaw_stays_loud(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug is not dressed up as a sentence: the exception leaves the command as it is."""

    def broken(*, dry_run: bool) -> str:
        raise KeyError("a bug")

    monkeypatch.setattr(admin, "run_purge", broken)
    with pytest.raises(KeyError, match="a bug"):
        parley("purge")


def run_module(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "OPENAI_")) and k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "chat", *argv],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_m_chat_is_the_command_line_in_a_real_process(tmp_path: Path) -> None:
    shown = run_module("--help")
    assert shown.returncode == 0 and shown.stdout.startswith("Usage: python -m chat [OPTIONS] COMMAND [ARGS]...")
    assert all(re.search(rf"^  {name} ", shown.stdout, re.MULTILINE) for name in OPERATOR_COMMANDS)
    missing = f"sqlite:///{tmp_path}/nowhere.db"
    refused = run_module("purge", DATABASE_URL=missing, PARLEY_COOKIE_KEY=TEST_COOKIE_KEY)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == f"Error: The database file {tmp_path}/nowhere.db does not exist.\n"


def test_the_parley_script_is_the_same_command_line() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    module, _, function = project["project"]["scripts"]["parley"].partition(":")
    assert getattr(import_module(module), function) is cli.main


@pytest.mark.parametrize(
    "module",
    ["ops/users", "ops/purge", "ops/backup", "db/migrate", "ops/upgrade", "ops/health", "ops/bootstrap", "ops/export"],
)
def test_no_module_keeps_a_command_line_of_its_own(module: str) -> None:
    """One command line, not two: argparse and `if __name__ == "__main__"` are gone from the modules."""
    tree = ast.parse((ROOT / "chat" / f"{module}.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "argparse" not in imported
    assert "__main__" not in (ROOT / "chat" / f"{module}.py").read_text()
    assert not any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def test_the_makefile_runs_the_commands_of_this_command_line() -> None:
    ran = []
    for target, extra in [
        ("migrate", ()),
        ("backup", ()),
        ("restore", ("FILE=backups/x.db",)),
        ("purge", ("DRY_RUN=1",)),
        ("user", ("NAME=alice",)),
        ("run", ()),
        ("prod", ()),
    ]:
        result = subprocess.run(["make", "-n", target, *extra], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        ran += re.findall(r"-m chat (\S+)", result.stdout)
        assert "-m chat." not in result.stdout
    assert set(ran) == {"migrate", "backup", "restore", "purge", "users", "bootstrap"}
    assert set(ran) <= {path[0] for path in every_command()}
