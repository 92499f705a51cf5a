"""Speed of conversations on SQLite: open, list, search, fitting the context, drawing a long one.

    PYTHONPATH=. .venv/bin/python benchmarks/conversations.py [--messages 100000] [--postgres]

Builds its own data in a temp folder (one user with 1,000 conversations, one of
them 1,000 messages long, and 100,000 messages in all), then prints the median
of repeated runs of each operation beside its target. Figures, not a test: the
machine is shared, so quote medians from one run.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from chat.db.engine import init_db, make_engine, session_factory
from chat.db.tables import Conversation, Message, new_id, utcnow
from chat.llm.client import build_model
from chat.settings import Settings
from chat.turns.service import ChatService, ConversationOptions

WORDS = [
    "river",
    "mountain",
    "garden",
    "teacher",
    "window",
    "yellow",
    "quantum",
    "market",
    "silver",
    "forest",
    "planet",
    "engine",
    "budget",
    "harbor",
    "violin",
    "pepper",
    "castle",
    "rocket",
    "meadow",
    "lantern",
    "orbit",
    "canyon",
    "desert",
    "glacier",
    "island",
    "jungle",
]


def median_ms(operation: Callable[[], object], runs: int = 20) -> float:
    operation()  # warm caches once
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        operation()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@contextmanager
def database(folder: Path, postgres: bool) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    from tests import postgres_server

    server = Path(tempfile.mkdtemp(prefix="parley-bench-postgres-"))
    try:
        yield postgres_server.start(server)
    finally:
        postgres_server.stop(server)
        shutil.rmtree(server, ignore_errors=True)


def build(database_url: str, total_messages: int) -> tuple[ChatService, str]:
    settings = Settings.from_env({"PARLEY_COOKIE_KEY": "b" * 40, "DATABASE_URL": database_url}, env_file=None)
    engine = make_engine(settings.database_url)
    init_db(engine)
    rng = random.Random(7)
    start = utcnow() - timedelta(days=30)
    conversations = [
        {
            "id": new_id(),
            "username": "bench",
            "title": " ".join(rng.sample(WORDS, 4)),
            "model": "gpt-4o-mini",
            "system_prompt": "",
            "created_at": start + timedelta(minutes=i),
            "updated_at": start + timedelta(minutes=i),
        }
        for i in range(1000)
    ]
    long_one = conversations[0]["id"]
    messages = []
    for index in range(total_messages):
        conversation = long_one if index < 1000 else conversations[1 + index % 999]["id"]
        messages.append(
            {
                "conversation_id": conversation,
                "username": "bench",
                "role": "user" if index % 2 == 0 else "assistant",
                "content": " ".join(rng.choices(WORDS, k=40)) + (" zeppelin" if index % 1000 == 0 else ""),
                "status": "complete",
                "created_at": start + timedelta(seconds=index),
                "updated_at": start + timedelta(seconds=index),
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(Conversation), conversations)
        for chunk in range(0, len(messages), 10_000):
            connection.execute(insert(Message), messages[chunk : chunk + 10_000])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")  # what autovacuum does soon after a load like this
    return ChatService(settings, session_factory(engine), build_model(settings)), long_one


def plan_ms(long_id: str, service: ChatService) -> float:
    """Counting (o200k, exact) and trimming the history for the next request: done before each send."""
    history = service.open_conversation("bench", long_id) or []
    options = ConversationOptions("gpt-4o-mini", "You are a helpful assistant.")
    assert service.tokens.counter(options.model).exact  # the table loads once per process
    return median_ms(lambda: service.plan_request(history, "And next?", options))


def render_ms(long_id: str, service: ChatService) -> float:
    """AppTest run of the chat drawing code over a 200-message conversation (AppTest's own overhead included)."""
    from streamlit.testing.v1 import AppTest

    history = (service.open_conversation("bench", long_id) or [])[:200]

    def script(messages: list, url: str, conversation_id: str) -> None:  # type: ignore[type-arg]
        from chat.settings import Settings
        from chat.ui import pages as ui

        service = ui.chat_service(
            Settings.from_env({"PARLEY_COOKIE_KEY": "b" * 40, "DATABASE_URL": url}, env_file=None)
        )
        user = ui.SignedIn(username="bench", name="Bench", roles=("user",))
        chat = ui.ChatState(history=list(messages), conversation_id=conversation_id)
        ui.draw_conversation(chat, user, service)  # with every reply's thumbs, copy and the last one's actions

    app = AppTest.from_function(script, args=(history, service.settings.database_url, long_id), default_timeout=60)
    return median_ms(lambda: app.run(), runs=5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument(
        "--postgres", action="store_true", help="on a throwaway PostgreSQL server (Debian's) instead of SQLite"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, database(Path(folder), args.postgres) as url:
        started = time.perf_counter()
        service, long_id = build(url, args.messages)
        engine_name = "PostgreSQL" if args.postgres else "SQLite"
        print(
            f"{engine_name}: built 1,000 conversations and {args.messages:,} messages"
            f" in {time.perf_counter() - started:.1f} s"
        )
        results = [
            ("open a 1,000-message conversation", median_ms(lambda: service.open_conversation("bench", long_id)), 50),
            ("list the sidebar (1,000 conversations)", median_ms(lambda: service.conversations("bench")), 50),
            (
                f"search {args.messages:,} messages ('river gla')",
                median_ms(lambda: service.search("bench", "river gla")),
                200,
            ),
            (
                "search a word in 100 of them ('zeppelin')",
                median_ms(lambda: service.search("bench", "zeppelin")),
                200,
            ),
            (
                "search a word in none of them ('river zebra')",
                median_ms(lambda: service.search("bench", "river zebra")),
                200,
            ),
            ("fit a 1,000-message history to 16,000 tokens", plan_ms(long_id, service), None),
            ("draw a 200-message conversation (AppTest run)", render_ms(long_id, service), None),
        ]
    print(f"{'operation':<48} {'median':>10} {'target':>8}  result")
    for name, value, target in results:
        verdict = "" if target is None else ("met" if value < target else "missed")
        target_text = "" if target is None else f"{target} ms"
        print(f"{name:<48} {value:>7.1f} ms {target_text:>8}  {verdict}")


if __name__ == "__main__":
    main()
