"""A long conversation in a user's log, for tests of what a long one draws (issue 19, point 3)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from chat.db.documents import import_document, user_export
from chat.db.engine import make_engine, session_factory


def lengthened(database_url: str, username: str, turns: int) -> str:
    """A copy of the user's only conversation (one turn, sent by the test) with `turns` turns,
    "Question n" and "Answer n", written a day ago (outside any quota's window): its id."""
    engine = make_engine(database_url)
    try:
        sessions = session_factory(engine)
        document = user_export(sessions, username)
        [conversation] = document["conversations"]
        prompt, reply = conversation["messages"]
        day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        conversation["messages"] = [
            {**copy.deepcopy(message), "content": f"{kind} {number}"}
            | {k: day_ago for k in message if k.endswith("_at")}
            for number in range(1, turns + 1)
            for message, kind in ((prompt, "Question"), (reply, "Answer"))
        ]
        [created] = import_document(sessions, document, username)
        return created
    finally:
        engine.dispose()
