"""One YAML document on disk, read and written safely (auth.yaml is the one today).

Reading refuses, with a sentence and before anything is built, what a hand edit or an
attacker could make costly: a file far larger than any real one, text that is not UTF-8,
and aliases that expand far beyond the text (a YAML "billion laughs"). Error messages
never quote the file's lines: they may hold password hashes. Writing goes to a temp file
renamed over the original, keeping its mode, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from chat.errors import ConfigError

# Refused before parsing past these: over a thousand users fit in 256 kB (ruamel parses
# some 100 kB a second), and `python -m chat users` writes no aliases.
MAX_FILE_BYTES = 256_000
MAX_ALIASES = 100
MAX_NODES = 200_000


class _Refused(Exception):
    """Why a document is refused, as the words that follow the file's name."""


class _CheckedConstructor(RoundTripConstructor):
    """ruamel's round-trip constructor, which first checks the composed document's expansion:
    one parse, and nothing is built before the check."""

    def construct_document(self, node: Node) -> Any:
        _check_expansion(node)
        return super().construct_document(node)


def round_trip() -> YAML:
    yaml = YAML()  # round-trip: keeps comments and key order
    yaml.Constructor = _CheckedConstructor
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def read_document(path: Path) -> CommentedMap:
    text = _read_text(path)
    try:
        document = round_trip().load(text)
    except _Refused as refused:
        raise ConfigError(f"{path.name}{refused}") from None
    except MarkedYAMLError as error:
        raise ConfigError(f"{path.name} is not valid YAML: {_yaml_problem(error)}.") from None
    except YAMLError as error:  # no position: its text is short and quotes no content
        raise ConfigError(f"{path.name} is not valid YAML: {error}.") from None
    except RecursionError:
        raise ConfigError(f"{path.name} nests its values too deeply to be a users file.") from None
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise ConfigError(f"{path.name} must be a mapping with a 'credentials' section.")
    return document


def _read_text(path: Path) -> str:
    """The file as text, refused before parsing when too large or not UTF-8."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{path.name} cannot be read: {error.strerror}.") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path.name} is larger than {MAX_FILE_BYTES // 1000} kB, far more than any users file.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{path.name} is not UTF-8 text (an invalid byte on line {line}); save it as UTF-8."
        ) from None


def _yaml_problem(error: MarkedYAMLError) -> str:
    """What is wrong and where, without the quoted lines ruamel adds (they may hold password hashes)."""
    mark = error.problem_mark or error.context_mark
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{error.problem or error.context or 'unreadable'}{where}"


def _check_expansion(root: Node) -> None:
    """Refuse a document whose aliases make it expand far beyond its text (a YAML "billion
    laughs"): reading a value such as `roles: *bomb` would build it whole. Counted on the
    node graph, where an alias is one shared node, so the check itself stays small."""
    sizes: dict[int, int] = {}
    aliases = 0

    def size(node: Node, path: tuple[int, ...]) -> int:
        nonlocal aliases
        if id(node) in path:
            raise _Refused(": an alias refers to the value that contains it; remove the alias.")
        if id(node) in sizes:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _Refused(f" uses more than {MAX_ALIASES} YAML aliases (*name); write values out.")
            return sizes[id(node)]
        children: list[Node] = []
        if isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        total = 1 + sum(size(child, (*path, id(node))) for child in children)
        if total > MAX_NODES:
            raise _Refused(f" expands to more than {MAX_NODES:,} values through YAML aliases (*name); write them out.")
        sizes[id(node)] = total
        return total

    size(root, ())


def write_atomically(path: Path, document: CommentedMap) -> None:
    directory = path.resolve().parent
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            round_trip().dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
