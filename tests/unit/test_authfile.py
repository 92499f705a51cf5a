"""A broken auth.yaml: refused with a sentence naming the problem; while Parley runs,
the last good copy is kept, so a bad edit never signs anyone out."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts import signins
from chat.accounts.auth import Accounts
from chat.accounts.authfile import edit_auth_file, load_users, load_users_keeping_last_good
from chat.accounts.yamlfile import MAX_FILE_BYTES
from chat.errors import ConfigError
from tests.conftest import PASSWORDS, ROOT, make_settings

HASH = "$2b$04$" + "a" * 53  # well-formed, matches no password


def user_file(entry: str) -> str:
    return f"credentials:\n  usernames:\n    erin:\n      password: '{HASH}'\n{entry}"


BOMB = "".join(
    [
        "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        *(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]\n" for n in range(1, 10)),
        user_file("      roles: *a9\n"),
    ]
)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"credentials: [1, 2]\n", "'credentials' must be a mapping with a 'usernames' section, not a list"),
        (b"credentials:\n  usernames: [erin]\n", "'credentials.usernames' must be a mapping of users, not a list"),
        (user_file("").encode("utf-8") + b"      name: Er\xe9n\n", "not UTF-8 text (an invalid byte on line 5)"),
        (user_file("      roles: {admin: false}\n").encode(), "user 'erin': 'roles' must be a list of role names"),
        (user_file("      roles: admin\n").encode(), "user 'erin': 'roles' must be a list of role names"),
        (user_file("      must_change_password: 'yes'\n").encode(), "'must_change_password' must be true or false"),
        (user_file("      name: [Erin]\n").encode(), "user 'erin': 'name' must be text, not a list"),
        (b"credentials:\n  usernames:\n    123:\n      password: x\n", "username 123 must be text; put it in quotes"),
        (b"credentials:\n  usernames:\n    erin: 7\n", "user 'erin' must be a mapping, not a number"),
        (b"#" * (MAX_FILE_BYTES + 1), "larger than 256 kB"),
        (b"a: &a [1, *a]\ncredentials: {}\n", "an alias refers to the value that contains it"),
    ],
)
def test_a_broken_file_is_refused_with_a_sentence_naming_the_problem(
    tmp_path: Path, content: bytes, named: str
) -> None:
    path = tmp_path / "auth.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as refused:
        load_users(path)
    assert named in refused.value.message
    assert refused.value.message.startswith("auth.yaml")


def test_a_yaml_error_says_where_without_quoting_the_file(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(user_file("      roles: [user\n      name: {Erin\n"))
    with pytest.raises(ConfigError) as refused:
        load_users(path)
    assert "auth.yaml is not valid YAML:" in refused.value.message and "(line " in refused.value.message
    assert "$2b$" not in refused.value.message  # ruamel's own text would quote the lines around the error


def test_an_alias_bomb_is_refused_by_its_expansion_not_by_running_out_of_memory(tmp_path: Path) -> None:
    """Nine levels of nine aliases: 387 million 'lol's if `roles` were ever read. Read in a
    process held to 1 GB of address space, it must be refused with a sentence."""
    path = tmp_path / "auth.yaml"
    path.write_text(BOMB)
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from chat.accounts.authfile import load_users\n"
        "from chat.errors import ConfigError\n"
        "try:\n"
        "    load_users(sys.argv[1])\n"
        "except ConfigError as error:\n"
        "    print(error.message)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-500:]
    assert "expands to more than 200,000 values through YAML aliases" in result.stdout


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(
        f"roles: &usual [user]\ncredentials:\n  usernames:\n"
        f"    erin: {{password: '{HASH}', roles: *usual}}\n    finn: {{password: '{HASH}', roles: *usual}}\n"
    )
    assert [user.roles for user in load_users(path).values()] == [("user",), ("user",)]


@pytest.fixture
def accounts(tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]) -> Accounts:
    return Accounts(make_settings(tmp_path, PARLEY_AUTH_FILE=str(auth_file)), sessions)


def test_a_file_broken_while_parley_runs_keeps_the_last_good_copy(
    accounts: Accounts, auth_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.1").token
    assert token is not None
    good = auth_file.read_text()
    caplog.set_level(logging.INFO, logger="chat.accounts.authfile")
    auth_file.write_text("credentials: [1, 2]\n")  # what a bad hand edit leaves

    for _ in range(3):  # every page run reads it again
        signed_in = accounts.from_cookie(token)
        assert signed_in is not None and signed_in.username == "alice"
    assert accounts.sign_in("bob", PASSWORDS["bob"], "10.0.0.2").user is not None  # from the good copy
    read = accounts.users_read()
    assert read.problem is not None and "'credentials' must be a mapping" in read.problem
    assert set(read.users) == {"alice", "bob", "admin"}
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and "Parley keeps the last good copy" in logged[0]  # said once, not every run
    assert not any("$2b$" in r.getMessage() for r in caplog.records)

    auth_file.write_text(good.replace("name: Bob", "name: Robert"))
    read = accounts.users_read()
    assert read.problem is None and read.users["bob"].name == "Robert"
    assert any("readable again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("emptied", ["", "credentials:\n", "credentials:\n  usernames: {}\n"])
def test_an_emptied_file_is_broken_not_a_list_of_nobody(accounts: Accounts, auth_file: Path, emptied: str) -> None:
    token = accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.1").token
    assert token is not None
    auth_file.write_text(emptied)  # an editor that truncated the file, a half-finished copy
    assert accounts.from_cookie(token) is not None
    read = accounts.users_read()
    assert read.problem is not None and "lists no users" in read.problem and "alice" in read.users


def test_with_no_good_copy_only_sign_ins_are_refused(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    """A process that never read a good file has nothing to go by: it refuses with the reason,
    and judges no cookie (so none is deleted)."""
    path = tmp_path / "never-good.yaml"
    path.write_text(user_file("      must_change_password: 'yes'\n"))
    accounts = Accounts(make_settings(tmp_path, PARLEY_AUTH_FILE=str(path)), sessions)
    with pytest.raises(ConfigError, match="must_change_password"):
        accounts.users()
    with pytest.raises(ConfigError):
        accounts.from_cookie(signins.new_token())
    with pytest.raises(ConfigError):
        load_users_keeping_last_good(path)


def test_the_users_file_and_its_lock_are_the_owners_alone(tmp_path: Path) -> None:
    """As `docker exec ... python -m chat users` writes them: with the default umask, not the entrypoint's."""
    old_umask = os.umask(0o022)
    try:
        with edit_auth_file(tmp_path / "auth.yaml") as users:
            users.add("erin", HASH, name="Erin", roles=["user"])
    finally:
        os.umask(old_umask)
    found = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()}
    assert found == {"auth.yaml": "0o600", "auth.yaml.lock": "0o600"}
