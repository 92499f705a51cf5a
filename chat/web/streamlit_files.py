"""Files of Streamlit's own that the HTTP side reads: its `index.html` (the inline script the CSP
allows by hash) and the font it preloads (Parley's pages use it too). Found without importing
Streamlit, which the HTTP side never does."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path


def _streamlit_index() -> Path:
    spec = importlib.util.find_spec("streamlit")
    if spec is None or spec.origin is None:
        raise RuntimeError("Streamlit is not installed: its index.html is needed for the Content-Security-Policy")
    return Path(spec.origin).parent / "static" / "index.html"


STREAMLIT_INDEX = _streamlit_index()
# The preloaded upright Source Sans (its name carries a build hash), served from Parley's own origin.
_FONT = re.search(r'href="\./(static/media/SourceSans[^"]*Upright[^"]*\.woff2)"', STREAMLIT_INDEX.read_text("utf-8"))
FONT_URL = f"/{_FONT.group(1)}" if _FONT else None
