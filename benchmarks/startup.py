"""Time from `make run` to a usable login form, and of a page load on a running server.

    .venv/bin/python benchmarks/startup.py [--runs 3] [--smoke]

Starts `make run` in a scratch copy's own folder with the project's files (so your
.env, auth.yaml and data/ are untouched), waits for the login form in Debian's
Chromium, and prints the median over the runs. Requires `make install` and
chromium. Each run is checked: `make run` still serving when timed, the login form
(username, password, Sign in) on the page with no error or exception shown, and
the first start's work done (.env, auth.yaml with the admin, the database); a run
that failed ends the benchmark with a non-zero exit, the reason and make's output,
never a figure.

`--smoke` is the size the test suite runs (`tests/benchmark_smokes.py`): one
run, one reload, to prove the benchmark works, not to quote.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def scratch_copy() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="parley-startup-"))
    stamp = ROOT / ".venv" / ".runtime"  # make's mark of an installed venv
    if not stamp.exists():
        fail("no installed .venv (run make install first)")
    for name in ("app.py", "router.py", "Makefile", "pyproject.toml", "requirements.txt", ".env.example"):
        shutil.copy2(ROOT / name, folder / name)
    for name in ("chat", "views", ".streamlit"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / ".venv").symlink_to(ROOT / ".venv")  # a warm machine: the venv exists
    # make must see the venv as current, never install into the project's venv: a checkout
    # newer than the venv's stamp (a fresh worktree) would otherwise make it reinstall.
    requirements = folder / "requirements.txt"
    if requirements.stat().st_mtime_ns > stamp.stat().st_mtime_ns:
        os.utime(requirements, ns=(stamp.stat().st_atime_ns, stamp.stat().st_mtime_ns))
    return folder


def fail(reason: str, folder: Path | None = None) -> NoReturn:
    output = (folder / "make-run.log").read_text(errors="replace")[-3000:] if folder else ""
    sys.exit(f"benchmark failed: {reason}" + (f"\n--- make run said:\n{output}" if output else ""))


def login_form(page: Page, process: subprocess.Popen[bytes], folder: Path) -> None:
    """The login form, whole and without an error, from a `make run` that is still serving."""
    try:
        page.get_by_role("textbox", name="Username").wait_for(timeout=60_000)
    except Exception as error:
        fail(f"no login form within 60 s ({str(error).splitlines()[0]})", folder)
    if process.poll() is not None:
        fail(f"make run exited ({process.returncode})", folder)
    # Streamlit draws a page element by element: the form is usable once its last part is there.
    for role, name in (("textbox", "Password"), ("button", "Sign in")):
        try:
            page.get_by_role(role, name=name).wait_for(timeout=10_000)
        except Exception:
            fail(f"the login form has no {name} {'field' if role == 'textbox' else 'button'}", folder)
    if page.locator(ERRORS).count():
        fail(f"the page shows an error: {page.locator(ERRORS).first.inner_text()[:300]}", folder)


def make_run(folder: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`make run` in `folder`, its output in make-run.log there, in a process group of its own."""
    with (folder / "make-run.log").open("wb") as output:
        return subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def open_first(page: Page, url: str, process: subprocess.Popen[bytes], folder: Path) -> None:
    """Load `url` as soon as the server answers (within 120 s, and while `make run` lives)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            page.goto(url, timeout=2000)
            return
        except Exception:
            if process.poll() is not None:
                fail(f"make run exited ({process.returncode}) before serving", folder)
            if time.monotonic() > deadline:
                fail(f"nothing served on {url} within 120 s", folder)
            time.sleep(0.05)


def one_run(browser: Browser, port: int, env: dict[str, str], reload_count: int) -> tuple[float, list[float]]:
    """A first start in a scratch copy: seconds from `make run` to the login form, and each reload's."""
    folder = scratch_copy()
    started = time.perf_counter()
    process = make_run(folder, port, env)
    reloads = []
    try:
        page = browser.new_page()
        open_first(page, f"http://127.0.0.1:{port}/", process, folder)
        login_form(page, process, folder)
        to_form = time.perf_counter() - started
        for _ in range(reload_count):
            reload_started = time.perf_counter()
            page.reload()
            login_form(page, process, folder)
            reloads.append(time.perf_counter() - reload_started)
        page.close()
        missing = [name for name in (".env", "auth.yaml", "data") if not (folder / name).exists()]
        if missing:
            fail(f"the first start left no {', '.join(missing)}", folder)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    shutil.rmtree(folder, ignore_errors=True)
    return to_form, reloads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--smoke", action="store_true", help="the suite's size: one run, one reload")
    args = parser.parse_args()
    reload_count = 3
    if args.smoke:
        args.runs, reload_count = 1, 1
    to_form: list[float] = []
    reloads: list[float] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PARLEY_")) and k != "DATABASE_URL"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for run in range(args.runs):
            seconds, reloaded = one_run(browser, args.port, env, reload_count)
            to_form.append(seconds)
            reloads += reloaded
            print(f"run {run + 1}: make run -> login form {to_form[-1]:.2f} s", flush=True)
        browser.close()
    print(f"median, make run -> login form (first start: .env, admin, database): {statistics.median(to_form):.2f} s")
    print(f"median, page load -> login form on a running server: {statistics.median(reloads) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
