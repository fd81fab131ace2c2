"""The words of files: their states."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATE_LABELS = {
    "queued": _l("Waiting for the worker"),
    "making": _l("Being made"),
    "done": _l("Ready"),
    "failed": _l("Could not be made"),
    "expired": _l("Deleted after its keeping time"),
}
RUNNING = ("queued", "making")
