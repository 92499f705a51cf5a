"""Attachments: how long from Enter to the first token with a large PDF or a camera photo attached,
the server's peak memory while it reads the PDF, and what resizing does to the request.

    PYTHONPATH=. .venv/bin/python benchmarks/attachments.py [--runs 5] [--smoke]

Parley's path is the page's: `ChatService.files.take` (type check, text extraction or the picture
re-encoded, kept in the log), then `start_turn` and `Turn.follow()` to the first token; beside it,
the bare `openai` SDK sending the same request (the PDF's text; the photo as it came from the camera,
as an app that does not resize would), on the same fake server (its own process), in one run. The
PDF is sent twice: new (read, extracted, kept) and again (known by its digest: nothing read). Memory:
Python's peak allocations while a new PDF is taken (tracemalloc, a separate pass so it does not slow
the timed ones; pypdf is pure Python, so that is all of it) and the process's peak RSS over the run
(the benchmark's own photos and the SDK's requests included; Pillow's bitmaps are C memory,
which tracemalloc does not see). Streamlit's own chat example takes no files,
so it has no figure here. Every turn is checked: the reply complete and saved, the request carrying
the document's text or one picture; otherwise the benchmark exits non-zero with the reason.

`--smoke` is the size the test suite runs (`tests/benchmark_smokes.py`): a 1 MB PDF and a
1,200 x 900 photo, one run each, to prove the benchmark works, not to quote.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import NoReturn

import openai
from PIL import Image

from benchmarks.stream import fake_server, reply_text
from chat.db.engine import init_db, make_engine, session_factory
from chat.domain.attachments import Attachment
from chat.domain.status import ReplyStatus
from chat.llm.client import build_model
from chat.settings import Settings
from chat.turns.service import ChatService
from chat.ui.pacing import pace
from tests import files

REPLY_TOKENS = 50
PAGE_TEXT = "The quarterly review covers revenue, hiring and the roadmap in detail. " * 40  # ~2,900 characters


def fail(reason: str) -> NoReturn:
    sys.exit(f"benchmark failed: {reason}")


def big_pdf(megabytes: float, pages: int, seed: int) -> bytes:
    """A PDF of `pages` pages of text whose size is mostly a stream no page shows (as its pictures
    would be); `seed` makes each one a different file."""
    pages_text = [f"Page {n}. {PAGE_TEXT}" for n in range(pages)]
    room = int(megabytes * 1_000_000) - len(files.pdf(pages_text)) - 100  # the padding's own object header
    return files.pdf(pages_text, padding=bytes((seed + i) % 251 for i in range(room)))


def photo(width: int, height: int) -> bytes:
    """A camera-like JPEG: noise compresses as badly as a real scene's detail."""
    image = Image.effect_noise((width, height), 64).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def parley_first_token(service: ChatService, name: str, data: bytes) -> tuple[float, int, list[Attachment]]:
    """Enter to the first token for a prompt with one file; the request's size in bytes (JSON)."""
    started = time.perf_counter()
    taken = service.files.take("bench", [(name, data)])
    turn = service.start_turn(username="bench", conversation_id=None, history=[], prompt="Summarise", attachments=taken)
    first = None
    for _piece in turn.follow(min_interval=pace(service)):
        if first is None:
            first = time.perf_counter() - started
    turn.wait()
    if turn.status != ReplyStatus.COMPLETE or turn.reply_id is None or turn.text != reply_text(REPLY_TOKENS):
        fail(f"Parley's reply with {name} ended {turn.status}: {turn.error.message if turn.error else 'not saved'}")
    sent = turn.plan.messages[-1]["content"]
    if not isinstance(sent, list) or len(sent) != 2:
        fail(f"the request for {name} did not carry the prompt and its file")
    return first or 0.0, len(json.dumps(turn.plan.messages)), taken


def sdk_first_token(url: str, content: list[dict[str, object]]) -> tuple[float, int]:
    client = openai.OpenAI(base_url=url, api_key="sk-bench")
    messages = [{"role": "user", "content": content}]
    started = time.perf_counter()
    first = None
    pieces = []
    for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True):  # type: ignore[arg-type]
        if chunk.choices and chunk.choices[0].delta.content:
            first = first if first is not None else time.perf_counter() - started
            pieces.append(chunk.choices[0].delta.content)
    if "".join(pieces) != reply_text(REPLY_TOKENS):
        fail("the SDK's reply was not the server's")
    return first or 0.0, len(json.dumps(messages))


def python_peak_mb(service: ChatService, name: str, data: bytes) -> float:
    """Python's peak allocations while a new file is taken (checked, read or re-encoded, kept)."""
    tracemalloc.start()
    service.files.take("bench-memory", [(name, data)])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="the suite's size: a 1 MB PDF, a 1,200 x 900 photo, 1 run")
    args = parser.parse_args()
    megabytes, pages, (width, height) = (1.0, 5, (1200, 900)) if args.smoke else (10.0, 40, (4000, 3000))
    runs = 1 if args.smoke else args.runs
    with tempfile.TemporaryDirectory() as folder, fake_server(REPLY_TOKENS, 0.0) as url:
        settings = Settings.from_env(
            {
                "PARLEY_COOKIE_KEY": "b" * 40,
                "DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.db'}",
                "OPENAI_BASE_URL": url,
                "OPENAI_API_KEY": "sk-bench",
                "PARLEY_CONTEXT_TOKENS": "128000",
                "PARLEY_MODEL_TITLES": "false",  # no background request beside the timed ones
            },
            env_file=None,
        )
        engine = make_engine(settings.database_url)
        init_db(engine)
        service = ChatService(settings, session_factory(engine), build_model(settings))
        service.tokens.counter(settings.model)  # the table loads once per process
        parley_first_token(service, "warm.pdf", big_pdf(0.1, 2, 255))  # warm every path once

        pdfs = [big_pdf(megabytes, pages, seed) for seed in range(runs)]
        new = [parley_first_token(service, f"report-{i}.pdf", data) for i, data in enumerate(pdfs)]
        again = [parley_first_token(service, f"again-{i}.pdf", data) for i, data in enumerate(pdfs)]
        sdk_pdf = [
            sdk_first_token(url, [{"type": "text", "text": PAGE_TEXT * pages}, {"type": "text", "text": "Go"}])
            for _ in range(runs)
        ]
        label = f"{len(pdfs[0]) / 1e6:.1f} MB PDF ({pages} pages)"
        print(f"{label}, new: Enter -> first token      Parley {ms([r[0] for r in new])}")
        print(f"{label}, sent again: Enter -> first token Parley {ms([r[0] for r in again])}")
        print(f"{label}, its text sent by the bare SDK       {ms([r[0] for r in sdk_pdf])}")
        peak = python_peak_mb(service, "memory.pdf", big_pdf(megabytes, pages, 99))
        print(f"{label}, new: Python's peak memory taking it  {peak:,.1f} MB")

        cameras = [photo(width, height) for _ in range(runs)]  # noise: each a different file
        resized = [parley_first_token(service, f"photo-{i}.jpg", data) for i, data in enumerate(cameras)]
        camera = cameras[0]
        original = f"data:image/jpeg;base64,{base64.b64encode(camera).decode()}"
        sdk_photo = [
            sdk_first_token(
                url, [{"type": "text", "text": "Go"}, {"type": "image_url", "image_url": {"url": original}}]
            )
            for _ in range(runs)
        ]
        label = f"{width:,} x {height:,} photo ({len(camera) / 1e6:.1f} MB)"
        print(f"{label}: Enter -> first token      Parley {ms([r[0] for r in resized])}")
        print(f"{label}: sent as it is by the bare SDK    {ms([r[0] for r in sdk_photo])}")
        print(f"{label}: request {resized[0][1] / 1e3:,.0f} KB resized, {sdk_photo[0][1] / 1e3:,.0f} KB as it is")
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        print(f"process peak RSS over the run                         {peak_rss:,.0f} MB")
        service.shutdown()
        engine.dispose()


if __name__ == "__main__":
    main()
