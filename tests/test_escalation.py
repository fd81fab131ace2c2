"""Calls for help and overdue households climb the tree by themselves;
``village-grid escalate`` is safe to run again and again."""

from datetime import timedelta

import pytest

from tests.factories import create_task, create_village
from village_grid.errors import Conflict, InvalidInput, OutOfScope
from village_grid.extensions import db
from village_grid.models import Escalation, OutboxMessage
from village_grid.models.base import utcnow
from village_grid.notify import service as notify
from village_grid.tasks.case_queue import (
    acknowledge_escalation,
    describe_escalations,
    list_escalations,
    resolve_escalation,
)
from village_grid.tasks.dispatch import close_task
from village_grid.tasks.escalation import run_escalations
from village_grid.tasks.statuses import record_status


@pytest.fixture(autouse=True)
def _no_silent_leads(app, monkeypatch):
    """These leads never open their page: silent leads are tests/test_field_silent.py's."""
    monkeypatch.setitem(app.config, "LEAD_SILENT_MINUTES", 0)


@pytest.fixture
def village():
    """2 grids × 1 team × 3 households; a grid member on each grid, a lead on team 1-1 only,
    and a township cadre for the top of the ladder."""
    return create_village(grids=2, teams=1, households=3, township_cadre=True)


def dispatch(tree, *, now=None, minutes=60):
    return create_task(
        tree["village"],
        tree["cadre"],
        subkind="typhoon",
        title="台风格美排查",
        deadline_minutes=minutes,
        now=now,
    )


def escalations(**where):
    q = db.select(Escalation).order_by(
        Escalation.household_id, Escalation.task_team_id, Escalation.reason, Escalation.level
    )
    for k, v in where.items():
        q = q.where(getattr(Escalation, k) == v)
    return db.session.scalars(q).all()


def snapshot():
    return [
        (
            e.household_id,
            e.task_team_id,
            e.reason,
            e.level,
            e.assignee_id,
            e.status,
            e.next_escalation_at,
        )
        for e in escalations()
    ]


def test_needs_help_goes_at_once_to_grid_member_and_village_cadre(village):
    task = dispatch(village)
    h = village["households"][0]
    record_status(
        db.session,
        village["lead"],
        task_id=task.id,
        household_id=h.id,
        status="needs_help",
        help_kind="flooding",
        note="一楼进水，老人走不动",
    )
    db.session.commit()
    rows = escalations(reason="needs_help")
    assert [(e.level, e.assignee_id, e.status) for e in rows] == [
        (1, village["gm"].id, "open"),
        (2, village["cadre"].id, "open"),
    ]
    msgs = db.session.scalars(
        db.select(OutboxMessage).where(OutboxMessage.event_key.like("help:%"))
    ).all()
    assert {m.recipient_id for m in msgs} == {village["gm"].id, village["cadre"].id}
    assert all("进水被淹" in m.body and h.code in m.body and "张三" in m.body for m in msgs)
    assert {m.priority for m in msgs} == {notify.URGENT}  # sent before any routine notice

    # The queue shows the case once, with the household's and lead's phones.
    for user in (village["gm"], village["cadre"], village["township_cadre"]):
        cases = describe_escalations(db.session, list_escalations(db.session, user))
        assert [(c["household"]["id"], c["reason"], c["help_kind"]) for c in cases] == [
            (h.id, "needs_help", "flooding")
        ]
        assert cases[0]["household"]["phone"] == h.phone
        assert cases[0]["team"]["lead_name"] == "张三"
    assert list_escalations(db.session, village["gm_b"]) == []
    assert list_escalations(db.session, village["lead"]) == []


def test_unanswered_call_for_help_climbs_to_the_township(village):
    task = dispatch(village, minutes=24 * 60)
    h = village["households"][0]
    now = utcnow()
    record_status(
        db.session,
        None,
        task_id=task.id,
        household_id=h.id,
        status="needs_help",
        now=now,
    )
    db.session.commit()
    assert run_escalations(db.session, now=now + timedelta(minutes=29)) == 0
    assert run_escalations(db.session, now=now + timedelta(minutes=31)) == 1
    db.session.commit()
    top = escalations(reason="needs_help")[-1]
    assert (top.level, top.assignee_id) == (3, village["township_cadre"].id)
    assert run_escalations(db.session, now=now + timedelta(hours=5)) == 0


def test_acknowledged_call_stops_climbing_and_resolve_needs_a_note(village):
    task = dispatch(village, minutes=24 * 60)
    h = village["households"][0]
    now = utcnow()
    record_status(
        db.session,
        None,
        task_id=task.id,
        household_id=h.id,
        status="needs_help",
        now=now,
    )
    db.session.commit()
    case = list_escalations(db.session, village["gm"])[0]
    with pytest.raises(OutOfScope):
        acknowledge_escalation(db.session, village["gm_b"], case.id)
    acknowledge_escalation(db.session, village["gm"], case.id)
    db.session.commit()
    assert {e.status for e in escalations()} == {"acknowledged"}
    assert run_escalations(db.session, now=now + timedelta(hours=2)) == 0
    with pytest.raises(InvalidInput):
        resolve_escalation(db.session, village["gm"], case.id, "  ")
    resolve_escalation(db.session, village["cadre"], case.id, "抽水泵已送到")
    db.session.commit()
    assert {(e.status, e.resolution_note) for e in escalations()} == {("resolved", "抽水泵已送到")}
    assert list_escalations(db.session, village["gm"]) == []
    assert len(list_escalations(db.session, village["gm"], open_only=False)) == 1
    with pytest.raises(Conflict):
        acknowledge_escalation(db.session, village["gm"], case.id)
    # Asking again later opens the case again and tells people again.
    record_status(
        db.session,
        None,
        task_id=task.id,
        household_id=h.id,
        status="needs_help",
        now=now + timedelta(minutes=5),
    )
    db.session.commit()
    assert {e.status for e in escalations()} == {"open"}
    assert (
        db.session.scalar(
            db.select(db.func.count(OutboxMessage.id)).where(OutboxMessage.event_key.like("help:%"))
        )
        == 6  # grid member, cadre and the team's lead, each time
    )


def test_a_team_not_all_reached_at_the_deadline_is_one_case_that_climbs(village):
    start = utcnow() - timedelta(minutes=5)
    task = dispatch(village, now=start, minutes=60)
    deadline = task.deadline
    team_a, team_b = village["households"][:3], village["households"][3:]
    record_status(
        db.session,
        village["lead"],
        task_id=task.id,
        household_id=team_a[0].id,
        status="safe",
    )
    db.session.commit()
    assert run_escalations(db.session, now=deadline - timedelta(minutes=1)) == 0

    # At the deadline: one case per team with households still pending, at its grid member.
    assert run_escalations(db.session, now=deadline + timedelta(minutes=1)) == 2
    db.session.commit()
    first = snapshot()
    assert run_escalations(db.session, now=deadline + timedelta(minutes=1)) == 0
    db.session.commit()
    assert snapshot() == first
    level1 = escalations(level=1)
    assert {e.team_id for e in level1} == {t.id for t in village["teams"]}
    assert all(e.household_id is None and e.task_team_id for e in level1)
    assert {e.assignee_id for e in level1} == {village["gm"].id, village["gm_b"].id}
    overdue_msgs = db.session.scalars(
        db.select(OutboxMessage).where(OutboxMessage.event_key.like("overdue:%"))
    ).all()
    assert len(overdue_msgs) == 2  # one per grid member, naming the team's households
    to_gm = next(m for m in overdue_msgs if m.recipient_id == village["gm"].id)
    assert all(h.code in to_gm.body for h in team_a[1:]) and team_a[0].code not in to_gm.body
    assert {m.priority for m in overdue_msgs} == {notify.SOON}

    # The queue shows one card per team, naming its households still not reached.
    [card] = describe_escalations(db.session, list_escalations(db.session, village["gm"]))
    assert card["reason"] == "overdue" and card["household"] is None
    assert [h["id"] for h in card["households"]] == [h.id for h in team_a[1:]]

    # Grid A's member is on it; grid B's case climbs to the village cadre after the interval.
    a_case = next(e for e in level1 if e.assignee_id == village["gm"].id)
    acknowledge_escalation(db.session, village["gm"], a_case.id)
    db.session.commit()
    assert run_escalations(db.session, now=deadline + timedelta(minutes=29)) == 0
    assert run_escalations(db.session, now=deadline + timedelta(minutes=31)) == 1
    assert run_escalations(db.session, now=deadline + timedelta(minutes=31)) == 0
    assert {e.assignee_id for e in escalations(level=2)} == {village["cadre"].id}
    # The cadre gets one message for the team, not one per household.
    to_cadre = db.session.scalars(
        db.select(OutboxMessage).where(OutboxMessage.recipient_id == village["cadre"].id)
    ).all()
    assert len([m for m in to_cadre if m.event_key.startswith("overdue:")]) == 1
    assert run_escalations(db.session, now=deadline + timedelta(minutes=61)) == 1
    assert {e.assignee_id for e in escalations(level=3)} == {village["township_cadre"].id}
    assert run_escalations(db.session, now=deadline + timedelta(hours=9)) == 0

    # Reaching one household keeps the team's case open; the last one closes it.
    b_cases = lambda: {e.status for e in escalations(team_id=village["teams"][1].id)}  # noqa: E731
    for h in team_b[:2]:
        record_status(
            db.session, village["gm_b"], task_id=task.id, household_id=h.id, status="safe"
        )
    db.session.commit()
    assert b_cases() == {"open"}
    record_status(
        db.session, village["gm_b"], task_id=task.id, household_id=team_b[2].id, status="not_home"
    )
    db.session.commit()
    assert b_cases() == {"resolved"}


def test_closed_tasks_do_not_escalate(village):
    task = dispatch(village, now=utcnow() - timedelta(hours=2), minutes=30)
    close_task(db.session, village["cadre"], task.id)
    db.session.commit()
    assert run_escalations(db.session) == 0


def test_escalate_command_twice_is_idempotent(app, village):
    task = dispatch(village, now=utcnow() - timedelta(hours=3), minutes=60)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["escalate"])
    assert first.exit_code == 0, first.output
    # Deadline two hours ago, interval 30 min: each team's case goes grid member → village
    # cadre → township, at once.
    assert "escalations created: 6" in first.output
    assert "messages sent:" in first.output
    state = snapshot()
    assert {lvl for _h, _tt, _r, lvl, *_ in state} == {1, 2, 3}
    second = runner.invoke(args=["escalate"])
    assert second.exit_code == 0, second.output
    assert "escalations created: 0" in second.output
    assert snapshot() == state
    sent = db.session.scalar(
        db.select(db.func.count(OutboxMessage.id)).where(OutboxMessage.status == "sent")
    )
    assert sent == db.session.scalar(db.select(db.func.count(OutboxMessage.id)))
    assert task.id


def test_door_plate_answers_close_the_teams_case_with_its_last_household(client, village):
    start = utcnow() - timedelta(minutes=5)
    task = dispatch(village, now=start, minutes=60)
    assert run_escalations(db.session, now=task.deadline + timedelta(minutes=1)) == 2
    db.session.commit()
    team_a = village["households"][:3]

    def team_case():
        db.session.expire_all()
        return escalations(team_id=village["teams"][0].id)[0]

    for h in team_a:
        assert team_case().status == "open"
        res = client.post(
            f"/api/v1/public/{h.qr_token}/reports", json={"task_id": task.id, "status": "safe"}
        )
        assert res.status_code == 201
    case = team_case()
    assert case.status == "resolved" and case.resolved_by_id is None
    assert case.resolution_note == "全部住户已确认。"
    assert escalations(team_id=village["teams"][1].id)[0].status == "open"
