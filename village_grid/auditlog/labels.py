"""The audit page's words: what each action, kind of object and field is called,
and how a value written in ``before``/``after`` reads. An action or field without
a word here is shown as it is stored, so a new one is never hidden."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from village_grid.auth.labels import role_label
from village_grid.hierarchy.labels import FLAG_LABELS, KIND_LABELS, RELATION_LABELS, SEX_LABELS
from village_grid.qr.labels import STATUSES as MAILBOX_STATUSES
from village_grid.tasks.labels import (
    ESCALATION_REASON_LABELS,
    ESCALATION_STATUS_LABELS,
    HELP_LABELS,
    SUBKIND_LABELS,
    VIA_LABELS,
)
from village_grid.tasks.labels import (
    KIND_LABELS as TASK_KIND_LABELS,
)

ACTION_LABELS = {
    # the tree and the registry
    "unit.create": _l("Unit created"),
    "unit.robot": _l("Work-group robot changed"),
    "team.split": _l("Team split"),
    "household.create": _l("Household registered"),
    "household.update": _l("Household changed"),
    "household.move": _l("Household moved"),
    "member.add": _l("Member added"),
    "member.remove": _l("Member removed"),
    "registry.import": _l("Registry imported"),
    "file.download": _l("File downloaded"),
    # tasks and escalations
    "task.dispatch": _l("Task sent"),
    "task.close": _l("Task closed"),
    "escalation.open": _l("Case opened"),
    "escalation.climb": _l("Cases climbed a level"),
    "escalation.acknowledge": _l("Case acknowledged"),
    "escalation.resolve": _l("Case resolved"),
    # door plates and the red mailbox
    "plate.rotate": _l("Door plate replaced"),
    "mailbox.reply": _l("Mailbox note answered"),
    "mailbox.close": _l("Mailbox note closed"),
    # people, roles and logins (written by auth)
    "user.create": _l("Person created"),
    "user.password": _l("Password changed"),
    "user.password_reset": _l("Password reset"),
    "user.available": _l("Availability changed"),
    "role.assign": _l("Role given"),
    "role.remove": _l("Role taken away"),
    "login.locked": _l("Login locked after failed attempts"),
    # statuses (kept in their own append-only record, shown here with the rest)
    "status": _l("Status reported"),
}

OBJECT_LABELS = {
    "unit": _l("Unit"),
    "household": _l("Household"),
    "task": _l("Task"),
    "escalation": _l("Case"),
    "mailbox": _l("Mailbox note"),
    "user": _l("Person"),
    "role": _l("Role"),
    "address": _l("Address"),
    "login": _l("Login"),
    "file": _l("File"),
}

FIELD_LABELS = {
    "kind": _l("Kind"),
    "subkind": _l("Kind of check"),
    "name": _l("Name"),
    "code": _l("Code"),
    "parent": _l("Under"),
    "team": _l("Team"),
    "new_team": _l("New team"),
    "door_no": _l("Door number"),
    "address": _l("Address"),
    "head_name": _l("Head of household"),
    "phone": _l("Phone"),
    "latitude": _l("Latitude"),
    "longitude": _l("Longitude"),
    "flags": _l("Flags"),
    "members": _l("Members"),
    "households": _l("Households"),
    "relation": _l("Relation"),
    "sex": _l("Sex"),
    "birth_year": _l("Birth year"),
    "file": _l("File"),
    "sha256": _l("File fingerprint (SHA-256)"),
    "rows": _l("Rows"),
    "units_created": _l("Units created"),
    "households_created": _l("Households created"),
    "members_created": _l("Members created"),
    "title": _l("Title"),
    "unit": _l("Sent to"),
    "units": _l("Only under"),
    "deadline": _l("Deadline"),
    "teams": _l("Teams"),
    "closed_at": _l("Closed"),
    "cases_resolved": _l("Overdue cases closed"),
    "status": _l("Status"),
    "reason": _l("Reason"),
    "help_kind": _l("Kind of help"),
    "note": _l("Note"),
    "via": _l("Via"),
    "resolution_note": _l("What was done"),
    "overdue": _l("Households overdue"),
    "overdue_climbed": _l("Overdue cases climbed"),
    "needs_help_climbed": _l("Calls for help climbed"),
    "unread": _l("Notices not read by the deadline"),
    "unread_climbed": _l("Unread notices climbed"),
    "silent": _l("Silent team leads"),
    "silent_climbed": _l("Silent team leads climbed"),
    "reply": _l("Reply"),
    "username": _l("Username"),
    "logins_ended": _l("Logins ended"),
    "generated": _l("Generated password"),
    "available": _l("Available"),
    "user_id": _l("Person"),
    "role": _l("Role"),
    "unit_id": _l("Unit"),
    "by": _l("Counted by"),
    "login": _l("Login"),
    "client_addr": _l("Address"),
    "until": _l("Until"),
    "failures": _l("Failed attempts"),
    "robot": _l("Work-group robot"),
}

YES, NO, NOTHING = _l("yes"), _l("no"), "—"
# Fields whose values are words of a vocabulary.
_VALUE_WORDS = {
    "flags": FLAG_LABELS,
    "relation": RELATION_LABELS,
    "sex": SEX_LABELS,
    "subkind": SUBKIND_LABELS,
    "reason": ESCALATION_REASON_LABELS,
    "help_kind": HELP_LABELS,
    "via": VIA_LABELS,
}
_TIME_FIELDS = ("deadline", "closed_at", "until")


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def object_label(object_type: str) -> str:
    return str(OBJECT_LABELS.get(object_type, object_type))


def field_label(field: str) -> str:
    return str(FIELD_LABELS.get(field, field))


def _time(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        return value
    if moment.tzinfo is not None:  # stored times are naive UTC; an aware one is made so
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return format_datetime(moment, "yyyy-MM-dd HH:mm")


def _words(field: str, value: object, object_type: str) -> dict | None:
    if field == "kind":
        return TASK_KIND_LABELS if object_type == "task" else KIND_LABELS
    if field == "status":
        return MAILBOX_STATUSES if object_type == "mailbox" else ESCALATION_STATUS_LABELS
    return _VALUE_WORDS.get(field)


def value_text(field: str, value: object, object_type: str = "") -> str:
    """A value from an event's ``before`` or ``after`` as a person reads it."""
    if value is None or value == "" or value == []:
        return NOTHING
    if isinstance(value, bool):
        return str(YES if value else NO)
    if field == "role" and isinstance(value, str):
        return role_label(value)
    if field in _TIME_FIELDS and isinstance(value, str):
        return _time(value)
    words = _words(field, value, object_type)
    if isinstance(value, list):
        return "、".join(value_text(field, v, object_type) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{field_label(k)}: {value_text(k, v)}" for k, v in value.items())
    if words is not None and isinstance(value, str):
        return str(words.get(value, value))
    return str(value)


# Entries on one page of the audit log; deeper than MAX_PAGE, narrow the dates instead
# (each page reads every entry before it).
PER_PAGE = 50
MAX_PAGE = 2000
