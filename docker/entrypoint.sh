#!/bin/sh
# Parley's container entrypoint.
#
#   docker run ... parley             check the configuration, create the first admin when
#                                     auth.yaml has no user (its one-time password is printed
#                                     once, in `docker logs`), migrate the database, then serve
#                                     on $PORT (8501) at $ADDRESS (0.0.0.0)
#   docker run ... parley CMD ARGS    run CMD as given instead, e.g.
#                                     docker run --rm -v parley-data:/app/data parley python -m chat users list
#
# Configuration comes only from the environment (docker run --env-file .env / -e):
# nothing secret is in the image, and no .env file is read or written in here.
set -eu

# The volume (the working directory) holds every conversation and the users file: what
# Parley makes is its owner's alone, and so is what an older image left readable.
umask 077
chmod -R go-rwx . 2>/dev/null || echo "parley: warning: some files in $(pwd) are not ours; they keep their modes." >&2

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

status=0
python -P -m chat bootstrap --no-env-file || status=$?
if [ "$status" -ne 0 ]; then
    echo "parley: not starting (exit $status): see the reason above." >&2
    exit "$status"
fi

# python -P (PYTHONSAFEPATH): the working directory is the volume, and a file there named
# like a module (chat/, streamlit.py) must never run as code; code comes from the image only.
# Streamlit handles SIGTERM itself (docker stop): replies still streaming are saved as
# `interrupted` before it exits.
exec python -P -m streamlit run /app/app.py \
    --server.port "${PORT:-8501}" \
    --server.address "${ADDRESS:-0.0.0.0}" \
    --server.headless true \
    --server.fileWatcherType none \
    --server.runOnSave false \
    --browser.gatherUsageStats false
