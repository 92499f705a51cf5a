"""Parley's server-rendered pages (sign-in, sign-out), from Jinja2 templates that escape
everything they are given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from chat.web.streamlit_files import FONT_URL

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    auto_reload=False,
)

LOGGED_NOTICE = "Conversations in Parley are logged, and Parley's admins can read them."
# Why the sign-in page is shown, by the `reason` its URL names.
REASONS = {
    "ended": "Your sign-in has ended (expired, signed out elsewhere, or the account changed). Please sign in again.",
    "expired": "Your sign-in has expired or is no longer valid. Please sign in again.",
    "signedout": "You have signed out.",
}
FORM_EXPIRED = "This form came from somewhere else or has expired. Please try again."
NO_FORM_COOKIE = "Your browser did not send back this form's cookie. Allow cookies for this site and try again."


def render(template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    body = _templates.get_template(template).render(logged_notice=LOGGED_NOTICE, font=FONT_URL, **values)
    # Nothing on these pages may be kept: a shared computer's back button must not show them.
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
