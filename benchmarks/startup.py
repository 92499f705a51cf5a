"""Time from `make run` to a usable login form, and of a page load on a running server.

    .venv/bin/python benchmarks/startup.py [--runs 3]

Starts `make run` in a scratch copy's own folder with the project's files (so your
.env, auth.yaml and data/ are untouched), waits for the login form in Debian's
Chromium, and prints the median over the runs. Requires `make install` and
chromium.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def scratch_copy() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="parley-startup-"))
    for name in ("app.py", "Makefile", "requirements.txt", ".env.example"):
        shutil.copy2(ROOT / name, folder / name)  # keep mtimes: make must see the venv as current
    for name in ("chat", "views", ".streamlit"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / ".venv").symlink_to(ROOT / ".venv")  # a warm machine: the venv exists
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    to_form: list[float] = []
    reloads: list[float] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PARLEY_")) and k != "DATABASE_URL"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for run in range(args.runs):
            folder = scratch_copy()
            started = time.perf_counter()
            process = subprocess.Popen(
                ["make", "run", f"PORT={args.port}"],
                cwd=folder,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            page = browser.new_page()
            url = f"http://127.0.0.1:{args.port}/"
            while True:
                try:
                    page.goto(url, timeout=2000)
                    break
                except Exception:
                    time.sleep(0.05)
            page.get_by_role("textbox", name="Username").wait_for(timeout=60_000)
            to_form.append(time.perf_counter() - started)
            for _ in range(3):
                reload_started = time.perf_counter()
                page.reload()
                page.get_by_role("textbox", name="Username").wait_for(timeout=60_000)
                reloads.append(time.perf_counter() - reload_started)
            page.close()
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
            shutil.rmtree(folder, ignore_errors=True)
            print(f"run {run + 1}: make run -> login form {to_form[-1]:.2f} s", flush=True)
        browser.close()
    print(f"median, make run -> login form (first start: .env, admin, database): {statistics.median(to_form):.2f} s")
    print(f"median, page load -> login form on a running server: {statistics.median(reloads) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
