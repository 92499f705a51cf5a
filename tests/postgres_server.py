"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temp folder,
127.0.0.1 only, trust authentication (nothing else can reach it).

    python3 -m tests.postgres_server start DIR   # prints the server's URL
    python3 -m tests.postgres_server stop DIR

Standard library only, so `.ci/run` can start it before the venv exists. The
test suite starts one itself when `PARLEY_TEST_POSTGRES_URL` is not set.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path

USER = "postgres"


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs (Debian keeps them off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(args: list[str], folder: Path) -> None:
    # initdb refuses to run as root: as root, run the server as Debian's `postgres` user.
    if os.geteuid() == 0:
        account = pwd.getpwnam(USER)
        shutil.chown(folder, account.pw_uid, account.pw_gid)
        args = ["runuser", "-u", USER, "--", *args]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=folder)


def start(folder: Path) -> str:
    programs = bin_dir()
    if programs is None:
        raise FileNotFoundError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    port = _free_port()
    _run(
        [
            str(programs / "initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",  # a UTF-8 ctype: full-text search lowercases beyond ASCII
        ],
        folder,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
    _run(
        [str(programs / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", options, "-w", "start"],
        folder,
    )
    url = f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres"
    (folder / "url").write_text(url)
    return url


def stop(folder: Path) -> None:
    programs = bin_dir()
    if programs is not None and (folder / "data").exists():
        _run([str(programs / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w", "stop"], folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    try:
        if args.action == "start":
            print(start(args.folder))
        else:
            stop(args.folder)
    except subprocess.CalledProcessError as error:
        sys.exit(f"{' '.join(error.cmd)} failed:\n{error.stderr.decode(errors='replace')}")


if __name__ == "__main__":
    main()
