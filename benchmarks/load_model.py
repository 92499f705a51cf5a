"""The load benchmark's model server: `tests/fake_openai.py` in a process of its own,
whose reply the benchmark changes while it runs.

    PYTHONPATH=. .venv/bin/python benchmarks/load_model.py --port 8900

Prints `ready` once it listens. Each line read on stdin is a JSON object of
`FakeReply` fields (`text`, `delay`, `first_delay`, `status`, ...): from then on
it is the reply to every request, and `ok` is printed. `benchmarks/load.py`
starts it, so one Parley (whose OPENAI_BASE_URL names this port) can be driven
through every workload's speed, a spell of 429s, and a kill and restart on the
same port.
"""

from __future__ import annotations

import argparse
import json
import sys

from tests.fake_openai import FakeOpenAI, FakeReply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--reply", default="{}", help="the first reply, as JSON FakeReply fields")
    args = parser.parse_args()
    server = FakeOpenAI(port=args.port, default=FakeReply(**json.loads(args.reply)))
    # socketserver listens with a backlog of 5: twenty clients connecting at once would
    # get resets from the fake server, not from anything under test. Linux takes a new
    # backlog from a second listen().
    server._server.socket.listen(128)
    server.start()
    print("ready", flush=True)
    for line in sys.stdin:  # until the benchmark closes stdin or kills this process
        if line.strip():
            server.default = FakeReply(**json.loads(line))
            server.requests.clear()  # recorded requests would only grow over a long run
            print("ok", flush=True)
    server.stop()


if __name__ == "__main__":
    main()
