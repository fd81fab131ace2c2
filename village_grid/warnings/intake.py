"""An official warning arrives — by the API, the feed or an upload, always through
:func:`receive` — and becomes draft sweeps for the villages in its area.

- The same identifier twice: the first one is returned, nothing new is made.
- An Alert drafts one sweep per village covered (``matching.py``) whose households
  the event's sweep reaches (``WARNINGS_EVENTS``); an expired warning, a test or an
  exercise drafts nothing.
- An Update amends the drafts of the warnings it refers to while they are unsent,
  withdraws those of villages no longer covered, drafts for villages newly covered;
  an Update of a warning never received here acts as an Alert.
- A Cancel withdraws unsent drafts, and tells the cadre of a sweep already sent.
- The cadre of each village touched (or whoever is on duty above) is told at once.

Functions flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from village_grid.audit.service import iso_time, record
from village_grid.models import OfficialWarning, Task, User, WarningDraft
from village_grid.models.base import utcnow
from village_grid.notify import service as notify
from village_grid.tasks import dispatch, drafts
from village_grid.tasks.graph import get_graph
from village_grid.warnings import cap, labels, matching, messages


def sweep_for(event: str, headline: str) -> dict | None:
    """The sweep a warning's event drafts (``WARNINGS_EVENTS``): the first word found
    in the event, then in the headline; None when none is."""
    events = current_app.config["WARNINGS_EVENTS"]
    for text in (event, headline):
        for word, sweep in events.items():
            if word in (text or ""):
                return sweep
    return None


def deadline_for(warning: OfficialWarning, now: datetime) -> datetime:
    """The onset, when it is at least ``ONSET_MIN_MINUTES`` away; otherwise now plus
    the urgency's minutes."""
    if warning.onset and warning.onset >= now + timedelta(minutes=labels.ONSET_MIN_MINUTES):
        return warning.onset
    return now + timedelta(minutes=labels.URGENCY_MINUTES.get(warning.urgency, 120))


def draft_body(warning: OfficialWarning) -> str:
    parts = [warning.description, warning.instruction]
    return "\n".join(p for p in parts if p)[:2000]


def _new_warning(parsed: cap.Cap, document: bytes, actor, via, source_url, now) -> OfficialWarning:
    return OfficialWarning(
        identifier=parsed.identifier,
        sender=parsed.sender,
        sent=parsed.sent,
        status=parsed.status,
        msg_type=parsed.msg_type,
        references=parsed.references,
        event=parsed.event,
        severity=parsed.severity or "Unknown",
        urgency=parsed.urgency or "Unknown",
        certainty=parsed.certainty or "Unknown",
        headline=parsed.headline,
        description=parsed.description,
        instruction=parsed.instruction,
        sender_name=parsed.sender_name,
        onset=parsed.onset,
        expires=parsed.expires,
        areas=[a.as_json() for a in parsed.areas],
        document=document.decode("utf-8", "replace"),
        received_via=via,
        received_by_id=actor.id if actor is not None else None,
        received_at=now,
        source_url=source_url[:500],
    )


def receive(
    session: Session,
    actor: User | None,
    document: bytes,
    *,
    via: str,
    source_url: str = "",
    now: datetime | None = None,
) -> tuple[OfficialWarning, bool]:
    """Read, store and act on one CAP document; ``(warning, True)`` when it is new,
    ``(the one received before, False)`` for an identifier already here.
    Raises InvalidInput (``fields.cap``) for anything that is not CAP 1.2: nothing is stored."""
    now = now or utcnow()
    parsed = cap.parse(document)
    existing = session.scalar(
        select(OfficialWarning).where(OfficialWarning.identifier == parsed.identifier)
    )
    if existing is not None:
        return existing, False
    warning = _new_warning(parsed, document, actor, via, source_url, now)
    try:
        with session.begin_nested():
            session.add(warning)
    except IntegrityError:  # the same warning arrived by another way a moment ago
        return session.scalar(
            select(OfficialWarning).where(OfficialWarning.identifier == parsed.identifier)
        ), False
    changes: list[tuple[str, Task, int]] = []
    if warning.status != "Actual":
        warning.outcome = "not_actual"
    elif warning.msg_type == "Cancel":
        warning.outcome = _cancel(session, warning, changes, now)
    elif warning.msg_type == "Update":
        warning.outcome = _update(session, warning, changes, now)
    elif warning.msg_type == "Alert":
        warning.outcome = _alert(session, warning, changes, now)
    else:
        warning.outcome = "ignored"
    session.flush()
    notify.enqueue_many(
        session, messages.cadre_messages(get_graph(session), warning, changes), now=now
    )
    record(
        session,
        actor,
        "warning.receive",
        object_type="warning",
        object_id=warning.id,
        after={
            "identifier": warning.identifier,
            "event": warning.event,
            "severity": warning.severity,
            "msg_type": warning.msg_type,
            "via": via,
            "outcome": warning.outcome,
            "expires": iso_time(warning.expires),
            "drafts": len(warning.drafts),
        },
    )
    return warning, True


def _plan(
    session: Session, warning: OfficialWarning, now: datetime
) -> tuple[dict, dict | None, str]:
    """The villages to sweep (village → filter), the sweep, and why there are none."""
    if warning.expires is not None and warning.expires <= now:
        return {}, None, "expired"
    sweep = sweep_for(warning.event, warning.headline)
    if sweep is None:
        return {}, None, "no_sweep"
    villages = matching.affected(session, warning.areas)
    if not villages:
        return {}, sweep, "nothing_matched"
    plan = {
        v: {"flags": list(sweep["flags"]), "unit_ids": teams or []} for v, teams in villages.items()
    }
    return plan, sweep, ""


def _households(session: Session, village_id: int, flt: dict) -> int:
    return dispatch.preview_dispatch(session, None, unit_id=village_id, filter=flt)["households"]


def _autosend_at(warning: OfficialWarning, now: datetime) -> datetime | None:
    minutes = current_app.config["WARNINGS_AUTOSEND"].get(warning.severity)
    return now + timedelta(minutes=minutes) if minutes else None


def _draft(session, warning, changes, village_id, flt, sweep, now) -> bool:
    households = _households(session, village_id, flt)
    if not households:
        return False
    task = drafts.draft_sweep(
        session,
        unit_id=village_id,
        subkind=sweep["subkind"],
        title=messages.headline(warning),
        body=draft_body(warning),
        deadline=deadline_for(warning, now),
        filter=flt,
        now=now,
    )
    warning.drafts.append(
        WarningDraft(
            task_id=task.id,
            unit_id=village_id,
            households=households,
            change="drafted",
            autosend_at=_autosend_at(warning, now),
        )
    )
    changes.append(("drafted", task, households))
    return True


def _alert(session, warning, changes, now) -> str:
    plan, sweep, why = _plan(session, warning, now)
    if why:
        return why
    made = [
        _draft(session, warning, changes, v, flt, sweep, now) for v, flt in sorted(plan.items())
    ]
    return "drafted" if any(made) else "no_households"


def _earlier(session: Session, warning: OfficialWarning) -> list[OfficialWarning]:
    """The warnings an Update or Cancel refers to ("sender,identifier,sent" each)."""
    ids = [r.split(",")[1] for r in warning.references if r.count(",") >= 2]
    if not ids:
        return []
    found = list(
        session.scalars(select(OfficialWarning).where(OfficialWarning.identifier.in_(ids)))
    )
    for old in found:
        old.superseded_by_id = warning.id
    return found


def _tasks_of(earlier: list[OfficialWarning]) -> dict[int, WarningDraft]:
    """The tasks the earlier warnings drafted: task id → its latest row."""
    rows: dict[int, WarningDraft] = {}
    for old in earlier:
        for row in old.drafts:
            rows[row.task_id] = row
    return rows


def _keep_row(warning, changes, task: Task, row: WarningDraft, change: str, said: str = "") -> None:
    """Note a task the warning touched; ``said``: what the cadre is told, if not ``change``."""
    warning.drafts.append(
        WarningDraft(task_id=task.id, unit_id=row.unit_id, households=row.households, change=change)
    )
    changes.append((said or change, task, row.households))


def _update(session, warning, changes, now) -> str:
    earlier = _earlier(session, warning)
    if not earlier:
        return _alert(session, warning, changes, now)
    plan, sweep, _why = _plan(session, warning, now)
    touched = set()
    for task_id, row in _tasks_of(earlier).items():
        task = session.get(Task, task_id)
        touched.add(task.unit_id)
        flt = plan.get(task.unit_id)
        if task.status != "draft":
            _keep_row(warning, changes, task, row, "sent_before", "sent_updated")
        elif flt is None:
            drafts.withdraw_draft(session, None, task, now=now)
            _keep_row(warning, changes, task, row, "withdrawn")
        else:
            drafts.amend_draft(
                session,
                task,
                subkind=sweep["subkind"],
                title=messages.headline(warning),
                body=draft_body(warning),
                deadline=deadline_for(warning, now),
                filter=flt,
            )
            row_households = _households(session, task.unit_id, flt)
            warning.drafts.append(
                WarningDraft(
                    task_id=task.id,
                    unit_id=row.unit_id,
                    households=row_households,
                    change="amended",
                )
            )
            changes.append(("amended", task, row_households))
    for village_id, flt in sorted(plan.items()):
        if village_id not in touched:
            _draft(session, warning, changes, village_id, flt, sweep, now)
    return "updated"


def _cancel(session, warning, changes, now) -> str:
    earlier = _earlier(session, warning)
    if not earlier:
        return "unknown_reference"
    for task_id, row in _tasks_of(earlier).items():
        task = session.get(Task, task_id)
        if task.status == "draft":
            drafts.withdraw_draft(session, None, task, now=now)
            _keep_row(warning, changes, task, row, "withdrawn")
        elif task.status == "open":
            _keep_row(warning, changes, task, row, "sent_before", "sent_cancelled")
    return "cancelled"
