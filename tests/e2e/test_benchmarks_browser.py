"""The benchmarks that drive Debian's Chromium, each run once at its smoke size
(`tests/benchmark_smokes.py`): with the other browser tests, one browser at a time."""

from __future__ import annotations

import pytest

from tests.benchmark_smokes import SMOKES, Smoke, run_smoke
from tests.conftest import chromium_path, require
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("smoke", [s for s in SMOKES if s.browser], ids=str)
def test_benchmark_runs_at_its_smoke_size(smoke: Smoke) -> None:
    require(chromium_path() is not None, "Debian's chromium is not installed")
    run_smoke(smoke, port=free_port())
