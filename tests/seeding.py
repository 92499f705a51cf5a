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
            {k: v for k, v in copy.deepcopy(message).items() if k != "parent"}  # parents from the order
            | {"content": f"{kind} {number}"}
            | {k: day_ago for k, v in message.items() if k.endswith("_at") and v is not None}
            for number in range(1, turns + 1)
            for message, kind in ((prompt, "Question"), (reply, "Answer"))
        ]
        [created] = import_document(sessions, document, username)
        return created
    finally:
        engine.dispose()


def dated(database_url: str, username: str, conversations: list[tuple[str, datetime]]) -> list[str]:
    """Conversations (a title and when each was last used, one prompt each) for the sidebar's
    date groups: their ids, in the order given."""
    from uuid import uuid4

    from chat.db import store
    from chat.domain.records import ConversationRecord, PromptRecord

    engine = make_engine(database_url)
    try:
        ids = []
        with session_factory(engine).begin() as session:
            for title, when in conversations:
                record = ConversationRecord(
                    id=uuid4().hex,
                    username=username,
                    title=title,
                    model="gpt-4o-mini",
                    system_prompt="",
                    temperature=None,
                    created_at=when,
                )
                row = store.create_conversation(session, record, updated_at=when)
                store.write_prompt(session, row, PromptRecord(content=title, model=None, created_at=when))
                ids.append(record.id)
        return ids
    finally:
        engine.dispose()
