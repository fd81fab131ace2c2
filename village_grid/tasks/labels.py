"""The tasks vocabulary: every kind, status, limit and the words shown for them.

One place for each: the services check against these tuples, the JSON
schemas, forms and templates take their lists and limits from here, and the
pages, exports and messages show the labels below. Nothing else in the code
spells out a status list, a help kind or a length limit of a task.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# --- kinds ----------------------------------------------------------------------

TASK_KINDS = ("sweep", "campaign", "survey", "notice")
SWEEP_KINDS = ("flood", "typhoon", "fire", "heat", "cold", "other")

KIND_LABELS = {
    "sweep": _l("Sweep"),
    "campaign": _l("Campaign"),
    "survey": _l("Survey"),
    "notice": _l("Notice"),
}

# What a household reads at its door: every sweep is a safety check to it.
HOUSEHOLD_KIND_LABELS = {
    "sweep": _l("Safety check"),
    "campaign": _l("Campaign"),
    "survey": _l("Survey"),
    "notice": _l("Notice"),
}

SUBKIND_LABELS = {
    "flood": _l("Flood check"),
    "typhoon": _l("Typhoon check"),
    "fire": _l("Fire check"),
    "heat": _l("Heat check"),
    "cold": _l("Cold snap check"),
    "other": _l("Other check"),
}

# A task's state: a draft (made from an official warning, tasks/drafts.py) tells
# nobody until someone sends it; withdrawn is a draft closed unsent.
TASK_STATUSES = ("draft", "withdrawn", "open", "closed")
TASK_STATUS_LABELS = {
    "draft": _l("Draft, not sent"),
    "withdrawn": _l("Withdrawn"),
    "open": _l("Already sent"),
    "closed": _l("Closed"),
}
# A draft sent close to (or past) its deadline gets at least this long.
SENT_DRAFT_MIN_MINUTES = 30


def kind_label(kind: str, subkind: str = "") -> str:
    """What a task is called in messages and lists: a sweep by its kind of check."""
    if kind == "sweep":
        return str(SUBKIND_LABELS.get(subkind or "other", SUBKIND_LABELS["other"]))
    return str(KIND_LABELS.get(kind, kind))


# --- statuses -------------------------------------------------------------------

# A household's latest status on a task; "pending" until someone reports.
PENDING = "pending"
STATUSES = (PENDING, "safe", "needs_help", "not_home", "unreachable")
# What a team lead, grid member or cadre can report for a household.
REPORTED_STATUSES = STATUSES[1:]
# What a household itself may answer from its door plate, per task kind: the
# words for "I have seen it" (acknowledge a campaign, answer a survey, read a
# notice) all record "safe" — the household answered.
HOUSEHOLD_STATUSES = {
    "sweep": ("safe", "needs_help"),
    "campaign": ("safe", "needs_help"),
    "survey": ("safe",),
    "notice": ("safe",),
}
STATUS_ALIASES = {"acknowledged": "safe", "answered": "safe", "read": "safe"}
# The statuses a door-plate client may send, aliases included.
HOUSEHOLD_ANSWERS = ("safe", "needs_help", *STATUS_ALIASES)

# Counts of a task's progress, in this order: the total, then one per status.
COUNT_KEYS = ("total", *STATUSES)
# A task reaching more teams than this (more than a township) is told by the worker,
# seconds after its dispatch commits, not in the dispatch request (tasks/telling.py).
TELL_INLINE_TEAMS = 2000

STATUS_LABELS = {
    "pending": _l("Not reached"),
    "safe": _l("Safe"),
    "needs_help": _l("Needs help"),
    "not_home": _l("Not home"),
    "unreachable": _l("Unreachable"),
}
# Campaigns and surveys are "done" rather than "safe".
DONE_LABEL = _l("Done")


def status_label(status: str, kind: str = "sweep") -> str:
    """A status as people read it: "done" for a campaign or survey answered."""
    if status == "safe" and kind in ("campaign", "survey"):
        return str(DONE_LABEL)
    return str(STATUS_LABELS.get(status, status))


# --- calls for help -------------------------------------------------------------

HELP_KINDS = ("flooding", "medical", "evacuation", "supplies", "other")
# What staff read (lists, exports, messages).
HELP_LABELS = {
    "flooding": _l("Flooding"),
    "medical": _l("Medical"),
    "evacuation": _l("Evacuation"),
    "supplies": _l("Supplies"),
    "other": _l("Other"),
}
# What a household is offered on its door-plate page: the same kinds, in its own words.
HELP_ASKS = {
    "flooding": _l("Water coming in"),
    "medical": _l("Someone is ill or hurt"),
    "evacuation": _l("We need to move out"),
    "supplies": _l("Food, water or medicine"),
    "other": _l("Other"),
}

# What the status service did with a report (tasks/statuses.py: Recorded): it now holds
# the household's status, it repeated an operation its sender had sent before, or it was
# older than the status held (kept as an event only).
REPORT_RESULTS = ("applied", "duplicate", "older")
# A phone's time outside [dispatch, now] is clamped for ordering, and the answer says which.
CLAMPED = ("future", "before_dispatch")

# --- how a status reached us ----------------------------------------------------

# Decided by the status service from who sent it, never by the client:
# household_qr (no login, the door plate), sync (a phone's queued operation,
# carrying its client_op_id), team_lead (the lead of the household's team),
# cadre (anyone else acting for the lead). "api" marks events recorded before
# the service decided.
VIA = ("team_lead", "household_qr", "cadre", "sync", "api")
VIA_LABELS = {
    "team_lead": _l("Team lead"),
    "household_qr": _l("Door-plate QR"),
    "cadre": _l("Cadre"),
    "sync": _l("Offline sync"),
    "api": _l("API"),
}

# --- escalations ----------------------------------------------------------------

ESCALATION_STATES = ("open", "acknowledged", "resolved")
# The states of a case still to be dealt with.
OPEN_CASE_STATES = ESCALATION_STATES[:2]
# Why a case opened (tasks/cases.py): a household called for help (a case about the
# household); households of a team not reached by the deadline (one case about the team,
# naming them), a notice not read by the deadline, a team lead with households to confirm
# whose phone gave no sign of life ("call the lead") — cases about a team of a task.
ESCALATION_REASONS = ("needs_help", "overdue", "unread", "silent")
HOUSEHOLD_CASE_REASONS = ("needs_help",)
TEAM_CASE_REASONS = ("overdue", "unread", "silent")
# Cases about a person (who has not read, who went silent) climb past that person.
PASSES_OVER = ("unread", "silent")
# The cases that end when every household of their team is confirmed.
ENDED_BY_CONFIRMING = ("overdue", "silent")
# The cases that end with their task (a call for help stays until someone closes it).
ENDED_BY_CLOSING = TEAM_CASE_REASONS
ESCALATION_REASON_LABELS = {
    "needs_help": _l("Needs help"),
    "overdue": _l("Not reached by the deadline"),
    "unread": _l("Notice not read by the deadline"),
    "silent": _l("Team lead silent: call them"),
}
# Silent leads are looked for on sweeps: the urgent, deadline-bound tasks. A
# campaign or survey runs for days, a notice has its own read receipts.
SILENT_TASK_KINDS = ("sweep",)
# Silent leads listed on a progress page.
SILENT_LISTED = 200
# The resolution notes a case gets when it ends by itself.
HEARD_NOTE = _l("Heard from the team lead")
READ_NOTE = _l("Read")
CONFIRMED_NOTE = _l("Every household is confirmed.")
CLOSED_NOTE = _l("Task closed.")
ESCALATION_STATUS_LABELS = {
    "open": _l("Waiting"),
    "acknowledged": _l("Acknowledged"),
    "resolved": _l("Resolved"),
}

# --- signs of life ---------------------------------------------------------------

# open: the page with the task was fetched; tap: a status sent from the page
# without the queue; sync: the phone's queue reached the server.
SIGN_KINDS = ("open", "tap", "sync")
SIGN_LABELS = {
    "open": _l("opened the page"),
    "tap": _l("confirmed a household"),
    "sync": _l("synced"),
}
# --- surveys --------------------------------------------------------------------

QUESTION_TYPES = ("choice", "number", "text")
QUESTION_TYPE_LABELS = {
    "choice": _l("Choice"),
    "number": _l("Number"),
    "text": _l("Text"),
}

# --- limits ---------------------------------------------------------------------

TITLE_MAX = 200
BODY_MAX = 5000
SUBKIND_MAX = 20
# A note with a status (team lead, door plate, API, sync) and a resolution note.
NOTE_MAX = 500
QUESTIONS_MAX = 20
QUESTION_ID_MAX = 20
QUESTION_TEXT_MAX = 200
CHOICES_MAX = 20
CHOICE_MAX = 100
# A survey's text answer.
ANSWER_TEXT_MAX = 500
ANSWER_NUMBER_MAX = 1e12
# From one minute (a drill) to a season (a campaign).
DEADLINE_MINUTES_MIN = 1
MINUTES_A_DAY = 24 * 60
DEADLINE_MINUTES_MAX = 90 * MINUTES_A_DAY
# The shortest deadline the dispatch page's "other" box takes, in minutes.
CUSTOM_DEADLINE_MINUTES_MIN = 5
# A client operation id (offline sync).
CLIENT_OP_ID_MAX = 64
# A person's report the same as the one they made at most this long before (a double tap,
# or a tap repeated while the first waited for signal) is a duplicate: nothing is written.
REPEAT_SECONDS = 300
# Calls for help listed on the progress page and in its JSON, newest first (the rest are
# in the escalation queue, a page at a time): an answer stays small at any level.
CASES_LISTED = 50

# --- how much a page lists ---------------------------------------------------------

# Above this many units the dispatch list stops at the grids.
DISPATCH_UNIT_LIMIT = 300
# Households not reached, and people who have not read a notice, on a progress page.
PENDING_LIST_LIMIT = 300
# Above this many households a grid member's team page first asks which team.
TEAM_VIEW_LIMIT = 60
# Cases on one page of the escalation queue.
ESCALATIONS_LISTED = 100
# Households not reached yet on one page of the progress page (and in its poll).
PENDING_PAGE = 50
