"""A phone's queue of taps, applied once each: the sync behind ``POST /api/v1/field/sync``.

Each operation carries an id the phone made (a UUID), the task and household, the
status (with a kind of help and a note for "needs help") and ``at``, the phone's
time with its offset. Every operation goes through the one status service
(``tasks.statuses.record_status``) as the caller, in a savepoint of its own:

- applied once: an id already recorded is a ``duplicate`` and changes nothing, in
  this batch or any later one (the status service's replay by ``client_op_id``);
- ``at`` outside [dispatch, now] is clamped for ordering and the answer says so
  (``clamped``: future / before_dispatch); the event keeps the phone's time as sent;
- an operation older than the household's latest status is kept as an event and
  does not overwrite it (the service's rule);
- a malformed operation, one out of the caller's scope, on a closed task or for a
  household the task never reached is ``rejected`` with the service's error, and
  only it: the others of the batch apply. Nothing of a rejected one is written.

The caller's phone showed life on the tasks it sent (``field/signs.py``).
Flushes, never commits: the API view commits the batch.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.edge import ID_MAX, ID_MIN
from village_grid.errors import DomainError, InvalidInput
from village_grid.field import signs
from village_grid.field.labels import AT_MAX, NOT_AN_OBJECT, OP_FIELDS
from village_grid.models import Household, StatusEvent, Task, User
from village_grid.models.base import utcnow
from village_grid.tasks import labels
from village_grid.tasks.statuses import record_status


def apply_ops(
    session: Session,
    actor: User,
    ops: list,
    *,
    client_addr: str = "",
    now: datetime | None = None,
) -> list[dict]:
    """Apply a batch of queued operations as ``actor``; one result per operation, in
    order: ``{"op_id", "result": "applied" | "duplicate" | "rejected", "error"?, "clamped"?}``."""
    now = now or utcnow()
    known = _recorded(session, ops)
    seen: set[str] = set()
    tasks: dict[int, Task | None] = {}
    touched: set[int] = set()
    results: list[dict | None] = [None] * len(ops)
    # Rows are locked in (task, team, household) order, whatever the phone's order:
    # a report locks its team's counts, then the household's row, and two batches
    # taking them in different orders would each hold a lock the other waits for
    # (PostgreSQL ends one with a deadlock, a 500). Stable: the same household's ops
    # keep their order. Answered in the batch's order.
    teams = _teams_of(session, ops)
    for index in sorted(range(len(ops)), key=lambda i: _lock_order(ops[i], teams)):
        op = ops[index]
        op_id = op.get("op_id") if isinstance(op, dict) else None
        op_id = op_id if isinstance(op_id, str) else None
        try:
            clean = checked_op(op)
            task = tasks.get(clean["task_id"])
            if clean["task_id"] not in tasks:
                task = tasks[clean["task_id"]] = session.get(Task, clean["task_id"])
            duplicate = clean["op_id"] in known or clean["op_id"] in seen
            with session.begin_nested():
                event = record_status(
                    session,
                    actor,
                    task_id=clean["task_id"],
                    household_id=clean["household_id"],
                    status=clean["status"],
                    help_kind=clean["kind"],
                    note=clean["note"],
                    client_op_id=clean["op_id"],
                    client_time=clean["at"],
                    client_addr=client_addr,
                    now=now,
                )
        except DomainError as err:
            results[index] = {"op_id": op_id, "result": "rejected", "error": _error(err)}
            continue
        seen.add(clean["op_id"])
        touched.add(event.task_id)
        # A replay returns the first event (made before now), also when a second
        # request with the same operation raced this one.
        duplicate = duplicate or event.created_at != now
        result = {"op_id": clean["op_id"], "result": "duplicate" if duplicate else "applied"}
        clamp = clamped(clean["at"], task, now)
        if clamp and not duplicate:
            result["clamped"] = clamp
        results[index] = result
    signs.record_signs(session, actor, touched, kind="sync", now=now)
    return results


def _ids(op) -> tuple[int, int]:
    """(task id, household id) of an operation; (0, 0) for one too malformed to say."""
    if not isinstance(op, dict):
        return (0, 0)
    task_id, household_id = (op.get("task_id"), op.get("household_id"))
    return (
        task_id if type(task_id) is int else 0,
        household_id if type(household_id) is int else 0,
    )


def _teams_of(session: Session, ops: list) -> dict[int, int]:
    """The team of each household the batch names (one query)."""
    ids = {h for _task_id, h in map(_ids, ops) if ID_MIN <= h <= ID_MAX}
    if not ids:
        return {}
    return dict(
        session.execute(select(Household.id, Household.team_id).where(Household.id.in_(ids))).all()
    )


def _lock_order(op, teams: dict[int, int]) -> tuple[int, int, int]:
    """(task, team, household) of an operation, zeros where it is too malformed to say."""
    task_id, household_id = _ids(op)
    return (task_id, teams.get(household_id, 0), household_id)


def _recorded(session: Session, ops: list) -> set[str]:
    """The operation ids of this batch already recorded (one query)."""
    ids = {
        op["op_id"]
        for op in ops
        if isinstance(op, dict)
        and isinstance(op.get("op_id"), str)
        and 0 < len(op["op_id"]) <= labels.CLIENT_OP_ID_MAX
    }
    if not ids:
        return set()
    return set(
        session.scalars(select(StatusEvent.client_op_id).where(StatusEvent.client_op_id.in_(ids)))
    )


def _error(err: DomainError) -> dict:
    out = {"code": err.code, "message": err.message}
    if err.fields:
        out["fields"] = dict(err.fields)
    return out


def checked_op(op) -> dict:
    """One operation's fields, checked for shape (the status service checks the rest);
    InvalidInput naming every bad field otherwise."""
    if not isinstance(op, dict):
        raise InvalidInput(
            _("An operation is an object with op_id, task_id, household_id and status."),
            fields={"op": NOT_AN_OBJECT},
        )
    bad: dict[str, str] = {}
    for key in op:
        if key not in OP_FIELDS:
            bad[str(key)[:100]] = "not_allowed"
    op_id = op.get("op_id")
    if not isinstance(op_id, str) or not op_id.strip():
        bad["op_id"] = "required" if op_id is None else "invalid"
    elif len(op_id) > labels.CLIENT_OP_ID_MAX:
        bad["op_id"] = "too_long"
    for key in ("task_id", "household_id"):
        value = op.get(key)
        if value is None:
            bad[key] = "required"
        elif isinstance(value, bool) or not isinstance(value, int):
            bad[key] = "wrong_type"
        elif not ID_MIN <= value <= ID_MAX:
            bad[key] = "out_of_range"
    status = op.get("status")
    if status is None:
        bad["status"] = "required"
    elif status not in labels.REPORTED_STATUSES:
        bad["status"] = "unknown"
    kind = op.get("kind", "")
    if kind is not None and kind not in ("", *labels.HELP_KINDS):
        bad["kind"] = "unknown"
    note = op.get("note", "")
    if note is not None and not isinstance(note, str):
        bad["note"] = "wrong_type"
    at = None
    try:
        at = phone_time(op.get("at"))
    except ValueError as exc:
        bad["at"] = str(exc)
    if bad:
        raise InvalidInput(_("This operation is not valid."), fields=bad)
    return {
        "op_id": op_id.strip(),
        "task_id": op["task_id"],
        "household_id": op["household_id"],
        "status": status,
        "kind": kind or "",
        "note": note or "",
        "at": at,
    }


def phone_time(value) -> datetime | None:
    """``at`` as naive UTC; None when the phone sent none. ValueError (the field's error
    code) for a time that is not ISO 8601 or carries no offset."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > AT_MAX:
        raise ValueError("invalid")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("invalid") from None
    if parsed.tzinfo is None:
        raise ValueError("no_offset")
    return parsed.astimezone(UTC).replace(tzinfo=None)


def clamped(at: datetime | None, task: Task | None, now: datetime) -> str | None:
    """Whether the phone's time was moved into [dispatch, now] for ordering, and which way."""
    if at is None or task is None:
        return None
    if at > now:
        return "future"
    if at < task.created_at:
        return "before_dispatch"
    return None
