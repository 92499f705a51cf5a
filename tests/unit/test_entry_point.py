"""app.py, the server's entry point: what it does beside handing Streamlit the app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_heap_made_at_start_is_kept_out_of_the_collectors_way() -> None:
    """`gc.freeze()` after the imports: a full collection then walks what the sessions made, not
    the libraries (a pause of the whole server of about 150 ms, measured, otherwise)."""
    probe = "import gc, app; print(gc.get_freeze_count(), len(gc.get_objects()))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    frozen, tracked = int(out[-2]), int(out[-1])
    assert frozen > 50_000 and tracked < frozen / 10, (frozen, tracked)
