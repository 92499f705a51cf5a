"""Parley's logic, in layers (docs/architecture.md): domain, db, llm, accounts, turns, ops, ui.

Nothing in this package imports Streamlit except `chat.ui` (import-linter checks it).
"""

__version__ = "0.1.0"
