"""`/healthz` and `/readyz` over real HTTP, from `streamlit run app.py` (no browser), and the
image's HEALTHCHECK script against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import ROOT
from tests.e2e.conftest import running_server
from tests.fake_openai import FakeOpenAI

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    with NO_PROXY.open(urllib.request.Request(url, headers=headers or {}), timeout=15) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, json.load(response)


def test_healthz_and_readyz_answer_over_http(tmp_path: Path, fake_model: FakeOpenAI) -> None:
    with running_server(tmp_path, fake_model) as (server, _process):
        status, headers, body = get(f"{server.url}/healthz")
        assert (status, body) == (200, {"status": "ok"})
        assert headers["content-type"] == "application/json" and headers["cache-control"] == "no-store"

        status, headers, body = get(f"{server.url}/readyz")  # from 127.0.0.1: the checks too
        assert status == 200 and headers["cache-control"] == "no-store"
        assert body == {
            "status": "ready",
            "checks": {
                "configuration": {"status": "ok"},
                "database": {"status": "ok", "detail": "database (sqlite) answers"},
                "model": {"status": "ok", "detail": f"model server ({fake_model.base_url}) answers"},
            },
        }
        # A request a proxy passed on is not this machine's, whatever the peer.
        assert get(f"{server.url}/readyz", {"X-Forwarded-For": "203.0.113.7"})[2] == {"status": "ready"}

        port = str(urlsplit(server.url).port)
        env = {**os.environ, "PORT": port, "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
        probe = [sys.executable, "-P", str(ROOT / "docker" / "healthcheck.py")]
        checked = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=30)
        assert (checked.returncode, checked.stdout) == (0, f"healthy: http://127.0.0.1:{port}/healthz answers\n")
