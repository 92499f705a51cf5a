"""Parley's entry point: `streamlit run app.py` (and `make run`, and the Docker image).

`streamlit run` finds `app` by reading this file's source, so it must be assigned
literally here: `app = make_app()` would silently run this file as a plain script, with
no sign-in routes and no gate. The pages are served by `router.py` behind the gate.
"""

import gc

import streamlit as st

from chat.web.app import exception_handlers, lifespan, middleware, routes

app = st.App(
    "router.py", routes=routes(), middleware=middleware(), exception_handlers=exception_handlers(), lifespan=lifespan
)

# What the imports above made (Streamlit, SQLAlchemy, the OpenAI SDK, Parley's own modules) lives as
# long as the process: out of the collector's reach, a full collection takes about 30 ms instead of
# about 150 ms (measured during the growth benchmark), and it stops the whole server while it runs.
gc.freeze()
