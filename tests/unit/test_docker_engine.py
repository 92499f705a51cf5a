"""tests/docker_engine.py's reading of apt's sources, without a Docker engine: the mirror debootstrap uses."""

from __future__ import annotations

from tests.docker_engine import FALLBACK_MIRROR, deb822_entries, mirror_for, one_line_entries


def test_a_one_line_source_gives_its_uri_suite_and_components_with_or_without_options() -> None:
    text = """\
# deb http://commented.example/debian bookworm main
deb http://plain.example/debian/ bookworm main contrib
deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] http://options.example/debian bookworm main
deb [arch=amd64] http://one-option.example/debian bookworm-updates main  # a comment
deb-src http://sources.example/debian bookworm main
deb [unclosed http://broken.example/debian bookworm main
"""
    assert one_line_entries(text) == [
        ("http://plain.example/debian/", ["bookworm"], ["main", "contrib"]),
        ("http://options.example/debian", ["bookworm"], ["main"]),
        ("http://one-option.example/debian", ["bookworm-updates"], ["main"]),
    ]


def test_a_deb822_source_gives_one_entry_per_uri_of_each_enabled_deb_stanza() -> None:
    text = """\
Types: deb deb-src
URIs: http://a.example/debian
  http://b.example/debian
Suites: bookworm bookworm-updates
Components: main

# switched off
Types: deb
URIs: http://off.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb-src
URIs: http://sources.example/debian
Suites: bookworm
Components: main
"""
    suites, components = ["bookworm", "bookworm-updates"], ["main"]
    assert deb822_entries(text) == [
        ("http://a.example/debian", suites, components),
        ("http://b.example/debian", suites, components),
    ]


def test_the_mirror_is_the_first_http_entry_of_the_suite_with_main() -> None:
    entries = [
        ("cdrom:[Debian]/", ["bookworm"], ["main"]),
        ("http://old.example/debian", ["bullseye"], ["main"]),
        ("http://contrib.example/debian", ["bookworm"], ["contrib"]),
        ("https://mirror.example/debian/", ["bookworm"], ["contrib", "main"]),
        ("http://later.example/debian", ["bookworm"], ["main"]),
    ]
    assert mirror_for("bookworm", entries) == "https://mirror.example/debian"
    assert mirror_for("trixie", entries) == FALLBACK_MIRROR
