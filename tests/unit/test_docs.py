"""The README and docs/ as their readers use them: every command they show runs, every link lands.

- each `python -m chat ...` / `parley ...` names commands and options the click CLI has, and
  `<command> --help` exits 0 (in-process, through click's CliRunner);
- each `make <target>` names a target of the Makefile (parsed: `make -n run` would build the venv);
- each `benchmarks/<x>.py` exists, and a script run in a code block declares every option the line uses
  (read from its source; tests/integration/test_benchmarks.py runs its `--help` as the line runs it);
- each relative link between README.md and docs/*.md points at a file, and an anchor at a heading;
- the README stays a front door (under 200 lines) that links every page of docs/.

Markdown is read with markdown-it-py (CommonMark, tables on), never with a pattern over the text:
commands come from fenced blocks and inline code spans, links from link tokens.
"""

from __future__ import annotations

import ast
import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt
from markdown_it.token import Token

from chat.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKDOWN = MarkdownIt("commonmark").enable("table")
SHELL_OPERATORS = {"<", ">", ">>", "|", "||", "&&", ";", "&"}
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def tokens_of(page: Path) -> list[Token]:
    return MARKDOWN.parse(page.read_text())


def walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        yield from walk(token.children or [])


@dataclass(frozen=True)
class Line:
    """One command as a page shows it: where, whether in a code block, and its words."""

    page: str
    text: str
    block: bool

    def words(self) -> tuple[dict[str, str], list[str]]:
        """The variables assigned in front of the command, and its words up to a redirection or pipe."""
        text = self.text.strip()
        text = text.removeprefix("$ ")
        try:
            words = shlex.split(text, comments=True)
        except ValueError:  # an unbalanced quote in prose: not a command
            return {}, []
        for index, word in enumerate(words):
            if word in SHELL_OPERATORS:
                words = words[:index]
                break
        env: dict[str, str] = {}
        while words and ASSIGNMENT.match(words[0]):
            name, value = words.pop(0).split("=", 1)
            env[name] = value
        return env, words


def commands_shown() -> list[Line]:
    """Every line of every fenced block, and every inline code span, of the README and docs/."""
    lines = []
    for page in PAGES:
        name = page.relative_to(ROOT).as_posix()
        for token in walk(tokens_of(page)):
            if token.type == "fence":
                lines += [Line(name, line, True) for line in token.content.splitlines() if line.strip()]
            elif token.type == "code_inline":
                lines.append(Line(name, token.content, False))
    return lines


LINES = commands_shown()


def chat_invocations() -> list[tuple[Line, list[str]]]:
    """Lines running `python -m chat ...` (with or without -P, after `docker exec ...` too) or `parley ...`."""
    found = []
    for line in LINES:
        _, words = line.words()
        if words[:1] == ["parley"]:
            found.append((line, words[1:]))
            continue
        for index, word in enumerate(words):
            if Path(word).name in {"python", "python3"}:
                rest = [w for w in words[index + 1 :] if w != "-P"]
                if rest[:2] == ["-m", "chat"]:
                    found.append((line, rest[2:]))
                break
    return found


@dataclass
class Resolved:
    path: list[str]
    unknown_options: list[str]


def resolve(arguments: list[str]) -> Resolved | None:
    """The command path the arguments name, and any option no command on that path has.

    None for a generic mention such as `python -m chat <command>`; an empty path is the group itself
    (`python -m chat --help`, the `parley` script). Square brackets (`[--check]`)
    and alternatives (`add|passwd`, the first one taken) are how the pages write optional parts.
    """
    command: click.Command = cli
    path: list[str] = []
    unknown = []
    for raw in arguments:
        word = raw.strip("[]").split("|", 1)[0]
        if not word or word.startswith("<") or word == "...":
            if not path:
                return None
            continue
        if isinstance(command, click.Group) and word in command.commands:
            command = command.commands[word]
            path.append(word)
        elif word.startswith("-"):
            option = word.split("=", 1)[0]
            known = {name for param in command.params for name in getattr(param, "opts", [])}
            if option not in {"-h", "--help"} and option not in known:
                unknown.append(f"{' '.join(path) or 'chat'} {option}")
    return Resolved(path, unknown)


CHAT = chat_invocations()


def test_the_pages_show_chat_commands_in_code_blocks_and_in_text() -> None:
    # Guards the extraction itself: an empty list would pass everything below.
    assert sum(line.block for line, _ in CHAT) >= 8
    assert any(not line.block for line, _ in CHAT)


@pytest.mark.parametrize(
    ("line", "arguments"), CHAT, ids=[f"{line.page}: {line.text.strip()[:60]}" for line, _ in CHAT]
)
def test_every_chat_command_shown_exists_with_its_options_and_answers_help(line: Line, arguments: list[str]) -> None:
    resolved = resolve(arguments)
    if resolved is None:
        return
    shown = f"{line.page}: `{line.text.strip()}`"
    assert not resolved.unknown_options, f"{shown}: no such option {resolved.unknown_options}"
    result = CliRunner().invoke(cli, [*resolved.path, "--help"])
    assert result.exit_code == 0, result.output


def test_the_command_line_table_names_real_commands() -> None:
    """docs/operations.md's table of commands: each cell of its first column, as `python -m chat <cell>`."""
    tokens = tokens_of(ROOT / "docs" / "operations.md")
    start = next(i for i, t in enumerate(tokens) if t.type == "inline" and t.content == "The command line")
    cells = []
    row_start = False
    for token in tokens[start:]:
        if token.type == "table_close":
            break
        if token.type == "tr_open":
            row_start = True
        elif token.type == "inline" and row_start:
            row_start = False
            cells += [child.content for child in token.children or [] if child.type == "code_inline"]
    assert len(cells) >= 7, cells
    for cell in cells:
        words = cell.split()
        for alternative in words[0].split("|"):
            resolved = resolve([alternative, *words[1:]])
            assert resolved and resolved.path and not resolved.unknown_options, cell


def test_the_parley_script_is_the_same_command_line() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["parley"] == "chat.cli:main"


# --- make --------------------------------------------------------------------------------------


def makefile_targets() -> dict[str, str]:
    """Each target of the Makefile, with its `## help` text ('' when it has none)."""
    targets = {}
    for line in (ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"^([a-z][a-z0-9-]*)\s*:(?!=)[^#]*(?:## (.*))?$", line)
        if match:
            targets[match[1]] = match[2] or ""
    return targets


TARGETS = makefile_targets()


def make_invocations() -> list[tuple[Line, list[str]]]:
    found = []
    for line in LINES:
        _, words = line.words()
        if words[:1] == ["make"]:
            names = [w for w in words[1:] if "=" not in w and not w.startswith(("-", "[", "<"))]
            found.append((line, names))
    return found


MAKE = make_invocations()


def test_every_make_target_shown_exists() -> None:
    assert {"run", "test", "help", "backup"} <= set(TARGETS)
    assert sum(line.block for line, _ in MAKE) >= 5
    for line, names in MAKE:
        assert names or line.text.strip() == "make", line
        for name in names:
            assert name in TARGETS, f"{line.page}: `{line.text.strip()}`: the Makefile has no target {name!r}"


def test_every_target_make_help_lists_is_in_the_operations_table() -> None:
    table = (ROOT / "docs" / "operations.md").read_text().split("## Make targets", 1)[1].split("\n## ", 1)[0]
    for name, help_text in TARGETS.items():
        if help_text and name != "help":
            assert f"`make {name}" in table, f"make {name} is not in docs/operations.md#make-targets"


# --- benchmarks --------------------------------------------------------------------------------


def benchmark_runs() -> dict[str, tuple[dict[str, str], set[str]]]:
    """Each benchmark a code block runs: whether PYTHONPATH is set, and the options used, over all lines."""
    runs: dict[str, tuple[dict[str, str], set[str]]] = {}
    for line in LINES:
        env, words = line.words()
        if not line.block or len(words) < 2 or Path(words[0]).name not in {"python", "python3"}:
            continue
        if words[1].startswith("benchmarks/"):
            known_env, options = runs.setdefault(words[1], ({}, set()))
            known_env.update(env)
            options.update(w.split("=", 1)[0] for w in words[2:] if w.startswith("--"))
    return runs


RUNS = benchmark_runs()


def test_every_benchmark_named_exists() -> None:
    named = set()
    for page in PAGES:
        named |= set(re.findall(r"benchmarks/[a-z_]+\.py", page.read_text()))
    assert named >= set(RUNS) and len(RUNS) >= 4
    for script in sorted(named):
        assert (ROOT / script).is_file(), script


def options_declared(script: str) -> set[str]:
    """The options a benchmark's argparse parser declares, read from its source (`add_argument("--x", ...)`)."""
    declared = set()
    for node in ast.walk(ast.parse((ROOT / script).read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            declared |= {arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    return declared


@pytest.mark.parametrize("script", sorted(RUNS))
def test_every_option_a_code_block_gives_a_benchmark_is_one_it_declares(script: str) -> None:
    """Read, not run: each benchmark's `--help`, run as the line runs it, is tests/integration/test_benchmarks.py's
    (a benchmark imports most of Parley before it parses its arguments: 5 s of CPU for all of them)."""
    unknown = RUNS[script][1] - options_declared(script)
    assert not unknown, f"{script} has no option {sorted(unknown)}"


# --- links and the front door ------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors_of(page: Path) -> set[str]:
    tokens = tokens_of(page)
    seen: dict[str, int] = {}
    anchors = set()
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type == "heading_open":
            text = "".join(child.content for child in inline.children or [] if child.type in {"text", "code_inline"})
            base = slug(text)
            count = seen.get(base, 0)
            seen[base] = count + 1
            anchors.add(base if count == 0 else f"{base}-{count}")
    return anchors


def links_of(page: Path) -> list[str]:
    return [str(t.attrs["href"]) for t in walk(tokens_of(page)) if t.type == "link_open"]


@pytest.mark.parametrize("page", PAGES, ids=[page.relative_to(ROOT).as_posix() for page in PAGES])
def test_every_relative_link_lands_on_a_file_and_a_heading(page: Path) -> None:
    for href in links_of(page):
        if re.match(r"^[a-z]+:", href):
            continue
        path, _, anchor = href.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists() and target.is_relative_to(ROOT), f"{page.name}: {href} is not a file here"
        if anchor and target.suffix == ".md":
            assert anchor in anchors_of(target), f"{page.name}: {href}: no such heading in {target.name}"


def test_the_readme_is_a_front_door_that_links_every_page_of_docs() -> None:
    readme = ROOT / "README.md"
    assert len(readme.read_text().splitlines()) < 200
    linked = {href.partition("#")[0] for href in links_of(readme)}
    for page in PAGES[1:]:
        assert page.relative_to(ROOT).as_posix() in linked, f"the README does not link {page.name}"
    assert "make run" in readme.read_text() and "make test" in readme.read_text()
