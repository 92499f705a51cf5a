"""Widgets more than one screen may use: the copy button."""

from __future__ import annotations

import streamlit.components.v2 as components_v2

# One-click copy of a reply's raw Markdown. A v2 component: no iframe per reply, and
# the text goes in as data (JSON), never into the component's HTML or JavaScript.
# The clipboard API exists only on HTTPS and localhost; elsewhere the old
# `execCommand("copy")` on a hidden textarea still works.
_COPY_JS = """
export default function (component) {
  const { data, parentElement } = component;
  const button = parentElement.querySelector("button");
  button.onclick = async () => {
    let copied = false;
    try {
      await navigator.clipboard.writeText(data.text);
      copied = true;
    } catch (error) {
      const area = document.createElement("textarea");
      area.value = data.text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      copied = document.execCommand("copy");
      area.remove();
    }
    button.textContent = copied ? "Copied" : "Copy failed";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  };
}
"""


_COPY_CSS = """
button {
  font: inherit; font-size: 0.875rem; color: var(--st-text-color); background: none;
  border: none; padding: 0.25rem 0.5rem; cursor: pointer; opacity: 0.7;
}
button:hover { opacity: 1; }
"""


_copy_component = components_v2.component(
    "parley_copy",
    html='<button type="button" title="Copy this reply as Markdown">Copy</button>',
    css=_COPY_CSS,
    js=_COPY_JS,
)


def copy_button(text: str, *, key: str) -> None:
    _copy_component(key=key, data={"text": text})
