"""A notice nobody opened climbs the tree like an unconfirmed household: at the
deadline a team whose lead has not read it goes to the grid member, then the
cadre; the lead reading it ends the case. The queue, the API and the task page
show it by its team and lead."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from tests.factories import (
    api_headers,
    create_household,
    create_task,
    create_unit,
    create_user,
    create_village,
    lead_person,
    login,
)
from tests.test_migrations import scratch_app  # noqa: F401  (the fixture)
from village_grid.extensions import db
from village_grid.models import AuditEvent, Escalation, OutboxMessage, TaskTeam
from village_grid.models.base import utcnow
from village_grid.notify import service as notify
from village_grid.tasks.case_queue import (
    describe_escalations,
    list_escalations,
)
from village_grid.tasks.dispatch import close_task
from village_grid.tasks.escalation import run_escalations
from village_grid.tasks.membership import add_row
from village_grid.tasks.statuses import mark_notice_read, record_status

LEAD_B_NAME, LEAD_B_PHONE = lead_person(1)  # 林队长, the lead of team 2-1


@pytest.fixture
def world():
    """2 grids × 1 team × 2 households: leads 张三 (team 1-1) and 林队长 (team 2-1), grid
    members 王芳 (grid 1) and 陈刚 (grid 2), the village cadre and a township cadre;
    and another village with its own cadre and grid member."""
    tree = create_village(grids=2, teams=1, households=2, leads=2, township_cadre=True)
    village = create_unit("village", "颜岐村", tree["township"], code="YQ")
    grid = create_unit("grid", "第1网格", village)
    create_household(create_unit("team", "1-1小队", grid))
    tree["other"] = {
        "cadre": create_user("cadre", village, name="黄书记"),
        "gm": create_user("grid_member", grid, name="郑网格员"),
    }
    return tree


def interval() -> timedelta:
    return timedelta(minutes=current_app.config["ESCALATION_INTERVAL_MINUTES"])


def notice(tree, start, minutes=30):
    return create_task(
        tree["village"],
        tree["cadre"],
        kind="notice",
        title="寻找走失儿童",
        body="男孩，6岁，穿红色上衣",
        deadline_minutes=minutes,
        now=start,
    )


def cases(**where):
    q = select(Escalation).order_by(Escalation.task_team_id, Escalation.level)
    for k, v in where.items():
        q = q.where(getattr(Escalation, k) == v)
    return db.session.scalars(q).all()


def unread_messages():
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.event_key.like("unread:%"))
        .order_by(OutboxMessage.id)
    ).all()


def audit(action):
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def read(user, task, at):
    mark_notice_read(db.session, user, task.id, now=at)
    db.session.commit()


def test_unread_notice_climbs_from_grid_member_to_cadre_and_ends_when_read(world):
    start = utcnow() - timedelta(hours=6)
    task = notice(world, start)
    deadline = task.deadline
    read(world["lead"], task, start + timedelta(minutes=10))  # 张三 reads in time
    team_b = world["teams"][1]
    task_team_b = db.session.scalars(
        select(TaskTeam).where(TaskTeam.task_id == task.id, TaskTeam.team_id == team_b.id)
    ).one()

    assert run_escalations(db.session, now=deadline - timedelta(minutes=1)) == 0
    assert run_escalations(db.session, now=deadline + timedelta(minutes=1)) == 1
    db.session.commit()
    [first] = cases()
    assert (first.reason, first.level, first.status) == ("unread", 1, "open")
    assert (first.task_team_id, first.team_id) == (task_team_b.id, team_b.id)
    assert first.assignment_id is None and first.household_id is None
    assert (first.assignee_id, first.unit_id) == (world["gm_b"].id, world["grids"][1].id)
    [msg] = unread_messages()
    assert msg.recipient_id == world["gm_b"].id and msg.priority == notify.SOON
    assert msg.event_key == f"unread:{task_team_b.id}:1"
    assert f"[通知] 寻找走失儿童: 小队长 {LEAD_B_NAME} {LEAD_B_PHONE} 尚未阅读" in msg.body
    assert "第2网格 2-1小队" in msg.body and msg.body.startswith("@陈刚 ")
    assert audit("escalation.open")[-1].after == {"unread": 1}

    # The tick again, and again later within the interval: nothing twice.
    assert run_escalations(db.session, now=deadline + timedelta(minutes=1)) == 0
    assert run_escalations(db.session, now=deadline + interval() - timedelta(minutes=1)) == 0
    db.session.commit()
    assert len(cases()) == 1 and len(unread_messages()) == 1

    # One interval later it climbs to the village cadre.
    assert run_escalations(db.session, now=deadline + interval() + timedelta(minutes=1)) == 1
    db.session.commit()
    assert [(c.level, c.assignee_id) for c in cases()] == [
        (1, world["gm_b"].id),
        (2, world["cadre"].id),
    ]
    msgs = unread_messages()
    assert [(m.recipient_id, m.event_key) for m in msgs][1] == (
        world["cadre"].id,
        f"unread:{task_team_b.id}:2",
    )
    assert audit("escalation.climb")[-1].after == {"unread_climbed": 1}
    assert run_escalations(db.session, now=deadline + interval() + timedelta(minutes=2)) == 0

    # 林队长 reads it: the case ends in the same transaction and climbs no more.
    read_at = deadline + interval() + timedelta(minutes=5)
    read(world["lead_b"], task, read_at)
    assert {(c.status, c.resolution_note, c.resolved_by_id) for c in cases()} == {
        ("resolved", "已阅读", world["lead_b"].id)
    }
    assert all(c.next_escalation_at is None and c.resolved_at == read_at for c in cases())
    resolved = audit("escalation.resolve")[-1]
    assert resolved.actor_id == world["lead_b"].id and resolved.unit_path == team_b.path
    assert resolved.after == {"status": "resolved", "resolution_note": "已阅读"}
    assert run_escalations(db.session, now=deadline + timedelta(hours=5)) == 0
    db.session.commit()
    assert len(cases()) == 2 and len(unread_messages()) == 2  # never the township
    # Reading again changes nothing.
    read(world["lead_b"], task, read_at + timedelta(minutes=1))
    assert len(audit("escalation.resolve")) == 1


def test_the_queue_shows_it_to_the_grid_member_and_cadre_of_that_village_only(world):
    start = utcnow() - timedelta(hours=2)
    task = notice(world, start)
    read(world["lead"], task, start + timedelta(minutes=1))
    sweep = create_task(world["village"], world["cadre"], subkind="flood", title="防汛排查")
    record_status(
        db.session,
        world["lead"],
        task_id=sweep.id,
        household_id=world["households"][0].id,
        status="needs_help",
        help_kind="medical",
    )
    db.session.commit()
    run_escalations(db.session, now=task.deadline + timedelta(minutes=1))
    db.session.commit()

    for user in (world["gm_b"], world["cadre"], world["township_cadre"]):
        found = describe_escalations(db.session, list_escalations(db.session, user))
        unread = [c for c in found if c["reason"] == "unread"]
        assert len(unread) == 1, user.display_name
        c = unread[0]
        assert c["household"] is None and c["task"]["kind"] == "notice"
        assert (c["team"]["name"], c["team"]["grid_name"]) == ("2-1小队", "第2网格")
        assert (c["team"]["lead_name"], c["team"]["lead_phone"]) == (LEAD_B_NAME, LEAD_B_PHONE)
        assert c["told"] == {
            "id": world["lead_b"].id,
            "name": LEAD_B_NAME,
            "phone": LEAD_B_PHONE,
            "role": "team_lead",
            "read_at": None,
        }
    # Calls for help first, then the rest: the cadre sees both in one queue.
    cadre_queue = list_escalations(db.session, world["cadre"])
    assert [c.reason for c in cadre_queue] == ["needs_help", "unread"]
    # Grid 1's member sees the call for help of grid 1, not grid 2's unread notice.
    assert [c.reason for c in list_escalations(db.session, world["gm"])] == ["needs_help"]
    other = world["other"]
    for user in (other["cadre"], other["gm"], world["lead_b"]):
        assert list_escalations(db.session, user) == []

    # The page: the team and the lead who has not read it, no household line.
    client = current_app.test_client()
    login(client, world["cadre"])
    html = client.get("/tasks/escalations").get_data(as_text=True)
    assert "截止时仍未阅读通知" in html and "尚未阅读通知" in html
    assert LEAD_B_NAME in html and f"tel:{LEAD_B_PHONE}" in html and "第2网格" in html
    elsewhere = current_app.test_client()
    login(elsewhere, other["cadre"])
    assert LEAD_B_NAME not in elsewhere.get("/tasks/escalations").get_data(as_text=True)


def test_the_api_describes_and_acknowledges_it(world):
    start = utcnow() - timedelta(hours=2)
    task = notice(world, start)
    read(world["lead"], task, start + timedelta(minutes=1))
    run_escalations(db.session, now=task.deadline + timedelta(minutes=1))
    db.session.commit()
    client = current_app.test_client()
    headers = api_headers(client, world["gm_b"])
    found = client.get("/api/v1/escalations", headers=headers).get_json()["escalations"]
    assert [(c["reason"], c["level"], c["told"]["name"]) for c in found] == [
        ("unread", 1, LEAD_B_NAME)
    ]
    assert found[0]["household"] is None and found[0]["team"]["grid_name"] == "第2网格"
    other = api_headers(client, world["other"]["cadre"])
    assert client.get("/api/v1/escalations", headers=other).get_json()["escalations"] == []
    assert (
        client.post(f"/api/v1/escalations/{found[0]['id']}/ack", headers=other).status_code == 404
    )

    res = client.post(f"/api/v1/escalations/{found[0]['id']}/ack", headers=headers)
    assert res.status_code == 200 and res.get_json()["status"] == "acknowledged"
    # Acknowledged: it stops climbing, and the lead reading it still ends it.
    assert run_escalations(db.session, now=task.deadline + 3 * interval()) == 0
    lead = api_headers(client, world["lead_b"])
    assert client.post(f"/api/v1/tasks/{task.id}/read", headers=lead).status_code == 200
    db.session.expire_all()
    [case] = cases(reason="unread")
    assert (case.status, case.resolution_note) == ("resolved", "已阅读")
    found = client.get("/api/v1/escalations?open=0", headers=headers).get_json()["escalations"]
    assert found[0]["told"]["read_at"] and found[0]["status"] == "resolved"


def test_the_task_page_shows_readers_non_readers_and_the_time_until_all_had_read(world):
    start = utcnow() - timedelta(hours=3)
    task = notice(world, start, minutes=60)
    read(world["lead"], task, start + timedelta(minutes=10))
    run_escalations(db.session, now=task.deadline + timedelta(minutes=1))
    db.session.commit()
    client = current_app.test_client()
    login(client, world["cadre"])
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert re.search(r'id="t-read">1<', html) and "/ 2" in html
    unread = html[html.index("尚未阅读") : html.index("</ul>", html.index("尚未阅读"))]
    assert LEAD_B_NAME in unread and f"tel:{LEAD_B_PHONE}" in unread and "2-1小队" in unread
    assert "已上报至 陈刚" in unread
    assert "张三" in html and "发出后 10 分钟" in html  # read, and when
    assert "全部已读" not in html

    read(world["lead_b"], task, start + timedelta(minutes=95))
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert re.search(r'id="t-read">2<', html)
    assert "发出后 95 分钟内全部已读" in html
    assert "尚未阅读" not in html
    live = client.get(f"/tasks/{task.id}/progress.json").get_json()["html"]
    assert "发出后 95 分钟内全部已读" in live
    api = client.get(
        f"/api/v1/tasks/{task.id}/progress", headers=api_headers(client, world["cadre"])
    ).get_json()
    assert api["reads"]["all_read_after_minutes"] == 95 and api["reads"]["read"] == 2


def test_a_team_without_a_lead_goes_past_the_grid_member_it_was_sent_to():
    tree = create_village(grids=1, teams=2, households=1, leads=1, village_code="LJ")
    start = utcnow() - timedelta(hours=2)
    task = create_task(
        tree["village"],
        tree["cadre"],
        kind="notice",
        title="停水通知",
        deadline_minutes=30,
        now=start,
    )
    read(tree["lead"], task, start + timedelta(minutes=1))
    assert run_escalations(db.session, now=task.deadline + timedelta(minutes=1)) == 1
    db.session.commit()
    [case] = cases()
    # Team 1-2 has no lead: the notice went to 王芳, who has not read it; the case goes above her.
    assert (case.team_id, case.assignee_id) == (tree["teams"][1].id, tree["cadre"].id)
    assert "网格员 王芳" in unread_messages()[0].body


def test_no_case_without_a_deadline_after_a_read_or_once_closed(world):
    start = utcnow() - timedelta(hours=2)
    create_task(
        world["village"], world["cadre"], kind="notice", title="通知", deadline_minutes=None
    )
    task = notice(world, start)
    read(world["lead"], task, start + timedelta(minutes=1))
    read(world["lead_b"], task, task.deadline + timedelta(seconds=30))  # late, but before the tick
    assert run_escalations(db.session, now=task.deadline + timedelta(minutes=1)) == 0

    late = notice(world, start)
    assert run_escalations(db.session, now=late.deadline + timedelta(minutes=1)) == 2
    db.session.commit()
    close_task(db.session, world["cadre"], late.id)
    db.session.commit()
    assert {c.status for c in cases(task_id=late.id)} == {"resolved"}
    assert audit("task.close")[-1].after["cases_resolved"] == 2
    assert run_escalations(db.session, now=late.deadline + 5 * interval()) == 0


def test_a_read_racing_the_tick_ends_the_case_at_the_next_tick(world):
    start = utcnow() - timedelta(hours=2)
    task = notice(world, start)
    run_escalations(db.session, now=task.deadline + timedelta(minutes=1))
    db.session.commit()
    assert len(cases()) == 2
    # A read committed without the service (as if it raced the case opening).
    from village_grid.models import NoticeRead

    db.session.add(NoticeRead(task_id=task.id, user_id=world["lead"].id, read_at=task.deadline))
    db.session.commit()
    assert run_escalations(db.session, now=task.deadline + interval() + timedelta(minutes=1)) == 1
    db.session.commit()
    mine = cases(team_id=world["teams"][0].id)
    assert [(c.level, c.status) for c in mine] == [(1, "resolved")]
    assert mine[0].resolution_note == "已阅读"
    assert audit("escalation.resolve")[-1].actor_id is None


def test_migration_keeps_every_case_and_names_its_team(scratch_app):  # noqa: F811
    # The services write today's schema: the world is made at the head, then taken
    # down to 0006 (every migration since keeps the rows).
    upgrade()
    tree = create_village(grids=1, teams=1, households=1)
    task = create_task(tree["village"], tree["cadre"], title="防汛排查")
    task_id, team_id, household_id = task.id, tree["teams"][0].id, tree["households"][0].id
    add_row(db.session, task_id, household_id, team_id)
    db.session.commit()
    db.session.remove()
    downgrade(revision="0006")
    with db.engine.begin() as conn:
        assignment_id = conn.execute(text("SELECT id FROM assignments")).scalar()
        conn.execute(
            text(
                "INSERT INTO escalations (task_id, assignment_id, household_id, reason, level,"
                " status, opened_at, resolution_note) VALUES (:t, :a, :h, 'overdue', 1, 'open',"
                " :now, '')"
            ),
            {"t": task_id, "a": assignment_id, "h": household_id, "now": utcnow()},
        )
    upgrade()
    db.session.remove()
    # The household's case is kept (resolved, merged) and its team has one case instead.
    merged, team_case = db.session.scalars(select(Escalation).order_by(Escalation.id)).all()
    assert (merged.team_id, merged.assignment_id, merged.status) == (
        team_id,
        assignment_id,
        "resolved",
    )
    assert merged.resolution_note
    assert (team_case.reason, team_case.team_id, team_case.status, team_case.level) == (
        "overdue",
        team_id,
        "open",
        1,
    )
    assert team_case.task_team_id is not None and team_case.assignment_id is None

    # Down again: a case about a team has no household to go back to; the others stay.
    task_team = db.session.scalars(select(TaskTeam)).first()
    db.session.add(
        Escalation(
            task_id=task_id,
            task_team_id=task_team.id,
            team_id=task_team.team_id,
            reason="unread",
            level=1,
        )
    )
    db.session.commit()
    db.session.remove()
    downgrade(revision="0006")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT reason FROM escalations")).scalars().all() == ["overdue"]
    upgrade()
