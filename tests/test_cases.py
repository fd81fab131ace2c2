"""One case lifecycle, as the people on the night meet it: a call for help from a door
plate reaches the team's lead and the household is told who was told; a later "safe"
from the plate is shown on the case but does not close it — the lead, a grid member or
a cadre does; a phone's operation ids belong to whoever sent them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.factories import api_headers, create_task, create_village, login
from village_grid.errors import Conflict, OutOfScope
from village_grid.extensions import db
from village_grid.models import Escalation, OutboxMessage, StatusEvent
from village_grid.tasks.case_queue import (
    describe_escalations,
    list_escalations,
    require_escalation,
    resolve_escalation,
)
from village_grid.tasks.statuses import record_status


@pytest.fixture
def village():
    """2 grids × 1 team × 2 households; a lead on each team, a grid member on each grid."""
    v = create_village(grids=2, teams=1, households=2, leads=2)
    v["task"] = create_task(v["village"], v["cadre"], subkind="typhoon", title="台风格美排查")
    return v


def help_messages() -> dict[int, str]:
    return {
        m.recipient_id: m.body
        for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.event_key.like("help:%"))
        )
    }


def test_a_call_for_help_at_the_door_reaches_the_lead_and_the_household_is_told_who(
    client, village
):
    h = village["households"][0]
    res = client.post(
        f"/api/v1/public/{h.qr_token}/reports",
        json={"task_id": village["task"].id, "status": "needs_help", "kind": "medical"},
    )
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["told"] == ["team_lead", "grid_member", "cadre"]
    assert body["message"] == "求助已发出，已立即通知：小队长、网格员、村干部。"
    # Roles only: the household's page names nobody.
    assert village["lead"].display_name not in body["message"]
    told = help_messages()
    assert set(told) == {village["lead"].id, village["gm"].id, village["cadre"].id}
    assert all(h.code in text for text in told.values())
    # The page's form says the same.
    page = client.post(
        f"/h/{village['households'][1].qr_token}/report",
        data={"task_id": village["task"].id, "status": "needs_help", "kind": "flooding"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "已立即通知：小队长、网格员、村干部" in page


def test_the_lead_who_reported_it_is_not_told_again(village):
    h = village["households"][0]
    done = record_status(
        db.session,
        village["lead"],
        task_id=village["task"].id,
        household_id=h.id,
        status="needs_help",
    )
    db.session.commit()
    assert done.told == ("grid_member", "cadre")
    assert set(help_messages()) == {village["gm"].id, village["cadre"].id}


def test_a_later_safe_from_the_plate_is_shown_but_a_person_closes_the_call(client, village):
    h = village["households"][0]
    task_id = village["task"].id
    for status in ("needs_help", "safe"):
        res = client.post(
            f"/api/v1/public/{h.qr_token}/reports", json={"task_id": task_id, "status": status}
        )
        assert res.status_code == 201
    [case] = list_escalations(db.session, village["gm"])
    [card] = describe_escalations(db.session, [case])
    assert card["status"] == "open"
    assert card["status_now"]["status"] == "safe" and card["status_now"]["via"] == "household_qr"
    login(client, village["gm"])
    html = client.get("/tasks/escalations").get_data(as_text=True)
    assert "此后：安全（门牌二维码" in html and "仍待有人处理后关闭" in html

    # The lead of another team may not touch it; the household's own lead closes it.
    with pytest.raises(OutOfScope):
        require_escalation(db.session, village["lead_b"], case.id)
    resolve_escalation(db.session, village["lead"], case.id, "已上门，老人平安")
    db.session.commit()
    levels = db.session.scalars(select(Escalation).where(Escalation.reason == "needs_help")).all()
    assert {(e.status, e.resolved_by_id) for e in levels} == {("resolved", village["lead"].id)}


def test_the_lead_closes_a_call_for_help_from_the_team_page(client, village):
    h = village["households"][0]
    task_id = village["task"].id
    for status in ("needs_help", "safe"):
        res = client.post(
            f"/api/v1/public/{h.qr_token}/reports",
            json={"task_id": task_id, "status": status, "kind": "medical", "note": "老人腿摔伤"},
        )
        assert res.status_code == 201
    [case] = list_escalations(db.session, village["gm"])

    # Another team's lead neither sees it on their page nor closes it.
    login(client, village["lead_b"])
    assert h.head_name not in client.get("/field").get_data(as_text=True)
    other_team = village["households"][2].team_id
    res = client.post(f"/field/teams/{other_team}/help/{case.id}/close", data={"note": "关掉"})
    assert res.status_code == 404
    client.post("/logout")

    login(client, village["lead"])
    page = client.get("/field").get_data(as_text=True)
    assert "求助（1）" in page and h.head_name in page and "老人腿摔伤" in page
    assert "此后：安全" in page  # the plate's later "safe" is shown, the call stays open
    close = f"/field/teams/{h.team_id}/help/{case.id}/close"
    # Saying nothing is refused where the form is, and the call stays open.
    res = client.post(close, data={"note": "  "})
    assert res.headers["Location"].endswith(f"#help{case.id}")
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "请说明处理情况" in page and "求助（1）" in page
    res = client.post(close, data={"note": "已上门，送医"}, follow_redirects=True)
    page = res.get_data(as_text=True)
    assert "求助已关闭" in page and "求助（1）" not in page
    db.session.expire_all()  # the case was read above; the request closed it
    levels = db.session.scalars(select(Escalation).where(Escalation.reason == "needs_help")).all()
    assert {(e.status, e.resolved_by_id, e.resolution_note) for e in levels} == {
        ("resolved", village["lead"].id, "已上门，送医")
    }


def test_operation_ids_belong_to_their_sender(client, village):
    task_id = village["task"].id
    mine, theirs = village["households"][0], village["households"][1]
    lead_b_team = village["households"][2]
    lead = api_headers(client, village["lead"])
    lead_b = api_headers(client, village["lead_b"])

    def sync(headers, household, status, op_id="op-1"):
        res = client.post(
            "/api/v1/field/sync",
            json={
                "ops": [
                    {
                        "op_id": op_id,
                        "task_id": task_id,
                        "household_id": household.id,
                        "status": status,
                    }
                ]
            },
            headers=headers,
        )
        assert res.status_code == 200, res.get_json()
        return res.get_json()["results"][0]

    assert sync(lead, mine, "safe")["result"] == "applied"
    # Another lead's phone happening to make the same id: their tap counts, nothing leaks.
    other = sync(lead_b, lead_b_team, "not_home")
    assert other == {"op_id": "op-1", "result": "applied"}
    assert sync(lead, mine, "safe")["result"] == "duplicate"
    # The same person reusing an id for another household is a bug on their phone.
    reused = sync(lead, theirs, "safe")
    assert reused["result"] == "rejected" and reused["error"]["code"] == "client_op_id_reused"
    assert reused["error"]["message"] == "您已经用这个操作编号报告过另一户。"
    events = db.session.scalars(select(StatusEvent).where(StatusEvent.client_op_id == "op-1"))
    assert sorted(e.actor_id for e in events) == sorted([village["lead"].id, village["lead_b"].id])
    with pytest.raises(Conflict):
        record_status(
            db.session,
            village["lead"],
            task_id=task_id,
            household_id=theirs.id,
            status="safe",
            client_op_id="op-1",
        )
