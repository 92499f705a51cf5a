"""Images in model Markdown are never fetched by merely drawing a reply."""

from __future__ import annotations

import pytest

from chat.markdown import neutralise_images


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("![logo](https://x.example/a.png)", "[image: logo](https://x.example/a.png)"),
        ("see ![](https://evil.example/?q=secret) now", "see [image: untitled](https://evil.example/?q=secret) now"),
        ('![a [b] c](u "title")', '[image: a [b] c](u "title")'),
        ("![ref][1]\n\n[1]: https://evil.example/p.png", "[image: ref][1]\n\n[1]: https://evil.example/p.png"),
        (
            "[![badge](https://i.example/b.svg)](https://site)",
            "[[image: badge](https://i.example/b.svg)](https://site)",
        ),
        ("no images, just ! and [brackets](link)", "no images, just ! and [brackets](link)"),
    ],
)
def test_images_become_links(text: str, expected: str) -> None:
    assert neutralise_images(text) == expected


def test_code_is_left_exactly_as_written() -> None:
    text = (
        "Use `![alt](src)` in Markdown:\n\n```markdown\n![alt](https://x.example/a.png)\n```\n\n"
        "~~~\n![x](y)\n~~~\nthen ![real](https://evil.example/z.png)"
    )
    out = neutralise_images(text)
    assert "`![alt](src)`" in out and "```markdown\n![alt](https://x.example/a.png)\n```" in out
    assert "~~~\n![x](y)\n~~~" in out
    assert out.endswith("then [image: real](https://evil.example/z.png)")


def test_an_unclosed_fence_keeps_the_rest_as_code() -> None:
    text = "```\n![a](b)\nstill code"
    assert neutralise_images(text) == text


def test_a_stream_never_carries_an_image_whatever_the_chunking() -> None:
    from chat.markdown import neutralise_stream

    text = "Look: ![x](https://evil.example/?q=1) and !! [y] ![z][r]!"
    for size in (1, 2, 3, 7):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        streamed = "".join(neutralise_stream(chunks))
        assert streamed == neutralise_images(text) and "![" not in streamed
