"""The warnings vocabulary: severities and their colours, what a draft's state is
called, how far ahead a draft's deadline is set, and every limit on a warning."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# CAP severities, most severe first, and the colour of the Chinese warning levels
# they stand for (红 → 橙 → 黄 → 蓝).
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
SEVERITY_COLOURS = {
    "Extreme": "red",
    "Severe": "orange",
    "Moderate": "yellow",
    "Minor": "blue",
    "Unknown": "grey",
}
SEVERITY_LABELS = {
    "Extreme": _l("Red"),
    "Severe": _l("Orange"),
    "Moderate": _l("Yellow"),
    "Minor": _l("Blue"),
    "Unknown": _l("Level unknown"),
}
# WARNINGS_AUTOSEND may name a severity by its colour.
COLOUR_SEVERITY = {colour: severity for severity, colour in SEVERITY_COLOURS.items()}

MSG_TYPE_LABELS = {
    "Alert": _l("Issued"),
    "Update": _l("Updated"),
    "Cancel": _l("Lifted"),
    "Ack": _l("Acknowledgement"),
    "Error": _l("Error notice"),
}

# How a warning came in.
VIAS = ("api", "feed", "upload")

# What happened when a warning arrived (the warnings page says it in words).
OUTCOME_LABELS = {
    "drafted": _l("Draft sweeps made"),
    "updated": _l("Drafts amended"),
    "cancelled": _l("Drafts withdrawn"),
    "expired": _l("Already expired: nothing drafted"),
    "not_actual": _l("A test or exercise: nothing drafted"),
    "no_sweep": _l("No sweep is set for this kind of warning"),
    "nothing_matched": _l("No village here lies in its area"),
    "no_households": _l("The villages in its area have no households to sweep"),
    "unknown_reference": _l("It refers to no warning received here"),
    "ignored": _l("Not a warning to act on"),
}

# A draft's state as a warning's page shows it: drafted (waiting), sent, withdrawn,
# ignored (never sent, and its warning expired).
DRAFT_STATE_LABELS = {
    "drafted": _l("Drafted, waiting to be sent"),
    "sent": _l("Already sent"),
    "withdrawn": _l("Withdrawn"),
    "ignored": _l("Not sent before the warning expired"),
}

# A draft's deadline when the warning gives no onset, by its urgency (minutes).
URGENCY_MINUTES = {"Immediate": 60, "Expected": 120, "Future": 240, "Past": 60, "Unknown": 120}
# An onset sooner than this is too soon to be the deadline: the urgency's applies.
ONSET_MIN_MINUTES = 30

# Limits on what one document may carry (beyond WARNINGS_MAX_BYTES).
AREAS_MAX = 50
SHAPES_MAX = 50
GEOCODES_MAX = 2000
REFERENCES_MAX = 50
TEXT_MAX = 4000
CIRCLE_MAX_KM = 1000
# Warnings listed on one page.
PAGE_SIZE = 50
