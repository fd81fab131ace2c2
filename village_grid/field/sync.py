"""A phone's queue of taps, applied once each: the sync behind ``POST /api/v1/field/sync``.

Each operation carries an id the phone made (a UUID), the task and household, the
status (with a kind of help and a note for "needs help") and ``at``, the phone's
time with its offset. This module checks the shape of each operation (an object with
the fields it may carry, ids that are numbers, ``at`` a time with an offset) and hands
the well-formed ones, as one batch, to the status service
(``tasks.statuses.record_reports``, of which a single tap's ``record_status`` is the
one-report case) as the caller. The service decides the batch in one pass — its
operation ids looked up once, its households, teams and rows read once, the teams
locked in (task, team) order, the rows written together, one sign of life for the
batch — and says what happened to each operation, which is mapped to its answer:

- ``applied``; ``duplicate`` for an operation id this person sent before (nothing
  changes, in this batch or any later one); ``older: true`` for one older than the
  household's latest status (kept as an event); ``clamped`` (future /
  before_dispatch) when ``at`` lay outside [dispatch, now];
- ``rejected`` with the service's error for one that is malformed, out of the
  caller's scope, on a closed task or for a household the task never reached, and
  only it: the others of the batch apply. Nothing of a rejected one is written.

Answers come in the batch's order; one household's operations take effect in the order
sent. Flushes, never commits: the API view commits the batch.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from village_grid.edge import ID_MAX, ID_MIN
from village_grid.errors import DomainError, InvalidInput
from village_grid.field.labels import AT_MAX, NOT_AN_OBJECT, OP_FIELDS
from village_grid.models import User
from village_grid.models.base import utcnow
from village_grid.tasks.statuses import Report, record_reports


def apply_ops(
    session: Session,
    actor: User,
    ops: list,
    *,
    client_addr: str = "",
    now: datetime | None = None,
) -> list[dict]:
    """Apply a batch of queued operations as ``actor``; one result per operation, in
    order: ``{"op_id", "result": "applied" | "duplicate" | "rejected", "error"?,
    "clamped"?, "older"?}``."""
    now = now or utcnow()
    results: list[dict | None] = [None] * len(ops)
    reports: list[Report] = []
    sent: list[int] = []  # the index in ``ops`` of each report
    for index, op in enumerate(ops):
        try:
            clean = checked_op(op)
        except DomainError as err:
            op_id = op.get("op_id") if isinstance(op, dict) else None
            results[index] = _rejected(op_id if isinstance(op_id, str) else None, err)
            continue
        reports.append(
            Report(
                task_id=clean["task_id"],
                household_id=clean["household_id"],
                status=clean["status"],
                help_kind=clean["kind"],
                note=clean["note"],
                client_op_id=clean["op_id"],
                client_time=clean["at"],
            )
        )
        sent.append(index)
    # One pass for the batch, one sign of life for it (not one per operation).
    done = record_reports(session, actor, reports, client_addr=client_addr, now=now)
    for index, report, recorded in zip(sent, reports, done, strict=True):
        if isinstance(recorded, DomainError):
            results[index] = _rejected(report.client_op_id, recorded)
            continue
        result = {
            "op_id": report.client_op_id,  # a repeated tap's event is the first tap's
            "result": "duplicate" if recorded.result == "duplicate" else "applied",
        }
        if recorded.clamped:
            result["clamped"] = recorded.clamped
        if recorded.result == "older":
            result["older"] = True
        results[index] = result
    return results


def _rejected(op_id: str | None, err: DomainError) -> dict:
    return {"op_id": op_id, "result": "rejected", "error": _error(err)}


def _error(err: DomainError) -> dict:
    out = {"code": err.code, "message": err.message}
    if err.fields:
        out["fields"] = dict(err.fields)
    return out


def checked_op(op) -> dict:
    """One operation's fields, checked for shape: an object with the fields an operation
    carries, ids that are numbers in range, texts that are texts, ``at`` a time with
    its offset (the status service checks what they say); InvalidInput naming every
    bad field otherwise."""
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
    if op_id is None:
        bad["op_id"] = "required"
    elif not isinstance(op_id, str):
        bad["op_id"] = "wrong_type"
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
    for key in ("status", "kind", "note"):
        if op.get(key) is not None and not isinstance(op[key], str):
            bad[key] = "wrong_type"
    at = None
    try:
        at = phone_time(op.get("at"))
    except ValueError as exc:
        bad["at"] = str(exc)
    if bad:
        raise InvalidInput(_("This operation is not valid."), fields=bad)
    return {
        "op_id": op_id,
        "task_id": op["task_id"],
        "household_id": op["household_id"],
        "status": status,
        "kind": op.get("kind") or "",
        "note": op.get("note") or "",
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
