"""The image's HEALTHCHECK: does Parley's process answer `GET /healthz` on this machine?

Standard library only, no Parley import (Docker runs it every 30 s), and no proxy from
the environment (HTTP_PROXY must not carry a loopback request away). One line; exit 0
when the answer is `{"status": "ok"}`, 1 with the reason otherwise. The database and the
model server are `/readyz`'s business (docs/operations.md).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 5.0


def healthz_url() -> str:
    """Where the entrypoint's Streamlit listens (PORT, ADDRESS), seen from inside the container."""
    address = os.environ.get("ADDRESS") or "127.0.0.1"
    if address in ("0.0.0.0", "::"):
        address = "127.0.0.1"
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{os.environ.get('PORT') or '8501'}/healthz"


def check(url: str) -> str:
    """`healthy: …`, or ValueError with the reason."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=TIMEOUT_SECONDS) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:
        raise ValueError(f"{url} answered {error.code}") from None
    except urllib.error.URLError as error:
        raise ValueError(f"{url} does not answer ({error.reason})") from None
    except (OSError, ValueError) as error:  # a timeout mid-answer, or not JSON
        raise ValueError(f"{url} did not answer as Parley does ({type(error).__name__})") from None
    if body != {"status": "ok"}:
        raise ValueError(f"{url} answered {json.dumps(body)[:200]}")
    return f"healthy: {url} answers"


def main() -> int:
    try:
        print(check(healthz_url()))
    except ValueError as error:
        print(f"unhealthy: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
