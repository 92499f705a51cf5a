"""The HTTP side of Parley (Starlette, around Streamlit's own app): the sign-in pages and
routes, the gate in front of every request, security headers, health endpoints."""
