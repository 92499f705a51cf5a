"""Speed of conversations on SQLite: open, list, search, fitting the context, drawing a long one.

    PYTHONPATH=. .venv/bin/python benchmarks/conversations.py [--messages 100000] [--postgres] [--smoke]

Builds its own data in a temp folder (one user with 1,000 conversations, one of
them 1,000 messages long, and 100,000 messages in all), then prints the median
of repeated runs of each operation beside its target. Figures, not a test: the
machine is shared, so quote medians from one run. Each run is checked: the
conversation opened whole, the sidebar listing its 200 newest, each search finding
what the data holds, the history trimmed to the budget, and the AppTest drawing
with no exception or error and all 200 messages on screen; a failed one ends the
benchmark with a non-zero exit and the reason, never a figure.

`--smoke` is the size the test suite runs (`tests/benchmark_smokes.py`):
2,000 messages and 3 runs of each operation, to prove the benchmark works, not
to quote.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from chat.db.engine import init_db, make_engine, session_factory
from chat.db.tables import Conversation, Message, new_id, utcnow
from chat.domain.planning import RequestPlan
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


RUNS = 20  # of each operation; --smoke: 3


class BenchmarkFailed(Exception):
    """What was timed did not do its work: the benchmark stops with this, not a figure."""


def median_ms(operation: Callable[[], object], check: Callable[[object], str | None], runs: int | None = None) -> float:
    """Median of `runs` timed calls after a warm-up; `check(result)` says what is wrong, or None."""
    times = []
    for index in range(1 + (runs or RUNS)):  # the first warms caches and is not timed
        started = time.perf_counter()
        result = operation()
        elapsed = (time.perf_counter() - started) * 1000
        problem = check(result)
        if problem:
            raise BenchmarkFailed(problem)
        if index:
            times.append(elapsed)
    return statistics.median(times)


def expect_length(what: str, expected: int) -> Callable[[object], str | None]:
    def check(result: object) -> str | None:
        found = None if result is None else len(result)  # type: ignore[arg-type]
        return None if found == expected else f"{what}: expected {expected:,}, got {found}"

    return check


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
    if not service.tokens.counter(options.model).exact:  # the table loads once per process
        raise BenchmarkFailed(f"no exact token count for {options.model}: the figure would be an estimate's")
    budget = service.settings.context_tokens

    def check(plan: object) -> str | None:
        assert isinstance(plan, RequestPlan)
        if not 0 < plan.tokens <= budget or plan.left_out == 0 or plan.messages[-1]["content"] != "And next?":
            return f"fitting the history: {plan.tokens} tokens of {budget}, {plan.left_out} left out"
        return None

    return median_ms(lambda: service.plan_request(history, "And next?", options), check)


def render_ms(long_id: str, service: ChatService) -> float:
    """AppTest run of the chat drawing code over a 200-message conversation (AppTest's own overhead included)."""
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    history = (service.open_conversation("bench", long_id) or [])[:200]
    if len(history) != 200:
        raise BenchmarkFailed(f"the conversation to draw has {len(history)} messages, not 200")

    def script(messages: list, url: str, conversation_id: str) -> None:  # type: ignore[type-arg]
        from chat.accounts.auth import SignedIn
        from chat.db.quotas import Quota
        from chat.settings import Settings
        from chat.ui.conversation import draw_conversation
        from chat.ui.resources import chat_service
        from chat.ui.state import ChatState

        service = chat_service(Settings.from_env({"PARLEY_COOKIE_KEY": "b" * 40, "DATABASE_URL": url}, env_file=None))
        user = SignedIn("bench", "Bench", ("user",), session_hash="bench", quota=Quota(0, 0))
        # All of it ("Show earlier" clicked through): with every reply's thumbs, copy and the last one's actions.
        chat = ChatState(history=list(messages), conversation_id=conversation_id, first_shown=0)
        draw_conversation(chat, user, service)

    config.set_option("client.showErrorDetails", "full")  # the failure's own message, not the page's redaction
    app = AppTest.from_function(script, args=(history, service.settings.database_url, long_id), default_timeout=60)

    def drawn(result: object) -> str | None:
        # AppTest keeps a script's exception as an element: a run that raised is a failure, not a figure.
        if app.exception:
            return "drawing the conversation raised: " + " | ".join(e.message for e in app.exception)
        if app.error:
            return "drawing the conversation showed an error: " + " | ".join(e.value for e in app.error)
        if len(app.chat_message) != 200:
            return f"drawing the conversation showed {len(app.chat_message)} messages, not 200"
        return None

    return median_ms(lambda: app.run(), drawn, runs=min(5, RUNS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="in all (at least 1,000; default 100,000)")
    parser.add_argument(
        "--postgres", action="store_true", help="on a throwaway PostgreSQL server (Debian's) instead of SQLite"
    )
    parser.add_argument("--smoke", action="store_true", help="the suite's size: 2,000 messages, 3 runs each")
    args = parser.parse_args()
    global RUNS
    if args.smoke:
        args.messages, RUNS = 2_000, 3
    if args.messages < 1_000:
        parser.error("--messages: at least 1,000 (the long conversation alone has 1,000)")
    try:
        results = measure(args.messages, args.postgres)
    except BenchmarkFailed as failure:
        sys.exit(f"benchmark failed: {failure}")
    print(f"{'operation':<48} {'median':>10} {'target':>8}  result")
    for name, value, target in results:
        verdict = "" if target is None else ("met" if value < target else "missed")
        target_text = "" if target is None else f"{target} ms"
        print(f"{name:<48} {value:>7.1f} ms {target_text:>8}  {verdict}")


def measure(total: int, postgres: bool) -> list[tuple[str, float, int | None]]:
    with tempfile.TemporaryDirectory() as folder, database(Path(folder), postgres) as url:
        started = time.perf_counter()
        service, long_id = build(url, total)
        engine_name = "PostgreSQL" if postgres else "SQLite"
        print(
            f"{engine_name}: built 1,000 conversations and {total:,} messages in {time.perf_counter() - started:.1f} s"
        )
        # What the data holds: " zeppelin" ends every 1,000th message; no message has "zebra".
        # Search shows the newest 50 hits.
        zeppelins = min(50, (total + 999) // 1000)

        def hits(what: str, at_least: int, at_most: int) -> Callable[[object], str | None]:
            def check(result: object) -> str | None:
                found = len(result)  # type: ignore[arg-type]
                return None if at_least <= found <= at_most else f"search {what}: {found} hits"

            return check

        search_all = hits("'river gla'", 50, 50)
        return [
            (
                "open a 1,000-message conversation",
                median_ms(lambda: service.open_conversation("bench", long_id), expect_length("opening", 1000)),
                50,
            ),
            (
                "list the sidebar (1,000 conversations)",
                median_ms(lambda: service.conversations("bench"), expect_length("the sidebar", 200)),  # newest 200
                50,
            ),
            (
                f"search {total:,} messages ('river gla')",
                median_ms(lambda: service.search("bench", "river gla"), search_all),
                200,
            ),
            (
                "search a word in 100 of them ('zeppelin')",
                median_ms(lambda: service.search("bench", "zeppelin"), hits("'zeppelin'", zeppelins, zeppelins)),
                200,
            ),
            (
                "search a word in none of them ('river zebra')",
                median_ms(lambda: service.search("bench", "river zebra"), hits("'river zebra'", 0, 0)),
                200,
            ),
            ("fit a 1,000-message history to 16,000 tokens", plan_ms(long_id, service), None),
            ("draw a 200-message conversation (AppTest run)", render_ms(long_id, service), None),
        ]


if __name__ == "__main__":
    main()
