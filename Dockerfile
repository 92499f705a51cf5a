# Parley's image. `make docker-build` fills wheels/ on the host and builds it; the build
# itself needs no network (it runs with --network=none): every dependency comes from
# the wheelhouse. BASE: any image with Python 3.11 and its venv module, e.g. Debian
# bookworm with python3-venv (`make docker-build BASE=parley-base:bookworm`).
ARG BASE=python:3.11-slim

# --- build: the virtualenv from the wheelhouse, and the app's files ----------------
FROM ${BASE} AS build
COPY requirements.txt /build/requirements.txt
COPY wheels/ /build/wheels/
# Not needed at run time, so not in the image: pip, setuptools, and the packages' own
# test suites (pandas' and pyarrow's alone are 70 MB with their bytecode). Bytecode is
# compiled here, on every core: the app's user cannot write to /opt/venv.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-index --no-compile \
        --find-links /build/wheels --requirement /build/requirements.txt \
    && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
    && find /opt/venv/lib -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} + \
    && /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib > /dev/null
# The build context is already filtered by .dockerignore (no tests, secrets or local
# data); the wheelhouse, needed only above, is left out of the app's folder.
COPY . /src/
RUN rm -rf /src/wheels /src/requirements.txt \
    && python3 -m compileall -q -j 0 /src > /dev/null

# --- the image ----------------------------------------------------------------------
FROM ${BASE}
# FORWARDED_ALLOW_IPS empty: uvicorn believes no X-Forwarded-For, PARLEY_TRUSTED_PROXIES decides.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONSAFEPATH=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    PORT=8501 \
    PARLEY_AUTH_FILE=/app/data/auth.yaml \
    DATABASE_URL=sqlite:////app/data/data/parley.db \
    PARLEY_SPOOL_FILE=/app/data/data/spool.jsonl \
    FORWARDED_ALLOW_IPS=
# A fixed, unprivileged uid (no login, no home of its own). /app/data is its one
# writable place: the volume with auth.yaml, data/parley.db, data/spool.jsonl, backups/. A new named volume
# starts as a copy of this folder, so it is the user's from the start.
RUN useradd --no-log-init --uid 10001 --user-group --home-dir /app/data --no-create-home \
        --shell /usr/sbin/nologin parley \
    && mkdir -p /app/data/data \
    && chown -R 10001:10001 /app/data \
    && chmod -R 700 /app/data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src /app
# PYTHONSAFEPATH=1: `python -m` (`docker exec ... python -m chat users`, `... chat health`)
# would otherwise put the working directory, the volume, first on sys.path, so a file
# there named like a Parley module would run as code. Code comes from the image only.
# The working directory is the volume, so relative paths from an env file made for
# `make run` (PARLEY_AUTH_FILE=auth.yaml, DATABASE_URL=sqlite:///data/parley.db) land on it
# too, and `docker exec parley python -m chat users ...` edits the same auth.yaml.
WORKDIR /app/data
VOLUME ["/app/data"]
USER 10001:10001
EXPOSE 8501
# Liveness: GET /healthz on this machine (standard library only; docker/healthcheck.py).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-P", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/bin/sh", "/app/docker/entrypoint.sh"]

# Last, so that a new commit does not invalidate the layers above.
ARG VERSION=unknown
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="Parley" \
      org.opencontainers.image.description="A self-hosted ChatGPT-style app for internal demos, on Streamlit." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
