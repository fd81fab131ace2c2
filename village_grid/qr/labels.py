"""The door-plate vocabulary: red-mailbox categories and states and their words,
and the length limits of a note and a reply. (What a household may answer to a
task, and the words for it, are the tasks vocabulary: ``tasks/labels.py``.)
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from village_grid.tasks.routing import role_words

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


def help_sent(told: tuple[str, ...] | list[str]) -> str:
    """What a household is shown after calling for help: who was told, by role (their
    names stay private), nearest first — or that nobody on duty could be told."""
    if not told:
        return _(
            "Your call for help is recorded, but nobody on duty could be told. "
            "If you are in danger, call 110, 119 or 120."
        )
    who = _(", ").join(role_words(role, _) for role in told)
    return _("Your call for help has been sent. Told at once: %(who)s.", who=who)
