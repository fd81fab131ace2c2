"""A unit's work-group robot: set, removed, tried with a test message.

Messages for the people under a unit go to its robot (a WeCom group robot or any
webhook URL) unless a unit nearer them has one (``notify.channels``). Whoever may
manage the unit sets it. The URL is sealed at rest; the audit log, pages and logs
see it masked only.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.auth import scope
from village_grid.errors import Conflict, DomainError
from village_grid.models import Unit, UnitRobot, User
from village_grid.models.base import utcnow
from village_grid.notify import budget as budgets
from village_grid.notify import channels
from village_grid.notify.posting import DeliveryError, post, wecom_text


class RobotUnreachable(DomainError):
    """The robot did not take the test message."""

    status = 502
    code = "robot_refused"


@dataclass(frozen=True)
class RobotView:
    """What a unit's page says about its robot: its own (masked), or whose it uses."""

    own: str  # masked URL, "" when the unit has none of its own
    inherited_from: Unit | None  # the unit whose robot serves it, when not its own
    inherited: str  # that robot's masked URL
    default: str  # the deployment's channel, masked ("" for the log)


def view(session: Session, unit: Unit) -> RobotView:
    own = channels.robot_row(session, unit.id)
    holder, row = (unit, own) if own else channels.nearest(session, unit)
    default = channels.default_robot()
    return RobotView(
        own=own.url_masked if own else "",
        inherited_from=holder if row is not None and own is None else None,
        inherited=row.url_masked if row is not None and own is None else "",
        default=default.masked if default else "",
    )


def set_robot(session: Session, actor: User | None, unit_id: int, url: str) -> UnitRobot:
    """Give the unit its own robot (replacing one it had). Raises InvalidInput
    (field ``url``), OutOfScope."""
    unit = scope.load_unit(session, actor, unit_id, "manage_units")
    url = channels.check_url(url)
    row = channels.robot_row(session, unit.id)
    before = row.url_masked if row else ""
    masked = channels.mask_url(url)
    if row is None:
        row = UnitRobot(unit_id=unit.id)
        session.add(row)
    row.url_sealed = channels.seal(url)
    row.url_masked = masked
    row.set_by_id = actor.id if actor is not None else None
    row.set_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "unit.robot",
        object_type="unit",
        object_id=unit.id,
        unit_path=unit.path,
        before={"robot": before} if before else None,
        after={"robot": masked},
    )
    return row


def remove_robot(session: Session, actor: User | None, unit_id: int) -> bool:
    """The unit goes back to the robot above it (or the deployment's); False when it
    had none of its own. Raises OutOfScope."""
    unit = scope.load_unit(session, actor, unit_id, "manage_units")
    row = channels.robot_row(session, unit.id)
    if row is None:
        return False
    record(
        session,
        actor,
        "unit.robot",
        object_type="unit",
        object_id=unit.id,
        unit_path=unit.path,
        before={"robot": row.url_masked},
        after={"robot": ""},
    )
    session.delete(row)
    session.flush()
    return True


def send_test(session: Session, actor: User | None, unit_id: int, *, budget=None) -> str:
    """Post a test message to the robot that serves the unit (its own or inherited);
    the robot's masked URL. Spends a post of the robot's budget. Raises OutOfScope,
    Conflict (no robot, or its budget is spent: try again in a moment),
    RobotUnreachable (the robot's answer, masked)."""
    unit = scope.load_unit(session, actor, unit_id, "manage_units")
    _holder, row = channels.nearest(session, unit)
    robot = channels.robot_of(row) if row is not None else channels.default_robot()
    if robot is None:
        raise Conflict(
            _(
                "No work-group robot serves %(name)s: messages go to the server's log.",
                name=unit.name,
            ),
            code="no_robot",
        )
    budget = budget or budgets.for_app()
    wait = budget.take(robot.ident, utcnow().timestamp())
    if wait > 0:
        raise Conflict(
            _(
                "This robot has posted its %(n)s messages of the minute; try again in %(s)s seconds.",
                n=current_app.config["NOTIFY_ROBOT_PER_MINUTE"],
                s=int(wait) + 1,
            ),
            code="robot_busy",
        )
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        text = _(
            "Test message for %(name)s: this work group gets its messages.",
            name=unit.name,
        )
    payload = (
        wecom_text(text, [])
        if robot.kind == "wecom"
        else {"event_key": f"robot-test:{unit.id}", "text": text, "recipient": None}
    )
    try:
        post(
            robot.kind,
            payload,
            url=robot.url,
            timeout=float(current_app.config["NOTIFY_TIMEOUT_SECONDS"]),
        )
    except DeliveryError as exc:
        raise RobotUnreachable(
            _("The robot did not take the message: %(e)s", e=channels.scrub(str(exc), robot.url))
        ) from None
    return robot.masked
