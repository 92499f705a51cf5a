"""Every benchmark, run once at its smoke size: a broken benchmark turns the suite red.

A benchmark checks that what it timed worked (a reply complete with its text, the rows in
the database, a page without an exception...) and exits non-zero when it did not; here
each runs as its own process at `--smoke`, the size its docstring gives, and must exit 0
and print its figure lines. The figures themselves are not checked: a smoke run's are
not for quoting. Those driving Chromium are marked `browser`; the others stay in this
module too (`tests/e2e`: processes of their own, about a minute in all).

Each benchmark a code block of the README or docs/ runs also answers `--help` here, run as
that line runs it (`PYTHONPATH=.` only where the line says so), with every option the line
uses: `tests/unit/test_docs.py` reads the options from the source, and leaves the running to
this module (a benchmark imports most of Parley before it parses its arguments).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT, chromium_path, require
from tests.e2e.conftest import free_port
from tests.unit.test_docs import RUNS

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


@pytest.mark.parametrize(
    "smoke", [pytest.param(s, marks=[pytest.mark.browser] if s.browser else [], id=s.script) for s in SMOKES]
)
def test_benchmark_runs_at_its_smoke_size(smoke: Smoke) -> None:
    if smoke.browser:
        require(chromium_path() is not None, "Debian's chromium is not installed")
    argv = [arg.format(port=free_port()) for arg in smoke.argv]
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


def test_every_benchmark_is_run_by_the_suite() -> None:
    """A new benchmark cannot be forgotten: it gets a smoke run above, or says what runs it."""
    scripts = {path.name for path in (ROOT / "benchmarks").glob("*.py") if path.name != "__init__.py"}
    run = {smoke.script for smoke in SMOKES}
    assert scripts - run - set(COVERED_THROUGH) == set(), "benchmarks with no smoke run in this module"
    assert (run | set(COVERED_THROUGH)) - scripts == set(), "smoke runs of benchmarks that are gone"
    load = (ROOT / "benchmarks" / "load.py").read_text()
    for script in COVERED_THROUGH:  # still started by load.py, and so by its smoke run
        assert f"benchmarks.{script.removesuffix('.py')}" in load or f'"{script}"' in load, script
    for smoke in SMOKES:  # the smoke size is documented where a reader looks: the docstring
        text = (ROOT / "benchmarks" / smoke.script).read_text()
        docstring = text[: text.index('"""', 3)]
        assert "--smoke" in docstring, f"benchmarks/{smoke.script}'s docstring does not give its smoke size"


@pytest.fixture(scope="module")
def helps() -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Every documented benchmark's `--help`, started at once: most of their time is imports, and they overlap."""
    started = {}
    for script, (assigned, _) in RUNS.items():
        env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        for name, value in assigned.items():
            env[name] = str(ROOT / value) if name == "PYTHONPATH" else value
        started[script] = subprocess.Popen(
            [sys.executable, script, "--help"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("script", sorted(RUNS))
def test_every_benchmark_run_in_a_code_block_answers_help_with_its_options(
    script: str, helps: dict[str, subprocess.Popen[str]]
) -> None:
    out, err = helps[script].communicate(timeout=120)
    assert helps[script].returncode == 0, err[-2000:]
    for option in RUNS[script][1]:
        assert option in out, f"{script} --help does not mention {option}"
