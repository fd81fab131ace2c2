"""The door-plate vocabulary: red-mailbox categories and states and their words,
and the length limits of a note and a reply. (What a household may answer to a
task, and the words for it, are the tasks vocabulary: ``tasks/labels.py``.)
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CATEGORIES = {
    "safety": _l("Safety hazard"),
    "environment": _l("Environment and sanitation"),
    "facilities": _l("Repairs and facilities"),
    "neighbours": _l("Neighbour dispute"),
    "help": _l("Help with daily life"),
    "suggestion": _l("Suggestion"),
    "other": _l("Other"),
}
STATUSES = {"open": _l("Waiting"), "replied": _l("Replied"), "closed": _l("Closed, done")}
# A household's note to the red mailbox, and the staff's reply.
TEXT_MAX = 1000
REPLY_MAX = 1000
