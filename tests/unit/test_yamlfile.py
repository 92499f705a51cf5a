"""chat/accounts/yamlfile.py: one YAML document read with its costs bounded before anything is built,
and written by a rename, so a reader never sees half a file.

What a broken users file says through `load_users` (a list for a section, bad bytes, an alias bomb read
in a process held to 1 GB) is tests/unit/test_authfile.py's; here is the document's own reading and
writing, and the limits at their edges."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from ruamel.yaml.comments import CommentedMap

from chat.accounts.yamlfile import MAX_ALIASES, MAX_NODES, read_document, write_atomically
from chat.errors import ConfigError

COMMENTED = """\
# Parley's users: edit with `python -m chat users`.
credentials:
  usernames:
    erin:   # the first one
      name: Erin
      roles:
        - admin
    bob:
      name: Bob
"""


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as refused:
        read_document(path)
    return refused.value.message


def expanding(copies: int, *, padding: int, items: int = 1998) -> str:
    """A document of `1 + copies` appearances of one `items`-long list (one anchor, `copies` aliases)
    and a plain list of `padding` values: 4 + (copies + 1) * (items + 1) + 2 + padding nodes (the root,
    each key, each list and each value)."""
    anchored, aliases, plain = ", ".join(["x"] * items), ", ".join(["*a"] * copies), ", ".join(["y"] * padding)
    return f"a: &a [{anchored}]\nb: [{aliases}]\nc: [{plain}]\n"


def test_a_document_is_read_as_a_mapping_keeping_its_order(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(COMMENTED)
    document = read_document(path)
    assert isinstance(document, CommentedMap)
    assert list(document["credentials"]["usernames"]) == ["erin", "bob"]
    assert document["credentials"]["usernames"]["erin"]["roles"] == ["admin"]


@pytest.mark.parametrize("empty", ["", "\n", "# only a comment\n", "---\n"])
def test_an_empty_document_is_an_empty_mapping(tmp_path: Path, empty: str) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(empty)
    assert read_document(path) == {}


@pytest.mark.parametrize("content", ["- erin\n- bob\n", "just text\n", "42\n"])
def test_a_document_that_is_not_a_mapping_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(content)
    assert refusal(path) == "users.yaml must be a mapping with a 'credentials' section."


def test_a_file_that_cannot_be_read_is_a_sentence(tmp_path: Path) -> None:
    assert refusal(tmp_path / "auth.yaml") == "auth.yaml cannot be read: No such file or directory."
    (tmp_path / "folder.yaml").mkdir()
    assert refusal(tmp_path / "folder.yaml") == "folder.yaml cannot be read: Is a directory."


def test_aliases_expanding_to_the_limit_are_read_and_one_value_more_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    copies, items = 99, 1998
    padding = MAX_NODES - (4 + (copies + 1) * (items + 1) + 2)
    path.write_text(expanding(copies, padding=padding, items=items))
    document = read_document(path)
    assert len(document["b"]) == copies and document["b"][0] is document["a"]  # one shared list, not copies
    path.write_text(expanding(copies, padding=padding + 1, items=items))
    assert refusal(path) == (
        f"auth.yaml expands to more than {MAX_NODES:,} values through YAML aliases (*name); write them out."
    )


def test_up_to_the_limit_of_aliases_is_fine_and_one_more_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(expanding(MAX_ALIASES, padding=0, items=1))
    assert len(read_document(path)["b"]) == MAX_ALIASES
    path.write_text(expanding(MAX_ALIASES + 1, padding=0, items=1))
    assert refusal(path) == f"auth.yaml uses more than {MAX_ALIASES} YAML aliases (*name); write values out."


@pytest.mark.parametrize(
    "content",
    ["a: &a [1, *a]\n", "a: &a {self: *a}\n", "a: &a [[[*a]]]\n"],
)
def test_an_alias_inside_its_own_value_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(content)
    assert refusal(path) == "auth.yaml: an alias refers to the value that contains it; remove the alias."


def test_nesting_deeper_than_the_reader_can_follow_is_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text("credentials: " + "[" * 300 + "]" * 300 + "\n")
    assert refusal(path) == "auth.yaml nests its values too deeply to be a users file."


def test_writing_keeps_comments_order_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(COMMENTED)
    document = read_document(path)
    document["credentials"]["usernames"]["bob"]["name"] = "Robert"
    write_atomically(path, document)
    assert path.read_text() == COMMENTED.replace("name: Bob", "name: Robert")


def test_a_new_file_is_the_owners_alone_and_a_rewritten_one_keeps_its_mode(tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    write_atomically(new, CommentedMap(credentials=CommentedMap(usernames=CommentedMap())))
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    assert read_document(new) == {"credentials": {"usernames": {}}}
    shared = tmp_path / "shared.yaml"
    shared.write_text(COMMENTED)
    shared.chmod(0o640)
    write_atomically(shared, read_document(shared))
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640


def test_a_reader_holding_the_old_file_sees_it_whole_and_the_next_reader_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(COMMENTED)
    document = read_document(path)
    del document["credentials"]["usernames"]["bob"]
    with path.open() as reading:  # opened before the write, read after it
        write_atomically(path, document)
        assert reading.read() == COMMENTED  # the file was replaced, not rewritten in place
    assert list(read_document(path)["credentials"]["usernames"]) == ["erin"]
    assert sorted(os.listdir(tmp_path)) == ["auth.yaml"]  # no temp file left behind


def test_a_write_that_fails_leaves_the_file_as_it_was_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(COMMENTED)
    document = read_document(path)
    document["credentials"]["usernames"]["erin"]["name"] = object()  # YAML cannot say this
    with pytest.raises(Exception, match="cannot represent"):
        write_atomically(path, document)
    assert path.read_text() == COMMENTED
    assert sorted(os.listdir(tmp_path)) == ["auth.yaml"]
