"""The sign-in cookie, set and deleted in the browser by a small component: a write is
queued in the session (`queue_cookie_write`) and drawn by `cookie_writer` on every run
until the browser confirms it. Issue 18's HTTP sign-in replaces it."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st
import streamlit.components.v2 as components_v2

from chat.settings import Settings

COOKIE_WRITE = "parley_cookie_write"


# The sign-in cookie is set from the browser by a small inline component (no iframe);
# the token goes in as data. It is drawn on every run until the browser confirms the
# write: a run that starts before the component has run would otherwise remove it.
_COOKIE_JS = """
function currentCookie(name) {
  const entry = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return entry ? entry.slice(name.length + 1) : "";
}
function tokenId(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).jti || null;
  } catch (error) {
    return null;
  }
}
export default function (component) {
  const { data, setStateValue } = component;
  if (!data) return;
  // Each write runs once per tab: a later run may draw a write again before its confirmation
  // came back, and an old sign-in's cookie must not come back over a newer one.
  const done = (window.parleyCookieWrites ??= new Set());
  if (done.has(data.serial)) {
    setStateValue("done", data.serial);
    return;
  }
  done.add(data.serial);
  const secure = location.protocol === "https:" ? "; Secure" : "";
  const attributes = "; Path=/; SameSite=Strict" + secure;
  // A delete names the sign-in it ends (its token's jti): a newer sign-in made in another
  // tab meanwhile has written its own cookie, which an old tab must leave alone.
  if (data.delete && data.only && tokenId(currentCookie(data.name)) !== data.only) {
    setStateValue("done", data.serial);
    return;
  }
  document.cookie = data.delete
    ? `${data.name}=${attributes}; Max-Age=0`
    : `${data.name}=${data.value}${attributes}; Expires=${new Date(data.expires * 1000).toUTCString()}`;
  setStateValue("done", data.serial);
}
"""


_cookie_component = components_v2.component("parley_cookie", js=_COOKIE_JS)


def queue_cookie_write(write: dict[str, Any]) -> None:
    """`{"value": token, "expires": epoch seconds}` sets the cookie, `{"delete": True, "only": jti}` deletes it."""
    previous = st.session_state.get(COOKIE_WRITE)
    serial = previous["serial"] + 1 if previous else int(time.time() * 1000)
    st.session_state[COOKIE_WRITE] = {**write, "serial": serial}


def cookie_writer(settings: Settings) -> None:
    pending = st.session_state.get(COOKIE_WRITE)
    if pending is None:
        return
    result = _cookie_component(
        key=f"parley_cookie_{pending['serial']}",
        data={**pending, "name": settings.cookie_name},
        on_done_change=_ignore,
    )
    if result.get("done") == pending["serial"]:
        st.session_state.pop(COOKIE_WRITE, None)


def _ignore() -> None:
    pass
