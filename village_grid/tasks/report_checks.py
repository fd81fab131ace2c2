"""What one report says, checked on its own: its operation id, status, help kind and
note, a survey's answers, the phone's time against [dispatch, now], how it came
(``via``), and whether it only repeats the sender's last report. The status service
(``tasks/statuses.py``) asks these for every report, one or a batch's; none reads
the database.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from village_grid.auth import scope
from village_grid.errors import InvalidInput, NotFound
from village_grid.models import User
from village_grid.tasks import labels
from village_grid.validation import clean_text


def happened(
    at: datetime | None, created_at: datetime, now: datetime
) -> tuple[datetime, str | None]:
    """When a report happened, for ordering: the phone's time ``at`` (None: now) kept in
    [dispatch, now]; and whether it lay outside, which way (``future`` /
    ``before_dispatch``)."""
    at = at.replace(tzinfo=None) if at is not None else None
    if at is None:
        return now, None
    if at > now:
        return now, "future"
    if at < created_at:
        return created_at, "before_dispatch"
    return at, None


def checked_op_id(client_op_id) -> str:
    """An operation id as a phone sent it, trimmed: 1 to CLIENT_OP_ID_MAX characters."""
    op_id = client_op_id.strip() if isinstance(client_op_id, str) else ""
    if not op_id or len(op_id) > labels.CLIENT_OP_ID_MAX:
        raise InvalidInput(
            _("The operation id has 1 to %(max)s characters.", max=labels.CLIENT_OP_ID_MAX),
            fields={"client_op_id": "invalid" if not op_id else "too_long"},
        )
    return op_id


def via_for(actor: User | None, team_path: str, client_op_id: str | None) -> str:
    """How a status came (:data:`labels.VIA`): from the door plate (no actor), from a
    phone's offline queue (it carries the operation id the phone made), from the
    lead of the household's team (at ``team_path``), or from anyone else acting for
    the lead."""
    if actor is None:
        return "household_qr"
    if client_op_id is not None:
        return "sync"
    return "team_lead" if scope.leads_team_at(actor, team_path) else "cadre"


def checked_status(status: str, help_kind: str, note) -> tuple[str, str, str]:
    """The status, help kind and note of a report, checked and trimmed."""
    if status not in labels.REPORTED_STATUSES:
        raise InvalidInput(
            _("Status is safe, needs help, not home or unreachable."), fields={"status": "unknown"}
        )
    help_kind = (help_kind or "").strip() if isinstance(help_kind, str) else ""
    if status == "needs_help":
        help_kind = help_kind or "other"
        if help_kind not in labels.HELP_KINDS:
            raise InvalidInput(_("Unknown kind of help."), fields={"kind": "unknown"})
    else:
        help_kind = ""
    note = clean_text(
        note if isinstance(note, str) else "",
        field="note",
        max_len=labels.NOTE_MAX,
        label=_l("Note"),
    )
    return status, help_kind, note


def clean_answers(kind: str, questions: list | None, answers) -> dict | None:
    """Survey answers checked against the task's ``questions`` (None when there are none)."""
    if answers in (None, {}):
        return None
    if kind != "survey":
        raise InvalidInput(_("Only a survey takes answers."), fields={"answers": "not_survey"})
    if not isinstance(answers, dict):
        raise InvalidInput(_("Answers are given per question."), fields={"answers": "invalid"})
    by_id = {q["id"]: q for q in questions or []}
    out = {}
    for qid, value in answers.items():
        q = by_id.get(qid)
        field = f"answers.{qid}"
        if q is None:
            raise InvalidInput(_("No such question."), fields={field: "unknown"})
        if value in (None, ""):
            continue
        if q["type"] == "choice":
            if value not in q["choices"]:
                raise InvalidInput(_("Pick one of the choices."), fields={field: "not_a_choice"})
        elif q["type"] == "number":
            value = _number(value, field)
        else:
            if not isinstance(value, str):
                raise InvalidInput(_("Give a text."), fields={field: "not_text"})
            value = clean_text(value, field=field, max_len=labels.ANSWER_TEXT_MAX, label=q["text"])
        out[qid] = value
    return out or None


def _number(value, field: str) -> int | float:
    if isinstance(value, bool):
        raise InvalidInput(_("Give a number."), fields={field: "not_a_number"})
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(_("Give a number."), fields={field: "not_a_number"}) from None
    if number != number or abs(number) > labels.ANSWER_NUMBER_MAX:  # NaN or absurd
        raise InvalidInput(_("Give a number."), fields={field: "not_a_number"})
    return int(number) if number.is_integer() else number


def checked_household_answer(kind: str, status: str, answers) -> None:
    """A door plate's answer: one its task kind offers (:data:`labels.HOUSEHOLD_STATUSES`),
    and a survey answered."""
    if status not in labels.HOUSEHOLD_STATUSES.get(kind, ("safe",)):
        raise InvalidInput(
            _("Choose one of the answers offered."), fields={"status": "not_allowed"}
        )
    if kind == "survey" and not any(v not in (None, "") for v in (answers or {}).values()):
        raise InvalidInput(_("Please answer the questions."), fields={"answers": "required"})


def not_open_to_household() -> NotFound:
    """What a household hears of a task that does not exist, is closed or never reached
    it: the same, it is not open for them."""
    return NotFound(_("This task is closed or not for this household."), code="task_not_open")


def may_repeat(
    actor_id: int | None, status: str, happened: datetime, held: str, updated_at: datetime | None
) -> bool:
    """Whether a person's report could repeat the household's latest (a double tap, or a
    tap made again while the first waited for signal): the status it holds, set at most
    :data:`labels.REPEAT_SECONDS` before (or after). A door-plate answer (no actor) never
    repeats."""
    return (
        actor_id is not None
        and held == status
        and updated_at is not None
        and abs((happened - updated_at).total_seconds()) <= labels.REPEAT_SECONDS
    )


def repeats(latest, actor_id: int | None, status: str, help_kind: str, note: str, answers) -> bool:
    """Whether the household's latest event (an event or its values) is this report
    again: the same person, status, help kind, note and answers."""
    if latest is None:
        return False
    get = latest.get if isinstance(latest, dict) else lambda k: getattr(latest, k)
    return (get("actor_id"), get("status"), get("help_kind"), get("note")) == (
        actor_id,
        status,
        help_kind,
        note,
    ) and (get("answers") or None) == answers


_confirmed_notes: dict[str, str] = {}


def confirmed_note() -> str:
    """The note of a team case that ended with its last household confirmed, in the
    default language (memoised)."""
    locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    if locale not in _confirmed_notes:
        with force_locale(locale):
            _confirmed_notes[locale] = str(labels.CONFIRMED_NOTE)
    return _confirmed_notes[locale]
