"""What the first reply after a start would otherwise wait for, imported as the server starts.

`st.write_stream` first asks whether what it is given is a dataframe, and the first time a
process asks, Streamlit imports numpy, pandas and pyarrow to find out: about 1 s of CPU here
(`python -c "import numpy, pandas, pyarrow"`), spent after the prompt was sent, so the first
reply after every start waited that long for its first word. The server imports them in a
thread of its own as it starts instead (the sign-in page is served meanwhile), then freezes
what they made out of the collector's way, as `app.py` does with the rest of the start-up heap.
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


def warm_in_background() -> threading.Thread:
    thread = threading.Thread(target=warm, name=THREAD_NAME, daemon=True)
    thread.start()
    return thread


def warm() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # Streamlit requires them: a broken install shows at the first reply anyway
            log.warning("could not import %s ahead of the first reply", name)
    gc.freeze()
