"""Parley's logic: settings, model client, storage and the chat service.

Nothing in this package imports Streamlit except `chat.ui`.
"""

__version__ = "0.1.0"
