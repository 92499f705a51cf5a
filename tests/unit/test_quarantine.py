"""chat/db/quarantine.py's file without a database: an older Parley's file of unreadable lines, a
quarantine that cannot be read. What is set aside and why, on both engines: tests/integration/test_quarantine.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chat.db import spool


def quarantined(file: spool.Spool) -> list[dict[str, Any]]:
    return [json.loads(line) for line in file.quarantine_path.read_text().splitlines()]


def test_an_older_parley_s_bad_file_is_read_into_the_one_quarantine(tmp_path: Path) -> None:
    file = spool.Spool(tmp_path / "spool.jsonl")
    Path(f"{file.path}.bad").write_text('{"id": "half a li\n')
    (shown,) = file.set_aside()
    assert shown.what == "an unreadable line" and "spool.jsonl.bad" in shown.reason
    assert not Path(f"{file.path}.bad").exists()
    assert quarantined(file)[0]["line"] == '{"id": "half a li'


def test_a_quarantine_that_cannot_be_read_is_reported_not_raised(tmp_path: Path) -> None:
    file = spool.Spool(tmp_path / "spool.jsonl")
    file.quarantine_path.mkdir()  # as good as unreadable, even for root
    (shown,) = file.set_aside()
    assert shown.reason == "the quarantine file cannot be read (Is a directory)"
