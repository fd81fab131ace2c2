"""The field vocabulary: what an offline operation may carry, how a sync answers
each one, the signs of life a phone gives, the household flags a lead is shown,
and their words. One place for each; the services, the schema, the pages and
static/field.js (through data attributes) take them from here."""

from __future__ import annotations

# --- the sync API ---------------------------------------------------------------

# Operations in one batch: the phone sends at most this many at a time.
SYNC_MAX_OPS = 200
# How each operation of a batch went.
OP_RESULTS = ("applied", "duplicate", "rejected")
# The fields an operation carries (``at``: the phone's time, with its offset).
OP_FIELDS = ("op_id", "task_id", "household_id", "status", "kind", "note", "at")
# An ISO 8601 time as a phone writes it, at most this long.
AT_MAX = 40

# Why an operation was rejected, besides the status service's own codes
# (not_found, task_closed, not_in_task, invalid_input, client_op_id_reused ...).
NOT_AN_OBJECT = "not_an_object"

# --- the "my team" page ------------------------------------------------------------

# The household flags a lead needs in an emergency, in this order (their words are
# hierarchy/labels.py's FLAG_LABELS).
FLAGS_THAT_MATTER = ("elderly_alone", "disabled", "young_children", "pregnant", "flood_prone")
# Teams listed on a grid member's or cadre's "my team" page before "open a grid".
TEAMS_LISTED = 200
# Red-mailbox letters of the team shown on its page.
LETTERS_SHOWN = 5
# The statuses a lead taps on the page (needs_help asks for a kind first).
TAP_STATUSES = ("safe", "not_home", "unreachable")

# Open tasks on one team's page, most urgent first.
TASKS_SHOWN = 20
