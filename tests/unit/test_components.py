"""The components' JavaScript (the Copy button, the scroll to a found message) is a file Streamlit
itself serves (chat/ui/components.py): the asset folder Parley declares on Streamlit 1.67's component
manager, the definition that points at the file, and Streamlit's own route answering with it (and
with nothing outside the folder)."""

from __future__ import annotations

from starlette.applications import Starlette
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.web.server.starlette.starlette_routes import create_bidi_component_routes

from chat.ui import components
from tests.asgi import call, scope_of

COPY_JS = components.PACKAGE_ROOT / components.ASSET_DIR / "copy.js"
FOUND_JS = components.PACKAGE_ROOT / components.ASSET_DIR / "found.js"


def get(app: Starlette, path: str) -> tuple[int, bytes]:
    reply = call(app, scope_of(path))
    return reply.status, reply.body


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


def routes_serving(component_key: str, js: str) -> Starlette:
    """Streamlit's own component routes, with the component registered as a page run would."""
    manager = declared()
    manager.register(manager.build_definition_with_validation(component_key=component_key, html=None, css=None, js=js))
    return Starlette(routes=create_bidi_component_routes(manager, ""))


def test_streamlits_route_serves_the_file_and_nothing_outside_its_folder() -> None:
    app = routes_serving(components.COPY, "copy.js")
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
    assert "button.disabled = false" in source  # drawn disabled (components.py) until its click is wired


def test_the_found_component_is_served_from_its_file_too() -> None:
    status, body = get(routes_serving(components.FOUND, "found.js"), "/_stcore/bidi-components/parley.found/found.js")
    assert status == 200 and body == FOUND_JS.read_bytes()
    assert "scrollIntoView" in body.decode() and "shown.has(data.id)" in body.decode()  # once per message
