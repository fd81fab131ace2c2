"""gunicorn settings of scripts/run, scripts/bench and any deployment:

    gunicorn -c gunicorn.conf.py 'village_grid:create_app()'

Rate limits (the door plates') count in each worker's memory unless
RATELIMIT_STORAGE_URI names a shared store (redis://). So by default one worker
process serves, with threads, and every limit counts exactly once; with a
shared store, WEB_CONCURRENCY workers (default 2). PORT and HOST choose where
it listens.
"""

import hashlib
import os
import tempfile

_host, _port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
bind = f"{_host}:{_port}"
_shared_limits = not os.environ.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory://")
workers = int(os.environ.get("WEB_CONCURRENCY") or (2 if _shared_limits else 1))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# The app, and the tree graph routing and progress read, are loaded once in the master
# before it forks the workers (when_ready): the workers share those pages instead of
# each building the graph on its first request (seconds at a district).
preload_app = True
accesslog = "-"
# The request line without its query string, and no Referer (which carries them too):
# search words and ids stay out of the log. (Door-plate tokens are in paths, not queries;
# the door-plate routes log nothing more than this line.)
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'


def _control_socket() -> str:
    """gunicorn's control socket (gunicornc), one per instance and address: the default,
    one per user (~/.gunicorn/gunicorn.ctl), is taken over by a second instance."""
    instance = os.environ.get("INSTANCE_PATH") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "instance"
    )
    path = os.path.join(instance, f"gunicorn-{_host}-{_port}.ctl")
    if len(path.encode()) > 100:  # a Unix socket's path holds at most 107 bytes
        digest = hashlib.sha256(path.encode()).hexdigest()[:16]
        path = os.path.join(tempfile.gettempdir(), f"village_grid-{digest}.ctl")
    return path


control_socket = _control_socket()


def on_starting(server):
    if server.cfg.workers > 1 and not _shared_limits:
        server.log.warning(
            "%s workers with rate limits in memory: each worker counts its own. "
            "Set RATELIMIT_STORAGE_URI=redis://… to share them.",
            server.cfg.workers,
        )


def when_ready(server):
    from village_grid.tasks.graph import preload

    preload(server.app.wsgi())
