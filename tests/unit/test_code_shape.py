"""The code keeps its shape (issue 16): no file in chat/ over 400 lines, no function over 60.

Ruff has no rule for either; its complexity rules (pyproject.toml) run in `make lint`, which CI runs."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
CORE = sorted((ROOT / "chat").rglob("*.py"))
SCRIPTS = [*sorted((ROOT / "views").glob("*.py")), ROOT / "app.py", ROOT / "router.py"]


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """`line name (N lines)` for each function or method longer than `limit` lines (decorators not counted)."""
    return [
        f"{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > limit
    ]


def test_no_file_in_chat_is_over_400_lines() -> None:
    counts = {path.relative_to(ROOT): len(path.read_text().splitlines()) for path in CORE}
    assert {path: count for path, count in counts.items() if count > MAX_FILE_LINES} == {}


def test_no_function_in_chat_views_or_app_is_over_60_lines() -> None:
    found = {path.relative_to(ROOT): long_functions(path.read_text()) for path in [*CORE, *SCRIPTS]}
    assert {path: entries for path, entries in found.items() if entries} == {}


def test_the_length_check_sees_methods_and_nested_functions() -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(59))
    nested = "\n".join(f"            y{i} = {i}" for i in range(60))
    sample = f"class A:\n    def method(self):\n{body}\n\ndef outer():\n    def inner():\n{nested}\n"
    assert long_functions(sample) == ["63 outer (62 lines)", "64 inner (61 lines)"]  # the 60-line method passes
