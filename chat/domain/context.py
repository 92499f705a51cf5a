"""What a prompt's files add to a request: a document's text between tags before the prompt, a
picture as an image part (a data URL) after it, in the OpenAI chat format's content parts.

Pure: the contents come in, the parts go out. `planning.py` decides what fits the budget: the
newest prompt's documents are cut to fit, an earlier prompt's files are left out before the
prompt itself is."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

from chat.domain.attachments import Attachment, Content, image_tokens


class TextPart(TypedDict):
    type: Literal["text"]
    text: str


class ImageURL(TypedDict):
    url: str


class ImagePart(TypedDict):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = TextPart | ImagePart
# The stored contents of some attachments, by digest (read from the log only for what is sent).
Contents = Callable[[Sequence[Attachment]], Mapping[str, Content]]


def no_contents(attachments: Sequence[Attachment]) -> Mapping[str, Content]:
    return {}


@dataclass(frozen=True)
class Parts:
    """A prompt with its files, as one user message's content."""

    content: str | list[ContentPart]
    image_tokens: int  # the estimate for its pictures (the text is counted by the model's counter)


def document_block(attachment: Attachment, text: str) -> str:
    pages = f' pages="{attachment.pages}"' if attachment.pages else ""
    return f'<document name="{_attribute(attachment.name)}"{pages}>\n{text}\n</document>'


def with_files(prompt: str, attachments: Sequence[Attachment], contents: Mapping[str, Content]) -> Parts:
    """The prompt with its documents' text before it and its pictures after it; the prompt alone
    (a plain string, as before attachments) when it has none. A file whose content is not in
    `contents` (no longer kept) or a document left with no text (no room) is named, not sent."""
    if not attachments:
        return Parts(prompt, 0)
    parts: list[ContentPart] = []
    pictures: list[ContentPart] = []
    left_out: list[Attachment] = []
    tokens = 0
    for attachment in attachments:
        content = contents.get(attachment.digest)
        if content is None or not (content.data if attachment.is_image else content.text):
            left_out.append(attachment)
        elif attachment.is_image:
            url = f"data:{attachment.media_type};base64,{base64.b64encode(content.data).decode()}"
            pictures.append({"type": "image_url", "image_url": {"url": url}})
            tokens += image_tokens(attachment.width, attachment.height)
        else:
            parts.append({"type": "text", "text": document_block(attachment, content.text)})
    parts.append({"type": "text", "text": without_files(prompt, left_out)})
    return Parts([*parts, *pictures], tokens)


def without_files(prompt: str, attachments: Sequence[Attachment]) -> str:
    """A prompt with files left out of the request (all of an earlier prompt's, or the ones no longer
    kept): named, so the model knows."""
    if not attachments:
        return prompt
    names = ", ".join(a.name for a in attachments)
    return f"{prompt}\n\n[Files attached to this message, left out of this request: {names}]"


def text_of(content: object) -> str:
    """A message's text for counting: a string as it is, content parts' text joined (pictures are
    counted apart, by `image_tokens`)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part["text"]) for part in content if isinstance(part, dict) and part.get("type") == "text")
    return str(content or "")


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def fit_documents(
    documents: Sequence[Attachment], contents: Mapping[str, Content], count: Callable[[str], int], room: int
) -> tuple[dict[str, Content], tuple[str, ...]]:
    """The documents' texts cut so that together they fit `room` tokens (as `count` counts a text),
    and a sentence for each one cut. The room is shared out evenly; a document smaller than its
    share is sent whole and leaves the rest to the others."""
    texts = {d.digest: contents[d.digest].text if d.digest in contents else "" for d in documents}
    costs = {d.digest: count(document_block(d, texts[d.digest])) for d in documents}
    if sum(costs.values()) <= room:
        return {digest: Content(text=text) for digest, text in texts.items()}, ()
    fitted: dict[str, Content] = {}
    cut: dict[str, str] = {}
    left = max(0, room)
    ordered = sorted(documents, key=lambda d: costs[d.digest])
    for index, document in enumerate(ordered):
        share = left // (len(ordered) - index)
        text = texts[document.digest]
        if costs[document.digest] > share:
            text = _cut(document, text, costs[document.digest], share, count)
            cut[document.digest] = _cut_sentence(document, len(text), len(texts[document.digest]))
        fitted[document.digest] = Content(text=text)
        left -= count(document_block(document, text))
    return fitted, tuple(dict.fromkeys(cut[d.digest] for d in documents if d.digest in cut))


def _cut(document: Attachment, text: str, cost: int, share: int, count: Callable[[str], int]) -> str:
    """The start of `text` whose block fits `share` tokens (empty if not even the tags fit)."""
    chars = int(len(text) * share / max(cost, 1))
    while chars > 0 and count(document_block(document, text[:chars])) > share:
        chars = int(chars * 0.9)
    return text[: max(chars, 0)]


def _cut_sentence(document: Attachment, kept: int, whole: int) -> str:
    if kept == 0:
        return f"{document.name} did not fit in this request at all (PARLEY_CONTEXT_TOKENS)."
    share = max(1, round(100 * kept / max(whole, 1)))
    return (
        f"{document.name} was too long for one request: the model read its first {share} % "
        f"({kept:,} of {whole:,} characters; PARLEY_CONTEXT_TOKENS)."
    )
