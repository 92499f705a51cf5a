"""How often the screens redraw a streaming reply.

Each redraw sends and renders the reply's whole Markdown again, so the process as a whole
redraws at most about RENDERS_PER_SECOND times a second, shared by the replies streaming at
once. `Turn.follow` takes the pace from here (chat/turns/turn.py).
"""

from __future__ import annotations

from collections.abc import Callable

from chat.turns.service import ChatService

MIN_RENDER_INTERVAL = 0.03  # seconds: a reply alone is redrawn at most ~33 times a second
RENDERS_PER_SECOND = 100  # redraws of streaming replies, all sessions together


def render_interval(streaming: int) -> float:
    """Seconds between two redraws of one reply while `streaming` replies are being written:
    one reply alone every 30 ms, eight at once every 80 ms each, twenty every 200 ms."""
    return max(MIN_RENDER_INTERVAL, streaming / RENDERS_PER_SECOND)


def pace(service: ChatService) -> Callable[[], float]:
    """The redraw interval as the service's load changes: asked again before each pause."""
    return lambda: render_interval(service.running_count)
