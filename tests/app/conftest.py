"""AppTest flows draw the chat page, which starts the warm-up thread (`chat/ui/warmup.py`): in
the test process it imports nothing and freezes nothing (the unit tests run the real one in a
fresh interpreter), so the tests' objects stay collectable."""

from __future__ import annotations

import pytest

from chat.ui import warmup


@pytest.fixture(autouse=True)
def no_warm_up_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warmup, "warm", lambda: None)
