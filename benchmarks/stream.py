"""Does Parley's reply path slow the stream? The bare `openai` SDK against Parley's
worker (`ChatService.start_turn`, then `Turn.follow()` as the page reads it), on the
same fake server, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/stream.py [--turns 7]

The fake OpenAI server runs in its own process. Prints medians of first-token and
complete times per workload, and Parley's overhead. Figures, not a test: the machine
is shared, so quote medians from one run. (Browser rendering is the load
benchmark's subject; this is the server side only.)
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

import openai

from chat.db.engine import init_db, make_engine, session_factory
from chat.llm.client import build_model
from chat.settings import Settings
from chat.turns.service import ChatService
from chat.ui.pacing import pace

WORKLOADS = {
    "2,000 tokens as fast as possible": (2000, 0.0),
    "300 tokens at 60 tokens/s": (300, 60.0),
}


@contextmanager
def fake_server(tokens: int, rate: float) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = " ".join(f"w{i}" for i in range(tokens))
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


def sdk_times(url: str) -> tuple[float, float]:
    client = openai.OpenAI(base_url=url, api_key="sk-bench")
    started = time.perf_counter()
    first = None
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Go"}], stream=True
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


def parley_times(service: ChatService) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    turn = service.start_turn(username="bench", conversation_id=None, history=[], prompt="Go")
    for _piece in turn.follow(min_interval=pace(service)):
        if first is None:
            first = time.perf_counter() - started
    turn.wait()
    assert turn.status == "complete", turn.status
    return first or 0.0, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=7)
    args = parser.parse_args()
    print(f"{'workload':<34} {'':>8} {'first token':>12} {'complete':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for name, (tokens, rate) in WORKLOADS.items():
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
                sdk_times(url), parley_times(service)  # warm both paths
                sdk = [sdk_times(url) for _ in range(args.turns)]
                parley = [parley_times(service) for _ in range(args.turns)]
                for label, runs in (("SDK", sdk), ("Parley", parley)):
                    first = statistics.median(r[0] for r in runs) * 1000
                    done = statistics.median(r[1] for r in runs) * 1000
                    print(f"{name:<34} {label:>8} {first:>9.1f} ms {done:>7.1f} ms")
                extra_first = (statistics.median(r[0] for r in parley) - statistics.median(r[0] for r in sdk)) * 1000
                ratio = statistics.median(r[1] for r in parley) / statistics.median(r[1] for r in sdk)
                print(f"{'':<34} {'overhead':>8} {extra_first:>+9.1f} ms {ratio:>8.2f}x")
                engine.dispose()


if __name__ == "__main__":
    main()
