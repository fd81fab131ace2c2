"""The reports' vocabulary and limits: the thresholds of coverage, how much each section lists."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# Coverage a report gives the time to, per unit (percent of the households reached).
THRESHOLDS = (50, 90, 100)
# The threshold earlier sweeps are compared by (their median time to it).
COMPARED_AT = 90
# Earlier tasks of the same kind put beside this one.
EARLIER_LISTED = 8
# Points of each coverage curve (the whole unit, each child unit).
CURVE_POINTS = 48
# Child units drawn as small multiples (the table lists them all).
SMALL_MULTIPLES = 24
# Households never reached listed with their door numbers, in at most so many teams
# (rows of their table): a million households' report stays a document one can read,
# with a line saying how many more the export holds.
UNREACHED_LISTED = 500
UNREACHED_TEAMS_LISTED = 100
# Teams in the team table.
TEAMS_LISTED = 300
# Cases listed in the calls-for-help and escalation sections.
CASES_LISTED = 200

TITLE = _l("After-action report")
SECTION_LABELS = {
    "sent": _l("What was sent"),
    "coverage": _l("Coverage over time"),
    "units": _l("Side by side"),
    "teams": _l("Teams"),
    "unreached": _l("Households never reached"),
    "help": _l("Calls for help"),
    "escalations": _l("Escalations"),
    "messages": _l("Messages"),
    "earlier": _l("Earlier tasks of the same kind"),
    "reads": _l("Read receipts"),
}
DEADLINE_MARK = _l("The deadline")
