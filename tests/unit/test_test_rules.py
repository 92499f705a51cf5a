"""Rules the tests keep themselves: no fixed sleep used to wait for something.

A sleep may pace a loop that polls a condition (inside a `while`), or be what the fake model
is scripted to do; anywhere else it is a guess at how long something takes. Wait on the thing
itself: tests/waiting.py's `wait_until`, or Playwright's waits in browser tests.
"""

from __future__ import annotations

import ast

from tests.conftest import ROOT

TESTS = ROOT / "tests"
# The helper that polls, and the fake model, whose delays, stalls and hangs are its scripted behaviour.
ALLOWED = {TESTS / "waiting.py", TESTS / "fake_openai.py"}


def _sleeps(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls that pause for a fixed time and are not in a `while` loop's body, with their lines."""
    from_time = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "asyncio")
        for alias in node.names
        if alias.name == "sleep"
    }
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_loop: bool) -> None:
        if isinstance(node, ast.Call) and not in_loop and _pauses(node.func, from_time):
            found.append((node.lineno, ast.unparse(node)))
        if isinstance(node, ast.While):
            visit(node.test, in_loop)
            for child in [*node.body, *node.orelse]:
                visit(child, True)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            in_loop = False  # a function defined in a loop does not run in it
        for child in ast.iter_child_nodes(node):
            visit(child, in_loop)

    visit(tree, False)
    return found


def _pauses(function: ast.expr, from_time: set[str]) -> bool:
    """`time.sleep`, `asyncio.sleep`, a `sleep` imported from them, or Playwright's `wait_for_timeout`."""
    if isinstance(function, ast.Name):
        return function.id in from_time
    if not isinstance(function, ast.Attribute):
        return False
    if function.attr == "wait_for_timeout":
        return True
    return (
        function.attr == "sleep" and isinstance(function.value, ast.Name) and function.value.id in ("time", "asyncio")
    )


def test_no_fixed_sleep_waits_for_something() -> None:
    files = sorted(path for path in TESTS.rglob("*.py") if path not in ALLOWED)
    assert len(files) > 20  # the tests were found
    found = [
        f"{path.relative_to(ROOT)}:{line}: {call}"
        for path in files
        for line, call in _sleeps(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == [], "fixed sleeps; wait on the condition instead (tests/waiting.py):\n" + "\n".join(found)


def test_the_rule_sees_a_sleep_and_lets_a_poll_loop_pass() -> None:
    source = """
import time
from time import sleep as nap

def waits_badly(page):
    time.sleep(0.5)
    nap(1)
    page.wait_for_timeout(500)

def polls(done):
    while not done():
        time.sleep(0.05)
    while True:
        def later():
            time.sleep(2)
"""
    assert [line for line, _ in _sleeps(ast.parse(source))] == [6, 7, 8, 15]
