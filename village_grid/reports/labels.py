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
# Rows of each list of the report (teams, households never reached by team, calls for
# help, escalations): a million households' report stays a document one can read (and
# a PDF made in seconds), each list with a line saying how many it leaves out; the
# export holds every household.
ROWS_LISTED = 100
# Households never reached listed with their door numbers (in ROWS_LISTED teams at most).
UNREACHED_LISTED = 500
UNREACHED_TEAMS_LISTED = ROWS_LISTED
# Teams in the team table.
TEAMS_LISTED = ROWS_LISTED
# Cases listed in the calls-for-help and escalation sections.
CASES_LISTED = ROWS_LISTED

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
