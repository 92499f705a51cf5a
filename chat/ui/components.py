"""Widgets more than one screen may use: the copy button, the scroll to a found message; the tab's icon."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import streamlit
import streamlit as st
import streamlit.components.v2 as components_v2
from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager
from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest
from streamlit.components.v2.types import ComponentRenderer

# Component JavaScript is served as a file, never passed inline: Streamlit loads an inline
# `js=` string from a `blob:` URL, which the Content-Security-Policy (`script-src 'self'`,
# chat/web/headers.py) refuses. A file is served by Streamlit itself, same origin, at
# `/_stcore/bidi-components/<component>/<file>` (behind the gate, like all of `/_stcore/`).
#
# Streamlit serves files only from a component's declared `asset_dir`, which it normally
# learns at start-up by scanning *installed* distributions for a `[tool.streamlit.component]`
# table in their pyproject.toml. Parley is not installed (it runs from its folder and from
# /app in the image), and even an editable install would not be found: the scanner looks
# for the pyproject next to an importable package named like the project (`parley`), and
# Parley's package is `chat`. So Parley declares the same manifest itself, on the running
# runtime's component manager, the way the scanner's results are registered
# (`BidiComponentManager.register_from_manifest`): no install step, and the asset folder
# is fixed here, inside the package (Streamlit still checks every file stays inside it).
# It is declared again before each mount when missing: AppTest makes a new manager for
# every test app. tests/unit/test_components.py holds Streamlit 1.67's API to this.
PROJECT = "parley"
PACKAGE_ROOT = Path(__file__).parent
ASSET_DIR = "assets"  # chat/ui/assets/
COPY = f"{PROJECT}.copy"
FOUND = f"{PROJECT}.found"
FOCUS = f"{PROJECT}.focus"
SKIP = f"{PROJECT}.skip"
_MANIFEST = ComponentManifest(
    name=PROJECT,
    version="1",
    components=[ComponentConfig(name=name, asset_dir=ASSET_DIR) for name in ("copy", "found", "focus", "skip")],
)
_declaring = threading.Lock()


def declare_assets() -> None:
    """Tell the running Streamlit where Parley's component files are (once per runtime)."""
    manager = get_bidi_component_manager()
    with _declaring:
        if any(manager.get_component_asset_root(name) is None for name in (COPY, FOUND, FOCUS, SKIP)):
            manager.register_from_manifest(_MANIFEST, PACKAGE_ROOT)


# Streamlit's own favicon, as a file: Streamlit serves it from Parley's origin (/media/).
FAVICON = str(Path(streamlit.__file__).parent / "static" / "favicon.png")

_COPY_CSS = """
button {
  font: inherit; font-size: 0.875rem; color: var(--st-text-color); background: none;
  border: none; padding: 0.25rem 0.5rem; cursor: pointer; opacity: 0.7;
}
button:hover { opacity: 1; }
"""


@functools.cache
def _copy_component() -> ComponentRenderer:
    # Made on first use, inside a page run: outside one there is no runtime to declare the
    # asset folder on, and a file-backed `js` would be refused.
    declare_assets()
    # One-click copy of a reply's raw Markdown. A v2 component: no iframe per reply, and
    # the text goes in as data (JSON), never into the component's HTML or JavaScript.
    return components_v2.component(
        COPY,
        # Disabled until copy.js has wired it: a click before that would do nothing.
        html='<button type="button" title="Copy this reply as Markdown" disabled>Copy</button>',
        css=_COPY_CSS,  # inline styles are allowed (`style-src 'unsafe-inline'`)
        js="copy.js",  # chat/ui/assets/copy.js
    )


def copy_button(text: str, *, key: str) -> None:
    declare_assets()
    _copy_component()(key=key, data={"text": text})


@functools.cache
def _found_component() -> ComponentRenderer:
    declare_assets()
    return components_v2.component(FOUND, js="found.js")  # chat/ui/assets/found.js: nothing drawn


def bring_into_view(message_id: int) -> None:
    """Inside a message a search result opened: the page scrolls to that message, once."""
    declare_assets()
    _found_component()(key=f"parley_found_{message_id}", data={"id": message_id})


@functools.cache
def _focus_component() -> ComponentRenderer:
    declare_assets()
    return components_v2.component(FOCUS, js="focus.js")  # chat/ui/assets/focus.js: nothing drawn


def focus_prompt() -> None:
    """Put the cursor in the prompt box, unless the user is already somewhere else on the page."""
    declare_assets()
    _focus_component()(key="parley_focus_prompt", data={})


@functools.cache
def _skip_component() -> ComponentRenderer:
    declare_assets()
    return components_v2.component(SKIP, js="skip.js")  # chat/ui/assets/skip.js: a link, first on the page


def skip_link() -> None:
    """The keyboard's first stop: "Skip to the message box" (or to the main content)."""
    declare_assets()
    _skip_component()(key="parley_skip_link", data={})


# Streamlit's status widget (top right) has a Stop button of its own while a run goes on: it would
# end the run before a stopped reply's ending and actions are drawn. The reply's own Stop button
# (`chat/ui/conversation.py`) is the one Stop control.
_PAGE_CSS = '[data-testid="stStatusWidget"] button { display: none; }'
# Accessibility (issue 20, point 7): small print at 4.5:1 or more on the page and the sidebar
# (Streamlit's faded text is 3.8:1), the selected option of a segmented control likewise, and the
# skip link (`skip_link`) hidden until the keyboard reaches it.
_PAGE_CSS += (
    ' div[data-testid="stCaptionContainer"], div[data-testid="stCaptionContainer"] p { color: #63625f; opacity: 1; }'
    ' button[data-selected="true"] [data-testid="stMarkdownContainer"] p { color: #a8303d; }'
    " .parley-skip { position: fixed; left: 0.75rem; top: -4rem; z-index: 1000100; padding: 0.5rem 1rem;"
    " background: #ffffff; color: #2f2d2b; border: 2px solid #a8303d; border-radius: 0.5rem; }"
    " .parley-skip:focus { top: 0.75rem; }"
)
# The sidebar's conversations (chat/ui/sidebar.py): one line each, left-aligned, cut with an
# ellipsis; the open one on a quiet background rather than a loud button.
_ITEM = '[class*="st-key-parley_item_"]'
_TITLE = '[class*="st-key-parley_open_"]'
_MENU = '[class*="st-key-parley_menu_"]'
_VERSION = '[class*="st-key-parley_version_"]'  # a message's "previous / next version" arrows
_PROMPT_ACTIONS = '[class*="st-key-parley_prompt_actions_"]'
_REGENERATE = '[class*="st-key-parley_regenerate_place_"]'
_PAGE_CSS += (
    f" {_ITEM} {{ flex-wrap: nowrap; border-radius: 0.5rem; }}"
    f" {_ITEM} > div:first-child {{ flex: 1 1 0; min-width: 0; }}"
    " .st-key-parley_item_current { background: rgba(151, 166, 195, 0.25); }"
    f" {_TITLE} button {{ justify-content: flex-start; min-width: 0; max-width: 100%; padding-left: 0.5rem; }}"
    f" {_TITLE} button * {{ min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}"
    f" {_TITLE} button > div, {_TITLE} button span {{ justify-content: flex-start; width: 100%; }}"
    f" {_TITLE} button p {{ text-align: left; }}"
    ' .st-key-parley_conversations [data-testid="stCaptionContainer"] { margin-top: 0.75rem; }'
    # Each conversation's menu button, and a message's version arrows: their icon only (their
    # label is read out, not shown).
    f' {_MENU} button [data-testid="stMarkdownContainer"], {_VERSION} button [data-testid="stMarkdownContainer"]'
    " { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }"
    f' {_MENU} button > div > div[aria-hidden="true"] {{ display: none; }}'
    f" {_VERSION} button {{ padding: 0 0.15rem; min-height: 1.5rem; }}"
    # A prompt's actions (Edit, its versions): a short line close under it, on every prompt.
    f" {_PROMPT_ACTIONS} {{ margin-top: -0.75rem; }} {_PROMPT_ACTIONS} button {{ min-height: 1.75rem; }}"
    # An earlier reply's Regenerate place, emptied by the next prompt (chat/ui/actions.py): no gap.
    f' div:has(> {_REGENERATE} [data-testid="stEmpty"]) {{ display: none; }}'
)
# Inside a message (issue 20, point 5): headings a step below the page's own, and what is wider than
# the message (a table, a code line, display maths, a long word) scrolls or wraps inside it, so the
# page itself never scrolls sideways, down to a 390 px phone.
_MESSAGE = '[data-testid="stChatMessage"]'
_PAGE_CSS += (
    f" {_MESSAGE} h1 {{ font-size: 1.5rem; }} {_MESSAGE} h2 {{ font-size: 1.3rem; }}"
    f" {_MESSAGE} h3 {{ font-size: 1.15rem; }} {_MESSAGE} h4, {_MESSAGE} h5, {_MESSAGE} h6 {{ font-size: 1rem; }}"
    f" {_MESSAGE} {{ min-width: 0; }} {_MESSAGE} > div {{ min-width: 0; }}"
    f' {_MESSAGE} [data-testid="stMarkdownContainer"] {{ overflow-wrap: anywhere; }}'
    f' {_MESSAGE} [data-testid="stMarkdownContainer"] table {{ display: block; max-width: 100%; overflow-x: auto; }}'
    f" {_MESSAGE} td, {_MESSAGE} th {{ overflow-wrap: normal; }}"
    f" {_MESSAGE} pre {{ max-width: 100%; overflow-x: auto; }}"
    f" {_MESSAGE} .katex-display {{ max-width: 100%; overflow-x: auto; overflow-y: hidden; }}"
)


def page_style() -> None:
    """Parley's few rules for the whole page (a style element only: it takes no room)."""
    st.html(f"<style>{_PAGE_CSS}</style>")
