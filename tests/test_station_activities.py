"""Jobs, trainings, attendance, departures and broadcasts at the station, as staff and
team leads see them: each bad field refused with its message; a hire makes the
employer the worker's; attendance counted once; a departure frees the household
place and keeps the history, a return starts a new stay; a broadcast reaches the
top of every lead's "my team" page through the outbox, the station sees who read
it and how long until all had, and a lead who has not read it in time escalates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import api_headers, create_newcomer, create_user, create_village, login
from village_grid.extensions import db
from village_grid.models import Broadcast, Escalation, Newcomer, OutboxMessage, Placement
from village_grid.station import placement
from village_grid.tasks import statuses
from village_grid.tasks.escalation import run_escalations


@pytest.fixture
def world():
    v = create_village(grids=2, teams=2, households=2, leads=3)
    v["staff"] = create_user("station_staff", v["village"], name="驿站小陈")
    return v


def test_job_referrals_on_the_page_and_the_api(client, world):
    person = create_newcomer(world["village"], "吴焊工", wants_work="y")
    login(client, world["staff"])
    url = f"/station/newcomers/{person.id}/referrals"
    res = client.post(url, data={"employer": " ", "outcome": "maybe"}, follow_redirects=True)
    page = res.get_data(as_text=True)
    assert "请填写工作单位" in page and "无法识别的结果" in page
    res = client.post(
        url,
        data={"employer": "港务公司", "position": "焊工", "outcome": "pending"},
        follow_redirects=True,
    )
    page = res.get_data(as_text=True)
    assert "港务公司" in page and "焊工" in page and "待回复" in page
    headers = api_headers(client, world["staff"])
    res = client.post(
        f"/api/v1/newcomers/{person.id}/referrals",
        json={"employer": "船厂", "position": "装配工"},
        headers=headers,
    )
    assert res.status_code == 201 and res.get_json()["outcome"] == "pending"
    referral_id = res.get_json()["id"]
    bad = client.patch(
        f"/api/v1/referrals/{referral_id}", json={"outcome": "fired"}, headers=headers
    )
    assert bad.status_code == 422
    res = client.patch(
        f"/api/v1/referrals/{referral_id}", json={"outcome": "hired"}, headers=headers
    )
    assert res.status_code == 200 and res.get_json()["outcome"] == "hired"
    got = client.get(f"/api/v1/newcomers/{person.id}", headers=headers).get_json()
    assert got["employer"] == "船厂"
    dashboard = client.get("/station/dashboard").get_data(as_text=True)
    assert "港务公司" in dashboard  # the open referral is listed


def test_trainings_in_the_four_subjects_and_attendance_counted_once(client, world):
    a = create_newcomer(world["village"], "甲工人", phone="13711110001")
    b = create_newcomer(world["village"], "乙工人", phone="13711110002")
    login(client, world["staff"])
    res = client.post("/station/trainings", data={"subject": "cooking", "title": ""})
    assert res.status_code == 422
    page = res.get_data(as_text=True)
    assert "请填写标题" in page and 'aria-invalid="true"' in page
    form = client.get("/station/trainings").get_data(as_text=True)
    for subject in ("消防安全", "职业技能", "法律知识", "治安防范"):
        assert subject in form, subject
    res = client.post(
        "/station/trainings",
        data={"subject": "fire_safety", "title": "消防第一课", "place": "驿站二楼"},
    )
    assert res.status_code == 302
    training_url = res.headers["Location"]
    # Ticked in the list, and typed by name or phone; twice counts once.
    client.post(training_url, data={"newcomer_ids": str(a.id)})
    res = client.post(training_url, data={"people": "乙工人\n13711110001\n无此人"})
    page = res.get_data(as_text=True)
    assert "无此人" in page  # who could not be matched is said
    training_id = int(training_url.rstrip("/").rsplit("/", 1)[-1])
    headers = api_headers(client, world["staff"])
    got = client.get(f"/api/v1/trainings/{training_id}", headers=headers).get_json()
    assert sorted(p["name"] for p in got["attendees"]) == ["乙工人", "甲工人"]
    res = client.post(
        f"/api/v1/trainings/{training_id}/attendance",
        json={"newcomer_ids": [a.id, b.id]},
        headers=headers,
    )
    assert res.status_code == 200 and res.get_json()["added"] == 0
    res = client.post(
        f"/api/v1/trainings/{training_id}/attendance",
        json={"newcomer_ids": [999999]},
        headers=headers,
    )
    assert res.status_code == 422
    res = client.post(
        "/api/v1/trainings", json={"subject": "legal", "title": "劳动合同"}, headers=headers
    )
    assert res.status_code == 201 and res.get_json()["subject"] == "legal"
    person_page = client.get(f"/station/newcomers/{a.id}").get_data(as_text=True)
    assert "消防第一课" in person_page


def test_departure_frees_the_place_keeps_history_and_a_return_starts_again(client, world):
    person = create_newcomer(world["village"], "郑离开", arrived_on="2026-01-05")
    row = placement.place(db.session, None, person.id, team_id=world["teams"][1].id)
    db.session.commit()
    household_id = row.household_id
    login(client, world["staff"])
    url = f"/station/newcomers/{person.id}/departure"
    res = client.post(url, data={"departed_on": "2099-01-01", "reason": "job_ended"})
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "不能晚于今天" in page
    res = client.post(url, data={"departed_on": "2025-12-01", "reason": "job_ended"})
    assert "早于到达日期" in client.get(res.headers["Location"]).get_data(as_text=True)
    res = client.post(
        url, data={"departed_on": "2026-02-01", "reason": "job_ended", "to": "江西赣州"}
    )
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "江西赣州" in page and "2026-02-01" in page
    db.session.expire_all()
    assert db.session.get(Newcomer, person.id).departed_on.isoformat() == "2026-02-01"
    placed = db.session.scalars(select(Placement)).one()
    assert placed.ended_at is not None and placed.household_id == household_id
    # Back after the Spring Festival: the old stay is kept, a new home is asked for.
    res = client.post(f"/station/newcomers/{person.id}/return", data={"arrived_on": "2026-03-01"})
    assert res.headers["Location"].endswith(f"/station/newcomers/{person.id}/placement")
    db.session.expire_all()
    back = db.session.get(Newcomer, person.id)
    assert back.present and back.past_stays[0]["departed_on"] == "2026-02-01"
    page = client.get(f"/station/newcomers/{person.id}").get_data(as_text=True)
    assert "2026-01-05" in page  # the earlier stay is still shown


def send_broadcast(client, world, **extra):
    data = {
        "kind": "missing_person",
        "title": "寻找走失儿童",
        "description": "男孩，6岁，穿红色外套",
        "last_seen": "港口路菜市场",
        "phone": "13900000088",
        "deadline_minutes": "15",
    }
    data.update(extra)
    return client.post("/station/broadcasts", data=data)


def test_a_broadcast_refuses_bad_fields_one_by_one(client, world):
    login(client, world["staff"])
    res = send_broadcast(client, world, description=" ", phone="123", deadline_minutes="7")
    assert res.status_code == 422
    page = res.get_data(as_text=True)
    assert page.count('aria-invalid="true"') >= 2
    assert "请填写" in page
    assert db.session.scalar(select(db.func.count(Broadcast.id))) == 0


def test_a_broadcast_reaches_every_lead_and_the_station_sees_the_reads(app, client, world):
    login(client, world["staff"])
    res = send_broadcast(client, world)
    assert res.status_code == 302, res.get_data(as_text=True)[:1500]
    item = db.session.scalars(select(Broadcast)).one()
    task = item.task
    messages = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.body.contains("寻找走失儿童"))
    ).all()
    leads = world["leads"]
    told = {m.recipient_id for m in messages}
    assert {u.id for u in leads} <= told
    assert all("13900000088" in m.body for m in messages)
    # Top of the lead's page: the notice before any household.
    lead_client = app.test_client()
    login(lead_client, leads[0])
    page = lead_client.get("/field").get_data(as_text=True)
    assert "寻找走失儿童" in page and "港口路菜市场" in page
    households = [h.head_name for h in world["households"] if h.team_id == world["teams"][0].id]
    assert page.index("寻找走失儿童") < page.index(households[0])
    res = lead_client.post(f"/field/tasks/{task.id}/read")
    assert res.status_code == 302
    station = client.get(f"/station/broadcasts/{item.id}").get_data(as_text=True)
    assert f"{len(told)} 人中已读 1 人" in station
    assert leads[1].name in station and leads[1].phone in station  # not read yet, with phone
    # The rest read it (10 minutes after sending): the station sees how long it took.
    later = task.created_at + timedelta(minutes=10)
    for lead in leads[1:]:
        statuses.mark_notice_read(db.session, lead, task.id, now=later)
    for uid in told - {u.id for u in leads}:
        from village_grid.models import User

        statuses.mark_notice_read(db.session, db.session.get(User, uid), task.id, now=later)
    db.session.commit()
    station = client.get(f"/station/broadcasts/{item.id}").get_data(as_text=True)
    assert "10 分钟" in station, station[station.find("reads-h") :][:800]
    home = client.get("/station/").get_data(as_text=True)
    assert "寻找走失儿童" in home


def test_a_lead_who_has_not_read_it_in_time_escalates(client, world):
    login(client, world["staff"])
    send_broadcast(client, world, deadline_minutes="10")
    item = db.session.scalars(select(Broadcast)).one()
    task = item.task
    for lead in world["leads"][1:]:
        statuses.mark_notice_read(db.session, lead, task.id)
    db.session.commit()
    run_escalations(db.session, now=task.created_at + timedelta(minutes=5))
    db.session.commit()
    assert db.session.scalar(select(db.func.count(Escalation.id))) == 0
    run_escalations(db.session, now=task.deadline + timedelta(minutes=1))
    db.session.commit()
    cases = db.session.scalars(select(Escalation).where(Escalation.reason == "unread")).all()
    assert world["teams"][0].id in {c.team_id for c in cases}
    station = client.get(f"/station/broadcasts/{item.id}").get_data(as_text=True)
    assert world["leads"][0].name in station and world["gm"].name in station
    # Found: ended at the station, no further escalation.
    res = client.post(f"/station/broadcasts/{item.id}/close")
    assert res.status_code == 302
    db.session.expire_all()
    assert item.task.closed_at is not None
    assert run_escalations(db.session, now=task.deadline + timedelta(hours=3)) == 0


def test_another_notice_speaks_its_own_words_and_a_lead_without_a_phone_gets_no_link(
    app, client, world
):
    login(client, world["staff"])
    missing = client.get("/station/broadcasts").get_data(as_text=True)
    assert 'value="寻找走失儿童"' in missing and "最后出现" in missing
    form = client.get("/station/broadcasts?kind=other").get_data(as_text=True)
    assert 'aria-current="page">其他通知</a>' in form
    assert "寻找走失儿童" not in form and "最后出现" not in form and "走失人员" not in form
    silent = world["leads"][1]
    silent.phone = None
    db.session.commit()
    res = send_broadcast(
        client,
        world,
        kind="other",
        title="明天停水",
        description="明天8点到12点停水，请提前储水",
        last_seen="港口路菜市场",
    )
    assert res.status_code == 302, res.get_data(as_text=True)[:1500]
    item = db.session.scalars(select(Broadcast)).one()
    assert item.kind == "other"
    body = item.task.body
    assert "如有疑问，请拨打 13900000088。" in body
    assert "如有线索" not in body and "港口路" not in body and "最后出现" not in body
    lead_client = app.test_client()
    login(lead_client, world["leads"][0])
    lead_page = lead_client.get("/field").get_data(as_text=True)
    assert "明天停水" in lead_page and "如有疑问" in lead_page and "如有线索" not in lead_page
    page = client.get(f"/station/broadcasts/{item.id}").get_data(as_text=True)
    assert "已找到" not in page and "结束通知" in page
    assert silent.name in page and 'href="tel:"' not in page
    # The missing child's words are still its own.
    send_broadcast(client, world)
    child = db.session.scalars(select(Broadcast).where(Broadcast.kind == "missing_person")).one()
    assert "如有线索，请拨打 13900000088。" in child.task.body
    assert "已找到，结束通知" in client.get(f"/station/broadcasts/{child.id}").get_data(
        as_text=True
    )


def test_the_dashboard_counts_what_the_station_did(client, world):
    today_arrival = create_newcomer(world["village"], "今天到", wants_work="y")
    create_newcomer(world["village"], "四川人", id_number=None, home_province="四川省")
    login(client, world["staff"])
    page = client.get("/station/dashboard").get_data(as_text=True)
    assert "福建省" in page and "四川省" in page
    assert "<svg" in page  # a chart where a person would rather look than read
    home = client.get("/station/").get_data(as_text=True)
    assert today_arrival.name in home  # today's arrivals


def station_rules(app) -> list:
    """Every station page and station API endpoint, from the URL map (a new one is
    covered without touching this test)."""
    api = ("/api/v1/newcomers", "/api/v1/referrals", "/api/v1/trainings")
    return [
        r
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/station") or r.rule.startswith(api)
    ]


def test_a_lead_or_another_villages_people_reach_no_station_url(app, world):
    """Every station URL, filled with ids of village A's objects, is 404 to a team lead
    of village A and to the cadre and station staff of village B."""
    from tests.factories import create_unit
    from village_grid.station import referrals, trainings

    person = create_newcomer(world["village"], "冯保密")
    referral = referrals.refer(db.session, None, person.id, {"employer": "港务公司"})
    training = trainings.create_training(
        db.session, None, village_id=world["village"].id, data={"subject": "legal", "title": "普法"}
    )
    db.session.commit()
    c = app.test_client()
    login(c, world["staff"])
    sent = send_broadcast(c, world)
    assert sent.status_code == 302
    ids = {
        "newcomer_id": person.id,
        "referral_id": referral.id,
        "training_id": training.id,
        "broadcast_id": db.session.scalar(select(Broadcast.id)),
        "fmt": "csv",
    }
    other = create_unit("village", "颜岐村", world["township"], code="YQ")
    create_unit("team", "颜岐1小队", create_unit("grid", "颜岐第1网格", other))
    outsiders = [world["lead"], create_user("cadre", other), create_user("station_staff", other)]
    rules = station_rules(app)
    assert len(rules) > 20
    for user in outsiders:
        c = app.test_client()
        login(c, user)
        headers = api_headers(c, user)
        for rule in rules:
            url = rule.build({k: v for k, v in ids.items() if k in rule.arguments})[1]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                kw = {"headers": headers} if url.startswith("/api/") else {}
                if method != "GET":
                    kw["json" if url.startswith("/api/") else "data"] = {
                        "q": "冯保密",
                        "reason": "看看",
                        "id_number": "x",
                    }
                res = c.open(url, method=method, **kw)
                body = res.data.decode("utf-8", "replace")
                if rule.arguments - {"fmt"} or user is world["lead"]:
                    assert res.status_code == 404, (user.username, method, url, res.status_code)
                assert "冯保密" not in body, (user.username, method, url)
