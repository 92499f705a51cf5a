"""Parley's one command line: `python -m chat <command>` (or the `parley` script).

Every command an operator runs is here, on click, as a thin layer over the module that
does the work (chat/ops/: users.py, upgrade.py, backup.py, purge.py, export.py, health.py,
bootstrap.py). One convention for all of them:

- exit 0: done (what was done is printed on stdout);
- exit 1: Parley refused or could not do it; the reason, one sentence, on stderr as
  `Error: <sentence>`. That is every `ChatError` (chat/errors.py), a health check that
  finds a problem, and `migrate --check` finding migrations pending (said on stdout);
- exit 2: the command line itself is wrong (click's usage message);
- anything else is a bug and stays loud: a traceback, as for any Python program.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from chat.accounts.authfile import ROLES, check_password
from chat.errors import ChatError

# Each command imports its `chat.ops` module itself: `--help` and the image's health check,
# run every 30 s, should not pay for importing every layer (3.1 s -> 0.16 s for `--help` here).


class ParleyGroup(click.Group):
    """A click group that prints a ChatError as `Error: <sentence>` on stderr and exits 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ChatError as error:
            # One line, whatever the sentence was built from (a configuration report spans several).
            raise click.ClickException(" ".join(error.message.split())) from None


@click.group(cls=ParleyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Parley's operations: users, the database, backups, retention, export, health."""


def main() -> None:
    """The `parley` console script and `python -m chat`."""
    cli()


# --- users ---------------------------------------------------------------------------------


@cli.group(cls=ParleyGroup)
@click.option(
    "--file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The users file (default: PARLEY_AUTH_FILE, from the environment or .env, else auth.yaml).",
)
@click.pass_context
def users_group(ctx: click.Context, file: Path | None) -> None:
    """Add, change, remove and list the people who may sign in (auth.yaml)."""
    from chat.ops import users

    ctx.obj = file or users.default_auth_file()


cli.add_command(users_group, name="users")


def _password(from_stdin: bool) -> str:
    """From stdin's first line (--password-stdin), else asked twice without echo: never from argv."""
    if from_stdin:
        line = sys.stdin.readline()  # CliRunner's input in tests
        return line[:-1] if line.endswith("\n") else line
    first: str = click.prompt("Password", hide_input=True)
    check_password(first)  # said before the second prompt, not after
    if click.prompt("Repeat password", hide_input=True) != first:
        raise ChatError("The passwords do not match; nothing was changed.")
    return first


def _limit(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from chat.ops import users

    if value is not None and not users.is_limit(value):
        raise click.BadParameter("a whole number >= 0 (0: no limit) or 'default'")
    return value


@users_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="user", show_default=True)
@click.option("--name", help="Display name (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
@click.option("--generate-password", is_flag=True, help="Make a random password and print it once.")
@click.pass_obj
def users_add(
    file: Path, username: str, role: str, name: str | None, password_stdin: bool, generate_password: bool
) -> None:
    """Add a user (the password is asked twice, without echo)."""
    from chat.ops import users

    if password_stdin and generate_password:
        raise click.UsageError("--password-stdin and --generate-password cannot be used together.")
    password = None if generate_password else _password(password_stdin)
    click.echo(users.add(file, username, password, role=role, name=name))


@users_group.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
@click.pass_obj
def users_passwd(file: Path, username: str, password_stdin: bool) -> None:
    """Change a user's password."""
    from chat.ops import users

    click.echo(users.passwd(file, username, _password(password_stdin)))


@users_group.command("remove")
@click.argument("username")
@click.pass_obj
def users_remove(file: Path, username: str) -> None:
    """Remove a user."""
    from chat.ops import users

    click.echo(users.remove(file, username))


@users_group.command("quota")
@click.argument("username")
@click.option("--messages-per-minute", metavar="N", callback=_limit, help="A number, 0 for no limit, or 'default'.")
@click.option("--tokens-per-day", metavar="N", callback=_limit, help="A number, 0 for no limit, or 'default'.")
@click.pass_obj
def users_quota(file: Path, username: str, messages_per_minute: str | None, tokens_per_day: str | None) -> None:
    """Set a user's quota overrides."""
    from chat.ops import users

    click.echo(users.quota(file, username, messages_per_minute=messages_per_minute, tokens_per_day=tokens_per_day))


@users_group.command("list")
@click.pass_obj
def users_list(file: Path) -> None:
    """List users, their roles and quota overrides (never a password hash)."""
    from chat.ops import users

    click.echo(users.listing(file))


# --- the database --------------------------------------------------------------------------


@cli.command("migrate")
@click.option("--check", is_flag=True, help="Only say whether migrations are pending (exit 1 if so).")
@click.pass_context
def migrate_command(ctx: click.Context, check: bool) -> None:
    """Apply pending database migrations (DATABASE_URL), under a lock."""
    from chat.ops import upgrade

    if not check:
        click.echo(upgrade.run_upgrade())
        return
    current, line = upgrade.run_check()
    click.echo(line)
    if not current:
        ctx.exit(1)


@cli.command("backup")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File to write (default: backups/parley-YYYYMMDD-HHMMSS.db or .dump).",
)
def backup_command(output: Path | None) -> None:
    """Write a consistent copy of the database, taken while Parley runs."""
    from chat.ops import backup

    click.echo(backup.run_create(output))


@cli.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
def restore_command(file: Path) -> None:
    """Replace the database with a backup (the current one is saved first; every sign-in ends)."""
    from chat.ops import backup

    click.echo(backup.run_restore(file))


@cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
def purge_command(dry_run: bool) -> None:
    """Remove conversations past PARLEY_RETENTION_DAYS, deleted ones first, and old sign-in records."""
    from chat.ops import purge as admin

    click.echo(admin.run_purge(dry_run=dry_run))


# --- conversations ---------------------------------------------------------------------------


@cli.command("export")
@click.option("--user", "username", required=True, help="Whose conversations.")
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), help="File to write (default: standard output)."
)
def export_command(username: str, out: Path | None) -> None:
    """Write a user's conversations as JSON (every field: an import loses nothing)."""
    from chat.ops import export

    text = export.export_user(username)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")


@cli.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--user", "username", required=True, help="Whose conversations they become.")
def import_command(file: Path, username: str) -> None:
    """Read an export back in, as new conversations of --user."""
    from chat.ops import export

    click.echo(export.import_file(file, username))


# --- running -------------------------------------------------------------------------------


@cli.command("health")
@click.option("--deep", is_flag=True, help="Also check that the model server answers.")
def health_command(deep: bool) -> None:
    """Is this Parley able to serve? One line; exit 0 when healthy, 1 with the reason."""
    from chat.ops import health

    click.echo(health.check(deep))


@cli.command("bootstrap")
@click.option("--check", is_flag=True, help="Only check; create nothing.")
@click.option("--env-file", type=click.Path(path_type=Path, dir_okay=False), default=Path(".env"), show_default=True)
@click.option(
    "--no-env-file",
    is_flag=True,
    help="Read settings from the environment only and write no .env (containers: docker run --env-file).",
)
@click.option("--port", help="Check first that Streamlit can listen on this port (make run: PORT).")
@click.option("--address", default="0.0.0.0", show_default=True, help="... at this address (make run: ADDRESS).")
def bootstrap_command(check: bool, env_file: Path, no_env_file: bool, port: str | None, address: str) -> None:
    """Set up what is missing (.env, the first admin, the database) and check that Parley can start."""
    from chat.ops import bootstrap

    # What this makes (.env, auth.yaml, the database and its folder) is for no other user.
    previous = os.umask(0o077)
    try:
        bootstrap.start(
            check=check, env_file=None if no_env_file else env_file, port=port, address=address, say=click.echo
        )
    finally:
        os.umask(previous)
