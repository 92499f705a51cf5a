"""The benchmarks that drive no browser, each run once at its smoke size
(`tests/benchmark_smokes.py`); the check that every benchmark has a smoke run somewhere; and
each benchmark a code block of the README or docs/ runs answers `--help`.

Those driving Chromium run with the browser tests (`tests/e2e/test_benchmarks_browser.py`). The
`--help` runs are made as the line runs them (`PYTHONPATH=.` only where the line says so), with
every option the line uses: `tests/unit/test_docs.py` reads the options from the source, and
leaves the running to this module (a benchmark imports most of Parley before it parses its
arguments: too slow for `make check`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.benchmark_smokes import COVERED_THROUGH, SMOKES, Smoke, run_smoke
from tests.conftest import ROOT
from tests.unit.test_docs import RUNS


@pytest.mark.parametrize("smoke", [s for s in SMOKES if not s.browser], ids=str)
def test_benchmark_runs_at_its_smoke_size(smoke: Smoke) -> None:
    run_smoke(smoke)


def test_every_benchmark_is_run_by_the_suite() -> None:
    """A new benchmark cannot be forgotten: it gets a smoke run (`tests/benchmark_smokes.py`), or says what runs it."""
    scripts = {path.name for path in (ROOT / "benchmarks").glob("*.py") if path.name != "__init__.py"}
    run = {smoke.script for smoke in SMOKES}
    assert scripts - run - set(COVERED_THROUGH) == set(), "benchmarks with no smoke run"
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
