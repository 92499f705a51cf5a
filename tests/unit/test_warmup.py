"""The server imports, as it starts, what the first reply would otherwise wait for
(`chat/web/warmup.py`). Each check runs in a fresh interpreter: this one has imported
everything long ago."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from chat.web.warmup import MODULES
from tests.conftest import ROOT


def fresh(code: str) -> dict[str, object]:
    """Run `code` in a new interpreter; it prints one JSON object, returned."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_first_write_stream_question_imports_exactly_what_is_warmed() -> None:
    """`st.write_stream` asks `is_dataframe_like` of the generator it streams: the first time,
    Streamlit imports these modules. If an upgrade changes what it imports, the list must follow."""
    seen = fresh(
        f"""
        import json, sys
        from streamlit import dataframe_util
        wanted = {list(MODULES)!r}
        before = [m for m in wanted if m in sys.modules]
        assert not dataframe_util.is_dataframe_like(word for word in ["a", "b"])
        print(json.dumps({{"before": before, "after": [m for m in wanted if m in sys.modules]}}))
        """
    )
    assert seen == {"before": [], "after": list(MODULES)}


def test_the_server_starting_imports_them_beside_it_and_freezes_them() -> None:
    seen = fresh(
        f"""
        import asyncio, gc, json, sys, threading
        from chat.web.app import lifespan
        from chat.web.warmup import THREAD_NAME
        wanted = {list(MODULES)!r}
        before = [m for m in wanted if m in sys.modules]
        frozen = gc.get_freeze_count()

        async def start_and_stop():
            async with lifespan(None):
                for thread in threading.enumerate():
                    if thread.name == THREAD_NAME:
                        thread.join(60)

        asyncio.run(start_and_stop())
        print(json.dumps({{
            "before": before,
            "after": [m for m in wanted if m in sys.modules],
            "frozen more": gc.get_freeze_count() > frozen,
        }}))
        """
    )
    assert seen == {"before": [], "after": list(MODULES), "frozen more": True}
