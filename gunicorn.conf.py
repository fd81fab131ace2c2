"""gunicorn settings of scripts/run, scripts/bench and any deployment:

    gunicorn -c gunicorn.conf.py 'village_grid:create_app()'

Rate limits (the door plates') count in each worker's memory unless
RATELIMIT_STORAGE_URI names a shared store (redis://). So by default one worker
process serves, with threads, and every limit counts exactly once; with a
shared store, WEB_CONCURRENCY workers (default 2). PORT and HOST choose where
it listens.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
_shared_limits = not os.environ.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory://")
workers = int(os.environ.get("WEB_CONCURRENCY") or (2 if _shared_limits else 1))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
accesslog = "-"


def on_starting(server):
    if server.cfg.workers > 1 and not _shared_limits:
        server.log.warning(
            "%s workers with rate limits in memory: each worker counts its own. "
            "Set RATELIMIT_STORAGE_URI=redis://… to share them.",
            server.cfg.workers,
        )
