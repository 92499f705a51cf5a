"""Does Parley's reply path slow the stream? The bare `openai` SDK against Parley's
worker (`ChatService.start_turn`, then `Turn.follow()` as the page reads it), on the
same fake server, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/stream.py [--turns 7] [--smoke]

The fake OpenAI server runs in its own process. Prints medians of first-token and
complete times per workload, and Parley's overhead (a ratio under 1 when Parley reads
a fast stream quicker than the SDK does: it takes the events as JSON, not as the SDK's
pydantic objects, chat/llm/chunks.py). Figures, not a test: the machine
is shared, so quote medians from one run. (Browser rendering is the load
benchmark's subject; this is the server side only.) Every timed turn is checked:
the SDK's text and Parley's reply must be the server's whole text, the reply
`complete` and saved, and the database must hold each prompt and its complete
reply once; otherwise the benchmark exits non-zero with the reason, never a figure.

`--smoke` is the size the test suite runs (`tests/benchmark_smokes.py`): one
turn of each workload with replies of 50 and 20 tokens, to prove the benchmark
works, not to quote.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import openai
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from chat.db.engine import init_db, make_engine, session_factory
from chat.db.tables import Message
from chat.domain.status import ReplyStatus
from chat.llm.client import build_model
from chat.settings import Settings
from chat.turns.service import ChatService
from chat.ui.pacing import pace

WORKLOADS = [(2000, 0.0), (300, 60.0)]  # (tokens, tokens per second; 0: as fast as possible)
SMOKE_WORKLOADS = [(50, 0.0), (20, 60.0)]


def workload_name(tokens: int, rate: float) -> str:
    return f"{tokens:,} tokens " + (f"at {rate:g} tokens/s" if rate else "as fast as possible")


def reply_text(tokens: int) -> str:
    return " ".join(f"w{i}" for i in range(tokens))


def fail(reason: str) -> NoReturn:
    sys.exit(f"benchmark failed: {reason}")


@contextmanager
def fake_server(tokens: int, rate: float) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = reply_text(tokens)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_openai",
            "--port",
            str(port),
            "--tokens-per-second",
            str(rate),
            "--text",
            text,
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def sdk_times(url: str, expected: str) -> tuple[float, float]:
    client = openai.OpenAI(base_url=url, api_key="sk-bench")
    started = time.perf_counter()
    first = None
    pieces = []
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Go"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            if first is None:
                first = time.perf_counter() - started
            pieces.append(chunk.choices[0].delta.content)
    done = time.perf_counter() - started
    if "".join(pieces) != expected:
        fail(f"the SDK read {len(''.join(pieces))} characters, not the server's {len(expected)}")
    return first or 0.0, done


def parley_times(service: ChatService, expected: str) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    turn = service.start_turn(username="bench", conversation_id=None, history=[], prompt="Go")
    for _piece in turn.follow(min_interval=pace(service)):
        if first is None:
            first = time.perf_counter() - started
    turn.wait()
    done = time.perf_counter() - started
    if turn.status != ReplyStatus.COMPLETE or turn.error is not None:
        fail(f"Parley's reply ended {turn.status}: {turn.error.message if turn.error else 'no error'}")
    if turn.text != expected:
        fail(f"Parley's reply has {len(turn.text)} characters, not the server's {len(expected)}")
    if turn.save_error is not None or turn.reply_id is None:
        fail(f"Parley's reply was not saved: {turn.save_error.message if turn.save_error else 'no id'}")
    return first or 0.0, done


def check_rows(engine: Engine, turns: int, expected: str) -> None:
    """Each turn's prompt and its complete reply in the database, once."""
    with Session(engine) as session:
        rows = session.scalars(select(Message).order_by(Message.id)).all()
    prompts = [r for r in rows if r.role == "user" and r.content == "Go"]
    replies = [r for r in rows if r.role == "assistant"]
    good = [r for r in replies if r.status == ReplyStatus.COMPLETE and r.content == expected]
    if len(prompts) != turns or len(replies) != turns or len(good) != turns:
        fail(
            f"the database holds {len(prompts)} prompts and {len(good)} complete replies of {len(replies)}, not {turns}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="the suite's size: 1 turn, replies of 50 and 20 tokens")
    args = parser.parse_args()
    workloads = SMOKE_WORKLOADS if args.smoke else WORKLOADS
    if args.smoke:
        args.turns = 1
    print(f"{'workload':<34} {'':>8} {'first token':>12} {'complete':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for tokens, rate in workloads:
            name, expected = workload_name(tokens, rate), reply_text(tokens)
            with fake_server(tokens, rate) as url:
                settings = Settings.from_env(
                    {
                        "PARLEY_COOKIE_KEY": "b" * 40,
                        "DATABASE_URL": f"sqlite:///{Path(folder) / f'{tokens}.db'}",
                        "OPENAI_BASE_URL": url,
                        "OPENAI_API_KEY": "sk-bench",
                    },
                    env_file=None,
                )
                engine = make_engine(settings.database_url)
                init_db(engine)
                service = ChatService(settings, session_factory(engine), build_model(settings))
                service.tokens.counter(settings.model)  # the table loads once per process
                sdk_times(url, expected), parley_times(service, expected)  # warm both paths
                sdk = [sdk_times(url, expected) for _ in range(args.turns)]
                parley = [parley_times(service, expected) for _ in range(args.turns)]
                check_rows(engine, args.turns + 1, expected)
                for label, runs in (("SDK", sdk), ("Parley", parley)):
                    first = statistics.median(r[0] for r in runs) * 1000
                    done = statistics.median(r[1] for r in runs) * 1000
                    print(f"{name:<34} {label:>8} {first:>9.1f} ms {done:>7.1f} ms")
                extra_first = (statistics.median(r[0] for r in parley) - statistics.median(r[0] for r in sdk)) * 1000
                ratio = statistics.median(r[1] for r in parley) / statistics.median(r[1] for r in sdk)
                print(f"{'':<34} {'overhead':>8} {extra_first:>+9.1f} ms {ratio:>8.2f}x")
                service.shutdown()
                engine.dispose()


if __name__ == "__main__":
    main()
