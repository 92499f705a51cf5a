import os
from pathlib import Path

import pytest
from click.testing import Result

from chat.accounts import authfile
from chat.accounts.authfile import load_users, verify_password
from chat.errors import ConfigError
from tests.conftest import parley


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authfile, "BCRYPT_ROUNDS", 4)


def users(path: Path, *argv: str, stdin: str = "") -> Result:
    return parley("users", "--file", str(path), *argv, input=stdin)


def run(path: Path, *argv: str, stdin: str = "") -> tuple[int, str]:
    result = users(path, *argv, stdin=stdin)
    return result.exit_code, result.stdout


def test_add_hashes_the_password_and_normalises_the_name(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    code, _ = run(path, "add", "  Alice ", "--password-stdin", stdin="correct horse\n")
    assert code == 0
    users = load_users(path)
    assert list(users) == ["alice"]
    stored = users["alice"].password_hash
    assert stored.startswith("$2b$") and "correct horse" not in path.read_text()
    assert verify_password("correct horse", stored)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_generated_password_is_printed_once_and_works(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    code, out = run(path, "add", "admin", "--role", "admin", "--generate-password")
    assert code == 0
    password = next(line.split(": ", 1)[1] for line in out.splitlines() if "password:" in line)
    user = load_users(path)["admin"]
    assert user.is_admin
    assert verify_password(password, user.password_hash)
    assert password not in path.read_text()


@pytest.mark.parametrize(
    ("password", "says"),
    [(" padded ", "spaces"), ("short", "at least 8"), ("x" * 73, "at most 72 bytes")],
)
def test_passwords_the_login_form_could_not_match_are_refused(tmp_path: Path, password: str, says: str) -> None:
    path = tmp_path / "auth.yaml"
    refused = users(path, "add", "carol", "--password-stdin", stdin=password + "\n")
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr.startswith("Error: ") and says in refused.stderr and refused.stderr.count("\n") == 1
    assert not path.exists()


def test_bad_usernames_are_refused(tmp_path: Path) -> None:
    refused = users(tmp_path / "auth.yaml", "add", "no spaces please", "--password-stdin", stdin="password123\n")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: ") and "not a usable username" in refused.stderr


def test_a_password_is_asked_twice_without_echo(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    added = users(path, "add", "alice", stdin="correct horse\ncorrect horse\n")
    assert added.exit_code == 0, added.stderr
    assert "Password: \nRepeat password: \n" in added.stdout and "correct horse" not in added.stdout
    assert verify_password("correct horse", load_users(path)["alice"].password_hash)
    differ = users(path, "passwd", "alice", stdin="another-one-1\nanother-one-2\n")
    assert differ.exit_code == 1
    assert differ.stderr == "Error: The passwords do not match; nothing was changed.\n"
    assert verify_password("correct horse", load_users(path)["alice"].password_hash)  # unchanged
    short = users(path, "passwd", "alice", stdin="short\n")
    assert short.exit_code == 1 and "at least 8" in short.stderr and "Repeat" not in short.stdout  # said at once


def test_a_wrong_command_line_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    both = users(path, "add", "alice", "--password-stdin", "--generate-password")
    assert both.exit_code == 2 and "cannot be used together" in both.stderr
    assert users(path, "add", "alice", "--role", "owner").exit_code == 2
    bad_limit = users(path, "quota", "alice", "--tokens-per-day", "-5")
    assert bad_limit.exit_code == 2 and "a whole number >= 0" in bad_limit.stderr
    assert users(path, "add").exit_code == 2  # no username
    assert not path.exists()


def test_comments_and_other_users_survive_passwd_and_remove(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    run(path, "add", "alice", "--password-stdin", stdin="alice-pass-1\n")
    run(path, "add", "bob", "--password-stdin", stdin="bob-pass-22\n")
    path.write_text("# keep this comment\n" + path.read_text().replace("    bob:", "    # bob's note\n    bob:"))
    assert run(path, "passwd", "ALICE", "--password-stdin", stdin="alice-pass-2\n")[0] == 0
    text = path.read_text()
    assert "# keep this comment" in text and "# bob's note" in text
    users = load_users(path)
    assert verify_password("alice-pass-2", users["alice"].password_hash)
    assert verify_password("bob-pass-22", users["bob"].password_hash)
    assert run(path, "remove", "alice")[0] == 0
    assert list(load_users(path)) == ["bob"]
    assert "# keep this comment" in path.read_text()


def test_duplicate_and_missing_users(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    run(path, "add", "alice", "--password-stdin", stdin="alice-pass-1\n")
    again = users(path, "add", "alice", "--password-stdin", stdin="alice-pass-1\n")
    nobody = users(path, "remove", "nobody")
    assert (again.exit_code, nobody.exit_code) == (1, 1)
    assert "already exists" in again.stderr and "no user 'nobody'" in nobody.stderr


def test_list_shows_names_and_roles_but_no_hashes(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    run(path, "add", "alice", "--password-stdin", stdin="alice-pass-1\n")
    run(path, "add", "root", "--role", "admin", "--password-stdin", stdin="root-pass-1\n")
    _, out = run(path, "list")
    assert "alice\tuser" in out and "root\tadmin" in out and "$2b$" not in out


def test_a_plaintext_password_in_the_file_names_the_user(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text("credentials:\n  usernames:\n    dave:\n      name: Dave\n      password: hunter22\n")
    with pytest.raises(ConfigError, match="'dave' has a plaintext"):
        load_users(path)


def test_cli_changes_are_seen_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    run(path, "add", "alice", "--password-stdin", stdin="alice-pass-1\n")
    assert list(load_users(path)) == ["alice"]
    run(path, "add", "bob", "--password-stdin", stdin="bob-pass-22\n")
    assert sorted(load_users(path)) == ["alice", "bob"]


def test_writes_are_atomic_and_locked(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    run(path, "add", "alice", "--password-stdin", stdin="alice-pass-1\n")
    before = path.read_text()
    with pytest.raises(RuntimeError), authfile.edit_auth_file(path) as users:
        users.remove("alice")
        raise RuntimeError("crash in the middle of an edit")
    assert path.read_text() == before  # nothing half-written
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".auth.yaml.")]  # no temp files left
    with authfile.edit_auth_file(path), pytest.raises(ConfigError, match="locked"):  # noqa: SIM117
        with authfile.edit_auth_file(path, lock_timeout=0.1):
            pass


def test_quota_overrides_are_set_shown_and_cleared(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    assert run(path, "add", "alice", "--password-stdin", stdin="correct horse\n")[0] == 0
    assert run(path, "quota", "alice", "--messages-per-minute", "60", "--tokens-per-day", "0")[0] == 0
    alice = load_users(path)["alice"]
    assert (alice.messages_per_minute, alice.tokens_per_day) == (60, 0)
    assert "messages/min 60\ttokens/day 0" in run(path, "list")[1]
    assert run(path, "quota", "alice", "--messages-per-minute", "default")[0] == 0
    assert load_users(path)["alice"].messages_per_minute is None
    assert run(path, "quota", "alice")[0] == 1  # nothing to set


def test_a_generated_password_must_be_changed_and_passwd_lifts_that(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    code, out = run(path, "add", "root", "--generate-password")
    assert code == 0 and "must be changed at the first sign-in" in out
    assert load_users(path)["root"].must_change_password
    assert run(path, "passwd", "root", "--password-stdin", stdin="a-chosen-password\n")[0] == 0
    assert not load_users(path)["root"].must_change_password


def test_a_bad_quota_in_auth_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    assert run(path, "add", "alice", "--password-stdin", stdin="correct horse\n")[0] == 0
    path.write_text(path.read_text() + "      quota:\n        messages_per_minute: lots\n")
    with pytest.raises(ConfigError, match="quota messages_per_minute must be a whole number"):
        load_users(path)
