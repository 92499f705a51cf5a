"""What the first reply of a process would otherwise wait for, imported while its page is read.

`st.write_stream` first asks whether what it is given is a dataframe, and the first time a
process asks, Streamlit imports numpy, pandas and pyarrow to find out: about 1 s of CPU here
(`python -c "import numpy, pandas, pyarrow"`), spent after the prompt was sent, so the first
reply after every start waited that long for its first word. The chat page, once drawn, has them
imported in a thread of its own (`warm_once`): the user is reading or typing meanwhile. Not at
the server's start: there the import held up the first page served by about 350 ms (the sign-in
page, 597 against 245 ms). Then what they made is frozen out of the collector's way, as `app.py`
does with the start-up heap.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading

log = logging.getLogger(__name__)

# What Streamlit's `dataframe_util.determine_data_format` imports on its first call.
MODULES = ("numpy", "pandas", "pyarrow")
THREAD_NAME = "parley-warm-imports"

_lock = threading.Lock()
_thread: threading.Thread | None = None


def warm_once() -> threading.Thread:
    """The thread that imports them: started by the process's first call, the same one after."""
    global _thread  # noqa: PLW0603 -- one per process, whichever session's run asks first
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=warm, name=THREAD_NAME, daemon=True)
            _thread.start()
        return _thread


def warm() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # Streamlit requires them: a broken install shows at the first reply anyway
            log.warning("could not import %s ahead of the first reply", name)
    gc.freeze()
