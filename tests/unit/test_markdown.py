"""No Markdown image is ever drawn: the parser finds them, the stream is guarded at every
moment, and labels are plain text."""

from __future__ import annotations

import random
import re

import pytest
from markdown_it import MarkdownIt

from chat.ui.markdown import WORD_JOINER, GuardedStream, has_image, neutralise_images, plain

BEACON = "http://127.0.0.1:9/leak.png?d=secret"

# Every form an attacker tried, and the places an image can hide.
ATTACKS = {
    "inline": f"![x]({BEACON})",
    "empty alt": f"see ![]({BEACON}) now",
    "title": f'![x]({BEACON} "title")',
    "angle brackets": f"![x](<{BEACON}>)",
    "code span in the alt": f"![`x`]({BEACON})",
    "two code spans in the alt": f"![`a` and `b`]({BEACON})",
    "nested brackets": f"![a [b [c]] d]({BEACON})",
    "image in the alt": f"![a ![b]({BEACON})]({BEACON})",
    "reference": f"![x][ref]\n\n[ref]: {BEACON}",
    "collapsed reference": f"![ref][]\n\n[ref]: {BEACON}",
    "shortcut reference": f"![ref]\n\n[ref]: {BEACON}",
    "definition first": f"[ref]: {BEACON}\n\n![ref]",
    "case-folded label": f"![REF]\n\n[ref]: {BEACON}",
    "escaped bang then image": f"\\\\![x]({BEACON})",
    "in a link": f"[![badge]({BEACON})](https://site.example)",
    "in a list": f"- one\n- ![x]({BEACON})\n  - ![y]({BEACON})",
    "in an ordered list": f"1. ![x]({BEACON})",
    "in a quote": f"> quoted\n> ![x]({BEACON})",
    "in a nested quote and list": f"> - > ![x]({BEACON})",
    "in a table": f"| a | b |\n|---|---|\n| ![c]({BEACON}) | `e` |",
    "in a table header": f"| ![h]({BEACON}) |\n|---|\n| x |",
    "code span split by a table": f"| `a|![x]({BEACON})` |\n|---|\n| b |",
    "in emphasis": f"*![x]({BEACON})* and **![y]({BEACON})** and ~~![z]({BEACON})~~",
    "in a heading": f"# ![x]({BEACON})\n\nTitle ![y]({BEACON})\n===",
    "after a backtick fence": f"```\ncode\n```\n![x]({BEACON})",
    "after a tilde fence": f"~~~python\ncode\n~~~\n![x]({BEACON})",
    "after an indented block": f"    code\n\n![x]({BEACON})",
    "after an unbalanced backtick": f"`not code ![x]({BEACON})",
    "after a longer fence closed by a shorter one": f"````\n```\n![x]({BEACON})",
    "html around": f"<div>\n\n![x]({BEACON})\n\n</div>",
    "html img": f'<img src="{BEACON}">',
    "math around": f"$a$ ![x]({BEACON}) $b$",
    "math hiding the code span's opening": f"$`$ ![x]({BEACON}) `",
    "math block around a fence": f"$$\n```\n$$\n![x]({BEACON})\n```",
    "color directive": f":red[![x]({BEACON})]",
    "directive label hiding a backtick": f":red[`]![x]({BEACON})`",
    "material icon": f":material/home: ![x]({BEACON})",
    "footnote": f"Text[^1]\n\n[^1]: ![x]({BEACON})",
    "footnote continuation": f"[^1]: x\n    ![x]({BEACON})",
    "bare link running over a backtick": f"http://x.example/` ![x]({BEACON}) `",
    "nul and carriage returns": f"a\x00b\r\n![x]({BEACON})\r\n",
}


def parsed_images(text: str) -> list[str]:
    found: list[str] = []

    def walk(tokens):  # type: ignore[no-untyped-def]
        for token in tokens:
            if token.type == "image":
                found.append(str(token.attrs.get("src")))
            if token.children:
                walk(token.children)

    walk(MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text))
    return found


def openers_outside_code(text: str) -> int:
    """How many `![` not escaped by a backslash the parser places outside code (each a
    possible image to a renderer that reads the text another way)."""
    tagged = re.sub(r"(?<!\\)((?:\\\\)*)!\[", "\\1!\ue123[", text)
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(tagged)
    in_code = 0

    def walk(tokens):  # type: ignore[no-untyped-def]
        nonlocal in_code
        for token in tokens:
            if token.type in ("code_inline", "fence", "code_block"):
                in_code += token.content.count("!\ue123[")
            if token.children:
                walk(token.children)

    walk(tokens)
    return tagged.count("!\ue123[") - in_code


@pytest.mark.parametrize("text", ATTACKS.values(), ids=ATTACKS.keys())
def test_no_attack_leaves_an_image_or_an_opener_outside_code(text: str) -> None:
    safe = neutralise_images(text)
    assert parsed_images(safe) == []
    assert openers_outside_code(safe) == 0
    assert neutralise_images(safe) == safe  # drawing twice changes nothing


@pytest.mark.parametrize("name", ["inline", "code span in the alt", "in a list", "in a table", "in a quote"])
def test_the_attacks_are_images_to_the_parser_before(name: str) -> None:
    # The corpus is worth something: without the guard these are images.
    assert BEACON in parsed_images(ATTACKS[name])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("![logo](https://x.example/a.png)", "[image: logo](https://x.example/a.png)"),
        ("see ![](https://evil.example/?q=1) now", "see [image: untitled](https://evil.example/?q=1) now"),
        ("![`x`](http://h/p.png)", "[image: `x`](http://h/p.png)"),
        (
            "[![badge](https://i.example/b.svg)](https://site)",
            "[[image: badge](https://i.example/b.svg)](https://site)",
        ),
        ("no images, just ! and [brackets](link)", "no images, just ! and [brackets](link)"),
    ],
)
def test_images_become_links_a_reader_can_follow(text: str, expected: str) -> None:
    assert neutralise_images(text) == expected


def test_code_is_left_exactly_as_written() -> None:
    text = (
        "Use `![alt](src)` in Markdown:\n\n```markdown\n![alt](images/a.png)\n```\n\n"
        "~~~\n![x](y)\n~~~\n\n    ![indented](code)\n\nthen ![real](z.png)"
    )
    out = neutralise_images(text)
    assert "`![alt](src)`" in out and "```markdown\n![alt](images/a.png)\n```" in out
    assert "~~~\n![x](y)\n~~~" in out and "    ![indented](code)" in out
    assert out.endswith("then [image: real](z.png)")


def test_a_bare_link_in_the_text_breaks_code_invisibly() -> None:
    # GitHub's bare links may run on over a backtick CommonMark pairs into a code span.
    text = "See http://x.example/` ![i](z.png) `"
    assert neutralise_images(text) == text.replace("![", "!" + WORD_JOINER + "[")


def test_an_unclosed_fence_keeps_the_rest_as_code() -> None:
    text = "```\n![a](b)\nstill code"
    assert neutralise_images(text) == text


def test_code_is_broken_invisibly_when_the_renderer_could_read_it_otherwise() -> None:
    # `$` starts math in Streamlit's renderer, which CommonMark does not know: the
    # fence could be math there, and the line an image.
    text = "$$\n```\n$$\n![x](http://e.example/p.png)\n```"
    out = neutralise_images(text)
    assert out == text.replace("![", "!" + WORD_JOINER + "[")
    assert out.replace(WORD_JOINER, "") == text  # what a reader sees is unchanged


def test_text_carrying_the_guards_own_tags_is_broken_everywhere() -> None:
    text = "`\ue000\ue010\ue001` ![x](http://e.example/p.png)"
    out = neutralise_images(text)
    assert "![" not in out and parsed_images(out) == []


def frames(chunks: list[str], stream: GuardedStream | None = None) -> list[tuple[str, str]]:
    """(text as the guard read it, what the page shows) after every piece the page draws."""
    stream = stream or GuardedStream(chunks)
    seen = []
    for run in stream.runs():
        drawn = ""
        for piece in run:
            drawn += piece
            seen.append((stream.read, drawn))
    assert stream.read == stream.text  # nothing the model sent is left undrawn
    return seen


CORPUS = "\n\n".join(ATTACKS.values())


@pytest.mark.parametrize("size", [1, 7, 40])
def test_the_stream_shows_no_image_at_any_moment_whatever_the_chunking(size: int) -> None:
    # Every attack streamed alone (the whole corpus a character at a time would take
    # minutes: the guard parses everything so far on every piece), then all together.
    for text in [*ATTACKS.values(), CORPUS] if size == 40 else ATTACKS.values():
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        check_stream(text, chunks)


def check_stream(text: str, chunks: list[str]) -> None:
    seen = frames(chunks)
    assert seen and seen[-1] == (text, neutralise_images(text))
    for so_far, drawn in seen:
        assert drawn == neutralise_images(so_far)
        assert parsed_images(drawn) == [] and openers_outside_code(drawn) == 0


def test_a_definition_arriving_later_never_lets_its_image_show() -> None:
    pieces = ["Look at ", "![chart]", "\n\nand more text ", "\n\n[chart]: ", BEACON, "\n"]
    seen = frames(pieces)
    assert all(parsed_images(drawn) == [] and openers_outside_code(drawn) == 0 for _, drawn in seen)
    # Not an image until its definition arrives: escaped, then drawn again as a link.
    assert seen[0][1] == "Look at " and seen[1][1] == "Look at \\![chart]"
    assert seen[-1][1].startswith("Look at [image: chart]")


def test_a_stream_restarts_when_earlier_text_changes_meaning() -> None:
    # A lone backtick leaves the image outside code; the closing one makes it code again.
    seen = frames(["`", "![x](u)", " more", "`"])
    runs_started = sum(1 for before, after in zip(seen, seen[1:], strict=False) if not after[1].startswith(before[1]))
    assert runs_started >= 1 and seen[-1][1] == "`![x](u) more`"


def test_random_text_streams_safely() -> None:
    alphabet = ["![", "]", "(", ")", "`", "```\n", "\n", "[r]: u\n", "$", "| a |\n|---|\n", "x", " ", ">", "- "]
    generator = random.Random(15)
    for _ in range(80):
        text = "".join(generator.choice(alphabet) for _ in range(40))
        cuts = sorted({0, len(text), *(generator.randrange(len(text)) for _ in range(8))})
        chunks = [text[start:end] for start, end in zip(cuts, cuts[1:], strict=False)]
        assert "".join(chunks) == text
        for _text, drawn in frames(chunks):
            assert parsed_images(drawn) == [] and openers_outside_code(drawn) == 0
            assert neutralise_images(drawn) == drawn


@pytest.mark.parametrize(
    "label",
    [
        f"![x]({BEACON})",
        f"![ref]\n[ref]: {BEACON}",
        "**bold** `code` [link](http://x) :red[x] :material/home: $x^2$ <b>h</b> # head",
        "1. item",
        "- item",
        "> quote",
    ],
)
def test_a_label_is_plain_text(label: str) -> None:
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(plain(label))
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"]
    children = tokens[1].children or []
    assert {t.type for t in children} <= {"text", "softbreak"}
    assert "".join(t.content for t in children) == label.replace("\n", " ")


def test_has_image_reads_like_the_parser() -> None:
    assert has_image(ATTACKS["reference"]) and not has_image(neutralise_images(ATTACKS["reference"]))
    assert not has_image("`![x](y)`")


def test_a_slow_guard_reads_less_often_and_still_draws_everything() -> None:
    # A clock on which every read of a text with an image takes 10 "seconds": the
    # guard then reads again only 30 seconds later, holding pieces back meanwhile.
    now = [0.0]

    def clock() -> float:
        now[0] += 5.0
        return now[0]

    text = ATTACKS["reference"] + " and more words" * 20
    chunks = [text[i : i + 4] for i in range(0, len(text), 4)]
    seen = frames(chunks, GuardedStream(chunks, clock=clock))
    assert 1 < len(seen) < len(chunks) / 2  # fewer reads than pieces
    assert seen[-1] == (text, neutralise_images(text))
    assert all(drawn == neutralise_images(read) and parsed_images(drawn) == [] for read, drawn in seen)
