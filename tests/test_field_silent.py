"""Silent team leads: listed on the progress page and flagged to the grid member ("call
the lead") once their phone has shown no sign of life for LEAD_SILENT_MINUTES — or half
the time to the deadline, whichever is sooner — after a dispatch, climbing like every
case, and ended by a sign of life — all on an injected clock, never a sleep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import create_task, create_village, login
from village_grid.extensions import db
from village_grid.models import Escalation, OutboxMessage, Task
from village_grid.models.base import utcnow
from village_grid.tasks import signs
from village_grid.tasks.escalation import run_escalations
from village_grid.tasks.silent import silent_leads
from village_grid.tasks.statuses import record_status

T0 = utcnow().replace(microsecond=0) - timedelta(hours=3)


def at(minutes: float):
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def world():
    v = create_village(grids=1, teams=2, households=2, leads=2)
    v["task"] = create_task(v["village"], v["cadre"], kind="sweep", title="防汛排查", now=T0)
    return v


def listed(task: Task, minutes: float) -> list[str]:
    return [s["lead"]["name"] for s in silent_leads(db.session, task, now=at(minutes))]


def silent_cases() -> list[Escalation]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Escalation).where(Escalation.reason == "silent").order_by(Escalation.id)
        )
    )


def test_a_lead_without_a_sign_is_listed_after_the_silent_minutes(world):
    task, lead, lead_b = world["task"], world["lead"], world["lead_b"]
    assert listed(task, 14) == []
    signs.record_signs(db.session, lead_b, [task.id], kind="open", now=at(5))
    db.session.commit()
    assert listed(task, 16) == [lead.name]
    first = silent_leads(db.session, task, now=at(16))[0]
    assert first["lead"]["phone"] == lead.phone
    assert (first["above"]["name"], first["above"]["phone"]) == (
        world["gm"].name,
        world["gm"].phone,
    )
    assert first["grid_name"] == "第1网格" and first["pending"] == 2
    assert first["last_seen_at"] is None and first["silent_minutes"] == 16
    # lead_b's sign at minute 5 keeps them off the list until minute 20.
    assert listed(task, 21) == [lead.name, lead_b.name]


def test_no_households_to_confirm_is_not_silent(world):
    task, (a, b) = world["task"], world["households"][:2]
    for h in (a, b):  # the grid member confirms the lead's two households
        record_status(db.session, world["gm"], task_id=task.id, household_id=h.id, status="safe")
    db.session.commit()
    assert listed(task, 30) == [world["lead_b"].name]


def test_a_lead_marked_away_and_other_kinds_are_not_listed(world):
    from village_grid.auth import service as auth_service

    auth_service.set_available(db.session, None, world["lead"].id, False)
    db.session.commit()
    campaign = create_task(world["village"], world["cadre"], kind="campaign", now=T0)
    assert listed(world["task"], 30) == [world["lead_b"].name]
    assert silent_leads(db.session, campaign, now=at(30)) == []


def test_the_progress_page_lists_them_with_phones(app, client, world):
    task = world["task"]
    task.created_at = utcnow() - timedelta(minutes=20)
    db.session.commit()
    login(client, world["cadre"])
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "没有消息的小队长" in html
    assert f"tel:{world['lead'].phone}" in html and f"tel:{world['gm'].phone}" in html
    assert "第1网格 1-1小队" in html


def test_a_silent_lead_is_flagged_to_the_grid_member_then_climbs(world):
    task, lead = world["task"], world["lead"]
    run_escalations(db.session, now=at(14))
    assert silent_cases() == []
    run_escalations(db.session, now=at(16))
    db.session.commit()
    cases = silent_cases()
    assert [(c.level, c.assignee_id, c.status) for c in cases] == [
        (1, world["gm"].id, "open"),
        (1, world["gm"].id, "open"),
    ]
    messages = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.event_key.like("silent:%"))
    ).all()
    assert len(messages) == 2
    body = next(m.body for m in messages if lead.phone in m.body)
    assert "没有消息" in body and "请打电话" in body and "第1网格" in body
    # The same clock again: nothing new.
    run_escalations(db.session, now=at(16))
    assert len(silent_cases()) == 2
    # Nobody acknowledged it: after the escalation interval it climbs to the cadre.
    run_escalations(db.session, now=at(16 + 30))
    db.session.commit()
    top = [c for c in silent_cases() if c.level == 2]
    assert {c.assignee_id for c in top} == {world["cadre"].id}
    listed_now = silent_leads(db.session, task, now=at(47))
    assert {s["case"]["holder"] for s in listed_now} == {world["cadre"].name}


def test_half_the_deadline_comes_first_on_a_short_sweep(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "LEAD_SILENT_MINUTES", 45)
    task = world["task"]  # a one-hour deadline: silent after 30 minutes, not 45
    assert listed(task, 29) == []
    assert sorted(listed(task, 31)) == sorted([world["lead"].name, world["lead_b"].name])
    run_escalations(db.session, now=at(29))
    assert silent_cases() == []
    run_escalations(db.session, now=at(31))
    assert len(silent_cases()) == 2


def test_a_sign_of_life_ends_the_case_at_once(world):
    task, lead = world["task"], world["lead"]
    run_escalations(db.session, now=at(31))
    db.session.commit()
    signs.record_signs(db.session, lead, [task.id], kind="sync", now=at(40))
    db.session.commit()
    by_lead = {c.task_team_id: c for c in silent_cases()}
    assert sorted(c.status for c in by_lead.values()) == ["open", "resolved"]


def test_a_sign_of_life_ends_the_case(world):
    task, lead = world["task"], world["lead"]
    run_escalations(db.session, now=at(31))
    db.session.commit()
    signs.record_signs(db.session, lead, [task.id], kind="sync", now=at(40))
    run_escalations(db.session, now=at(41))
    db.session.commit()
    by_lead = {c.task_team_id: c for c in silent_cases()}
    statuses = sorted(c.status for c in by_lead.values())
    assert statuses == ["open", "resolved"]
    ended = next(c for c in by_lead.values() if c.status == "resolved")
    assert ended.resolution_note == "小队长已有消息"
    # The lead is off the list; the other is still on it.
    assert listed(task, 42) == [world["lead_b"].name]


def test_closing_the_sweep_ends_silent_cases(world):
    from village_grid.tasks.dispatch import close_task

    run_escalations(db.session, now=at(31))
    close_task(db.session, None, world["task"].id, now=at(35))
    db.session.commit()
    assert {c.status for c in silent_cases()} == {"resolved"}
    assert listed(world["task"], 40) == []
