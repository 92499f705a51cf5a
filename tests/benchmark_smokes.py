"""Every benchmark's smoke run: the size it runs at in the suite, and the lines it must print.

A benchmark checks that what it timed worked (a reply complete with its text, the rows in the
database, a page without an exception...) and exits non-zero when it did not; the suite runs each
as its own process at `--smoke`, the size its docstring gives, and it must exit 0 and print its
figure lines. The figures themselves are not checked: a smoke run's are not for quoting. Those
driving Chromium run with the browser tests (`tests/e2e/test_benchmarks_browser.py`), the others
in the first phase (`tests/integration/test_benchmarks.py`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

from tests.conftest import ROOT

FIGURE = r"[\d,]+(?:\.\d+)? "  # a number and its unit's space, as the benchmarks print them


@dataclass(frozen=True)
class Smoke:
    script: str
    argv: tuple[str, ...]
    figures: tuple[str, ...]  # a pattern per line that must be printed
    browser: bool = False

    def __str__(self) -> str:
        return self.script


SMOKES = [
    Smoke(
        "conversations.py",
        ("--smoke",),
        (
            rf"open a 1,000-message conversation\s+{FIGURE}ms\s+50 ms",
            rf"list the sidebar \(1,000 conversations\)\s+{FIGURE}ms",
            rf"search 2,000 messages \('river gla'\)\s+{FIGURE}ms",
            rf"fit a 1,000-message history to 16,000 tokens\s+{FIGURE}ms",
            rf"draw a 200-message conversation \(AppTest run\)\s+{FIGURE}ms",
        ),
    ),
    Smoke(
        "signin.py",
        ("--smoke",),
        (
            rf"known, wrong password\s+{FIGURE}ms",
            rf"unknown username\s+{FIGURE}ms",
            rf"right password\s+{FIGURE}ms",
            r"unknown / known\s+\d+\.\d+",
            rf"session check per page run, median of 20: {FIGURE}ms",
        ),
    ),
    Smoke(
        "attachments.py",
        ("--smoke",),
        (
            rf"MB PDF \(5 pages\), new: Enter -> first token\s+Parley {FIGURE}ms",
            rf"MB PDF \(5 pages\), sent again: Enter -> first token Parley {FIGURE}ms",
            rf"its text sent by the bare SDK\s+{FIGURE}ms",
            rf"Python's peak memory taking it\s+{FIGURE}MB",
            rf"1,200 x 900 photo \([\d.]+ MB\): Enter -> first token\s+Parley {FIGURE}ms",
            rf"request {FIGURE}KB resized, {FIGURE}KB as it is",
        ),
    ),
    Smoke(
        "stream.py",
        ("--smoke",),
        (
            rf"50 tokens as fast as possible\s+SDK\s+{FIGURE}ms\s+{FIGURE}ms",
            rf"50 tokens as fast as possible\s+Parley\s+{FIGURE}ms\s+{FIGURE}ms",
            rf"20 tokens at 60 tokens/s\s+Parley\s+{FIGURE}ms\s+{FIGURE}ms",
            r"overhead\s+[+-][\d.]+ ms\s+\d+\.\d+x",
        ),
    ),
    Smoke(
        "startup.py",
        ("--smoke", "--port", "{port}"),
        (
            r"run 1: make run -> login form \d+\.\d+ s",
            r"median, make run -> login form .*: \d+\.\d+ s",
            r"median, page load -> login form on a running server: \d+ ms",
        ),
        browser=True,
    ),
    Smoke(
        "load.py",
        ("--smoke",),
        (
            r"\| burst \| 1x1 \| 200 @ max \| [\d,]+ / [\d,]+ \| [\d,]+ / [\d,]+ \|",  # Parley beside the SDK
            r"\| burst \| [\d,]+ \| [\d,]+ \| [\d,]+ \| [+-][\d,]+ \|",  # Streamlit's own example, the floor
            r"\| burst \| 1 \| \d+ \| \d+ \| \d+ \| [\d,]+ \| 2 / 2 \| 0 / 0 \| 0 \| 0 / 0 \| 0 / 0 \|",
            r"\| burst: complete within 2\.0x the SDK \|",
            r"\| burst: complete within 1\.5x the SDK \(issue 19\) \| [\d.]+x; Streamlit's example [\d.]+x \|",
            r"\| growth \(1x3 turns of 200 tokens\): first, turns 3-3 within 1\.2x turns 2-2 \| [\d,]+ vs [\d,]+ ms",
            r"\| reopen \(20 turns, opened 1x\): its last message visible in under 1 s \(median\) \| [\d,]+ ms",
            r"\| reopen \(20 turns, opened 1x\): no browser long task over 200 ms \| longest [\d,]+ ms",
        ),
        browser=True,
    ),
]
# Benchmarks that are not run on their own here, and what runs them.
COVERED_THROUGH = {
    "load_model.py": "load.py --smoke starts it as the fake model server (ModelServer)",
    "load_sdk.py": "load.py --smoke starts it for the SDK's times (sdk_times)",
    "streamlit_example.py": "load.py --smoke times it as the floor, Streamlit's own chat example (example_times)",
}


def run_smoke(smoke: Smoke, port: int | None = None) -> None:
    """The benchmark at its smoke size in a process of its own: exit 0 and every figure line printed."""
    argv = [arg.format(port=port) for arg in smoke.argv]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PARLEY_")) and k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / smoke.script), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    said = f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"benchmarks/{smoke.script} {' '.join(argv)} exited {done.returncode}\n{said}"
    missing = [pattern for pattern in smoke.figures if not re.search(pattern, done.stdout)]
    assert not missing, f"benchmarks/{smoke.script} printed no line matching {missing}\n{said}"
