"""The Copy button's JavaScript is a file Streamlit itself serves (chat/ui/components.py): the
asset folder Parley declares on Streamlit 1.67's component manager, the definition that points
at the file, and Streamlit's own route answering with it (and with nothing outside the folder)."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.types import Message
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.web.server.starlette.starlette_routes import create_bidi_component_routes

from chat.ui import components

COPY_JS = components.PACKAGE_ROOT / components.ASSET_DIR / "copy.js"


def get(app: Starlette, path: str) -> tuple[int, bytes]:
    sent: list[Message] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8501),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def declared() -> BidiComponentManager:
    manager = BidiComponentManager()
    manager.register_from_manifest(components._MANIFEST, components.PACKAGE_ROOT)
    return manager


def test_the_copy_component_points_at_its_file() -> None:
    manager = declared()
    assert manager.get_component_asset_root(components.COPY) == COPY_JS.parent.resolve()
    definition = manager.build_definition_with_validation(
        component_key=components.COPY, html="<button>Copy</button>", css=None, js="copy.js"
    )
    assert definition.js_url == "copy.js"  # a URL for the browser, not inline code
    assert definition.js == str(COPY_JS.resolve())


def test_streamlits_route_serves_the_file_and_nothing_outside_its_folder() -> None:
    manager = declared()
    manager.register(
        manager.build_definition_with_validation(component_key=components.COPY, html=None, css=None, js="copy.js")
    )
    app = Starlette(routes=create_bidi_component_routes(manager, ""))
    status, body = get(app, "/_stcore/bidi-components/parley.copy/copy.js")
    assert status == 200 and body == COPY_JS.read_bytes()
    for path in ("parley.copy/../components.py", "parley.copy/%2e%2e/components.py", "parley.copy/nothing.js"):
        status, body = get(app, f"/_stcore/bidi-components/{path}")
        assert status in (400, 404) and b"export default" not in body


def test_the_copy_js_keeps_its_behaviour() -> None:
    source = COPY_JS.read_text(encoding="utf-8")
    assert "navigator.clipboard.writeText(data.text)" in source
    assert 'document.execCommand("copy")' in source  # the fallback off HTTPS and localhost
    assert '"Copied"' in source
