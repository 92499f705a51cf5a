"""chat/db/spool.py's file alone: a line it cannot read is set aside, not dropped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from chat.db import spool
from chat.domain.records import ConversationRecord, ReplyRecord
from chat.domain.status import ReplyStatus

AT = datetime(2026, 11, 26, 10, tzinfo=UTC)


def test_an_unreadable_line_is_set_aside_not_dropped(tmp_path: Path) -> None:
    file = spool.Spool(tmp_path / "spool.jsonl")
    whole = spool.Record(
        conversation=ConversationRecord(
            id="c" * 32, username="alice", title="t", model="m", system_prompt="", temperature=None, created_at=AT
        ),
        prompt=None,
        reply=ReplyRecord(content="", status=ReplyStatus.STOPPED, created_at=AT, finished_at=AT),
        reply_id=1,
        id="x",
    )
    file.path.write_text(json.dumps(whole.to_json()) + '\n{"id": "half a li\n')
    assert file.records() == [whole]
    (entry,) = [json.loads(line) for line in file.quarantine_path.read_text().splitlines()]
    assert entry["line"] == '{"id": "half a li' and entry["reason"].startswith("unreadable line (Unterminated string")
    assert json.loads(file.path.read_text())["id"] == "x"
    (shown,) = file.set_aside()
    assert (shown.what, shown.record_id, shown.reason) == ("an unreadable line", None, entry["reason"])
