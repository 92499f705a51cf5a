"""The load benchmark's reference: the bare `openai` SDK reading the fake model
server's stream, in a process of its own (so neither the browsers nor the
benchmark's own event loop slow it).

    PYTHONPATH=. .venv/bin/python benchmarks/load_sdk.py --url http://127.0.0.1:8900/v1 \
        --sessions 8 --turns 3 [--think 1.0]

Runs `--sessions` threads at once (each its own client, like separate users), each
`--turns` requests one after the other with `--think` seconds between them, as
the browser sessions do. Prints one JSON line: `{"turns": [[first_s, complete_s],
...], "failed": N}`, times from the request to its first content and to the
stream's end, and how many requests failed (counted, not timed).
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import openai


def one_turn(client: openai.OpenAI) -> tuple[float, float]:
    started = time.perf_counter()
    first: float | None = None
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Go"}],
        stream=True,
        stream_options={"include_usage": True},  # as Parley asks
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    return first if first is not None else float("nan"), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--think", type=float, default=0.0)
    args = parser.parse_args()
    one_turn(openai.OpenAI(base_url=args.url, api_key="sk-bench", max_retries=0))  # warm the imports and the path
    results: list[tuple[float, float]] = []
    failed = [0]
    lock = threading.Lock()
    start = threading.Barrier(args.sessions)

    def session() -> None:
        client = openai.OpenAI(base_url=args.url, api_key="sk-bench", max_retries=0)
        start.wait()
        for turn in range(args.turns):
            if turn and args.think:
                time.sleep(args.think)
            try:
                timing = one_turn(client)
            except openai.OpenAIError:
                with lock:
                    failed[0] += 1
                continue
            with lock:
                results.append(timing)

    threads = [threading.Thread(target=session) for _ in range(args.sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"turns": results, "failed": failed[0]}), flush=True)


if __name__ == "__main__":
    main()
