"""Official warnings: a CAP document drafts the sweeps of the villages in its area and
tells their cadres; the same one twice, Update, Cancel, an expired one; matching by
division code and by a polygon; sending a draft; the warnings-only token; the feed;
auto-send. Bad documents: tests/test_warnings_bad.py."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.factories import api_headers, create_user, login
from tests.warnings_helpers import cap_file, deployment, post_cap
from village_grid.extensions import db
from village_grid.models import OfficialWarning, OutboxMessage, Task, TaskTeam, WarningDraft
from village_grid.models.base import utcnow
from village_grid.tasks.escalation import run_escalations
from village_grid.warnings import autosend, feed


def messages_to(user) -> list[str]:
    return list(
        db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.recipient_id == user.id))
    )


def test_a_county_warning_drafts_a_sweep_for_each_village_in_it_and_tells_only_their_cadres(client):
    d = deployment()
    headers = api_headers(client, d["county_cadre"])
    res = post_cap(client, headers, cap_file("typhoon_county.xml"))
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["identifier"] == "35012141600000_20260804180000"
    assert body["event"] == "台风" and body["severity"] == "Severe" and body["expires"]
    by_unit = {x["unit_id"]: x for x in body["drafts"]}
    assert set(by_unit) == {d["houguan"]["village"].id, d["yanqi"]["village"].id}
    assert by_unit[d["houguan"]["village"].id]["households"] == 4

    task = db.session.get(Task, by_unit[d["houguan"]["village"].id]["task_id"])
    assert task.status == "draft" and task.subkind == "flood"
    assert task.title == "闽侯县气象台发布台风橙色预警"
    # The onset (21:00 +08:00) is the deadline.
    assert task.deadline.strftime("%Y-%m-%d %H:%M") == "2099-08-04 13:00"
    # Nobody is reached, nobody but the cadres is told.
    assert db.session.scalar(select(func.count(TaskTeam.id))) == 0
    for v in ("houguan", "yanqi", "tangtou"):
        for lead in d[v]["leads"]:
            assert messages_to(lead) == []
    assert messages_to(d["tangtou"]["cadre"]) == []
    (text,) = messages_to(d["houguan"]["cadre"])
    assert "闽侯县气象台发布台风橙色预警" in text and "一键发送" in text
    assert f"/warnings/drafts/{task.id}" in text

    # The draft is in no list of live tasks, and the API says what it is.
    cadre_headers = api_headers(client, d["houguan"]["cadre"])
    listed = client.get("/api/v1/tasks", headers=cadre_headers).get_json()["tasks"]
    assert task.id not in [t["id"] for t in listed]
    one = client.get(f"/api/v1/tasks/{task.id}", headers=cadre_headers).get_json()
    assert one["status"] == "draft"
    # The team lead of an affected team cannot see it.
    lead_headers = api_headers(client, d["houguan"]["leads"][0])
    assert client.get(f"/api/v1/tasks/{task.id}", headers=lead_headers).status_code == 404


def test_sending_a_draft_tells_the_team_leads_as_a_dispatch_does(client):
    d = deployment()
    post_cap(client, api_headers(client, d["admin"]), cap_file("typhoon_county.xml"))
    task_id = db.session.scalar(
        select(WarningDraft.task_id).where(WarningDraft.unit_id == d["houguan"]["village"].id)
    )
    headers = api_headers(client, d["houguan"]["cadre"])
    res = client.post(f"/api/v1/tasks/{task_id}/send", headers=headers)
    assert res.status_code == 201, res.get_json()
    assert res.get_json() == {"id": task_id, "households": 4, "teams": 2}
    assert client.get(f"/api/v1/tasks/{task_id}", headers=headers).get_json()["status"] == "open"
    for lead in d["houguan"]["leads"]:
        (text,) = messages_to(lead)
        assert "台风橙色预警" in text
    assert all(messages_to(lead) == [] for lead in d["yanqi"]["leads"])
    # Twice: a conflict, nothing sent again.
    again = client.post(f"/api/v1/tasks/{task_id}/send", headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_draft"
    # Another village's cadre may not send it.
    other = api_headers(client, d["yanqi"]["cadre"])
    assert client.post(f"/api/v1/tasks/{task_id}/send", headers=other).status_code == 404


def test_the_same_warning_twice_answers_200_and_drafts_nothing_new(client):
    d = deployment()
    headers = api_headers(client, d["admin"])
    first = post_cap(client, headers, cap_file("typhoon_county.xml"))
    second = post_cap(client, headers, cap_file("typhoon_county.xml"))
    assert first.status_code == 201 and second.status_code == 200
    assert second.get_json()["id"] == first.get_json()["id"]
    assert second.get_json()["drafts"] == first.get_json()["drafts"]
    assert db.session.scalar(select(func.count(Task.id))) == 2
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 2


def test_an_update_amends_unsent_drafts_and_leaves_a_sent_sweep_alone(client):
    d = deployment()
    headers = api_headers(client, d["admin"])
    drafted = post_cap(client, headers, cap_file("typhoon_county.xml")).get_json()["drafts"]
    tasks = {x["unit_id"]: x["task_id"] for x in drafted}
    sent_id = tasks[d["houguan"]["village"].id]
    client.post(f"/api/v1/tasks/{sent_id}/send", headers=api_headers(client, d["houguan"]["cadre"]))

    res = post_cap(client, headers, cap_file("typhoon_update.xml"))
    assert res.status_code == 201
    body = res.get_json()
    assert {x["change"] for x in body["drafts"]} == {"amended", "sent_before"}
    draft = db.session.get(Task, tasks[d["yanqi"]["village"].id])
    assert draft.status == "draft" and "红色" in draft.title
    sent = db.session.get(Task, sent_id)
    assert sent.status == "open" and "橙色" in sent.title
    assert db.session.scalar(select(func.count(Task.id))) == 2  # nothing new
    assert any("更新" in m for m in messages_to(d["yanqi"]["cadre"]))
    original = db.session.scalar(select(OfficialWarning).where(OfficialWarning.msg_type == "Alert"))
    assert original.superseded_by_id == body["id"]


def test_a_cancel_withdraws_unsent_drafts_and_says_so_on_a_sent_sweep(client):
    d = deployment()
    headers = api_headers(client, d["admin"])
    drafted = post_cap(client, headers, cap_file("typhoon_county.xml")).get_json()["drafts"]
    tasks = {x["unit_id"]: x["task_id"] for x in drafted}
    sent_id = tasks[d["houguan"]["village"].id]
    client.post(f"/api/v1/tasks/{sent_id}/send", headers=api_headers(client, d["houguan"]["cadre"]))

    body = post_cap(client, headers, cap_file("typhoon_cancel.xml")).get_json()
    states = {x["unit_id"]: x["state"] for x in body["drafts"]}
    assert states == {d["houguan"]["village"].id: "sent", d["yanqi"]["village"].id: "withdrawn"}
    assert db.session.get(Task, tasks[d["yanqi"]["village"].id]).status == "withdrawn"
    assert db.session.get(Task, sent_id).status == "open"
    assert any("解除" in m and "仍在进行" in m for m in messages_to(d["houguan"]["cadre"]))
    # A withdrawn draft cannot be sent.
    res = client.post(
        f"/api/v1/tasks/{tasks[d['yanqi']['village'].id]}/send",
        headers=api_headers(client, d["yanqi"]["cadre"]),
    )
    assert res.status_code == 409


def test_an_expired_warning_drafts_nothing(client):
    d = deployment()
    doc = cap_file("typhoon_county.xml").replace(b"2099-08-05T18:00:00", b"2020-08-05T18:00:00")
    res = post_cap(client, api_headers(client, d["admin"]), doc)
    assert res.status_code == 201
    assert res.get_json()["drafts"] == []
    assert db.session.scalar(select(OfficialWarning.outcome)) == "expired"
    assert db.session.scalar(select(func.count(Task.id))) == 0


def test_a_test_message_drafts_nothing(client):
    d = deployment()
    doc = cap_file("typhoon_county.xml").replace(
        b"<status>Actual</status>", b"<status>Test</status>"
    )
    res = post_cap(client, api_headers(client, d["admin"]), doc)
    assert res.status_code == 201 and res.get_json()["outcome"] == "not_actual"
    assert db.session.scalar(select(func.count(Task.id))) == 0


def test_a_village_code_covers_that_village_alone(client):
    d = deployment()
    body = post_cap(
        client, api_headers(client, d["admin"]), cap_file("rainstorm_village.xml")
    ).get_json()
    assert [x["unit_id"] for x in body["drafts"]] == [d["houguan"]["village"].id]
    task = db.session.get(Task, body["drafts"][0]["task_id"])
    # Immediate, no onset: an hour.
    assert timedelta(minutes=59) < task.deadline - utcnow() <= timedelta(minutes=60)


def test_heat_reaches_the_vulnerable_households(client):
    d = deployment()
    body = post_cap(client, api_headers(client, d["admin"]), cap_file("heat.xml")).get_json()
    task = db.session.get(Task, body["drafts"][0]["task_id"])
    assert task.subkind == "heat" and "elderly_alone" in task.filter["flags"]
    assert {x["households"] for x in body["drafts"]} == {2}  # one elderly household per team


def test_a_polygon_covers_the_teams_whose_households_stand_inside(client):
    d = deployment()
    body = post_cap(client, api_headers(client, d["admin"]), cap_file("polygon.xml")).get_json()
    assert [x["unit_id"] for x in body["drafts"]] == [d["houguan"]["village"].id]
    task = db.session.get(Task, body["drafts"][0]["task_id"])
    assert task.filter["unit_ids"] == sorted(t.id for t in d["houguan"]["teams"])


def test_a_code_outside_the_deployment_drafts_nothing(client):
    d = deployment()
    body = post_cap(client, api_headers(client, d["admin"]), cap_file("outside.xml")).get_json()
    assert body["drafts"] == [] and body["outcome"] == "nothing_matched"
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_drafts_reach_no_lead_page_no_door_plate_and_no_deadline_check(client):
    d = deployment()
    post_cap(client, api_headers(client, d["admin"]), cap_file("rainstorm_village.xml"))
    task = db.session.scalar(select(Task))
    assert run_escalations(db.session, task.deadline + timedelta(hours=3)) == 0
    db.session.commit()
    login(client, d["houguan"]["leads"][0])
    assert task.title not in client.get("/field/").get_data(as_text=True)
    household = d["houguan"]["households"][0]
    page = client.get(f"/h/{household.qr_token}").get_data(as_text=True)
    assert task.title not in page


def test_a_warnings_token_posts_warnings_and_nothing_else(client):
    d = deployment()
    login(client, d["admin"])
    page = client.post("/warnings/token").get_data(as_text=True)
    token = page.split('class="token">')[1].split("<")[0].strip()
    client.post("/logout")
    headers = {"Authorization": f"Bearer {token}"}
    assert post_cap(client, headers, cap_file("typhoon_county.xml")).status_code == 201
    assert client.get("/api/v1/units", headers=headers).status_code == 403
    assert client.get("/api/v1/tasks", headers=headers).status_code == 403


def test_who_may_post_a_warning(client):
    d = deployment()
    lead = api_headers(client, d["houguan"]["leads"][0])
    assert post_cap(client, lead, cap_file("typhoon_county.xml")).status_code == 403
    assert post_cap(client, {}, cap_file("typhoon_county.xml")).status_code == 401
    assert db.session.scalar(select(func.count(OfficialWarning.id))) == 0


def test_the_feed_is_read_once_per_document(app):
    d = deployment()
    feed_xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>CMA</title>
<item><title>a</title><link>http://feed.test/typhoon.xml</link></item>
<item><title>b</title><link>http://feed.test/outside.xml</link></item>
<item><title>c</title><link>http://feed.test/broken.xml</link></item>
</channel></rss>"""
    docs = {
        "http://feed.test/cap.rss": feed_xml,
        "http://feed.test/typhoon.xml": cap_file("typhoon_county.xml"),
        "http://feed.test/outside.xml": cap_file("outside.xml"),
        "http://feed.test/broken.xml": b"<alert>",
    }
    fetched = []

    def get(url, limit):
        fetched.append(url)
        return docs[url]

    app.config["WARNINGS_FEED_URL"] = "http://feed.test/cap.rss"
    try:
        assert feed.poll_feed(db.session, get=get) == {"new": 2, "seen": 0, "bad": 1, "failed": 0}
        assert db.session.scalar(select(func.count(Task.id))) == 2
        fetched.clear()
        assert feed.poll_feed(db.session, get=get) == {"new": 0, "seen": 2, "bad": 1, "failed": 0}
        assert "http://feed.test/typhoon.xml" not in fetched
    finally:
        app.config["WARNINGS_FEED_URL"] = ""
    assert d["houguan"]["cadre"].id in set(db.session.scalars(select(OutboxMessage.recipient_id)))


def test_the_feed_is_off_by_default(app):
    assert app.config["WARNINGS_FEED_URL"] == ""
    assert feed.poll_feed(db.session, get=lambda url, limit: 1 / 0) == {
        "new": 0, "seen": 0, "bad": 0, "failed": 0,
    }  # fmt: skip


def test_autosend_sends_a_severe_draft_unless_held(client, app):
    d = deployment()
    app.config["WARNINGS_AUTOSEND"] = {"Severe": 15}
    try:
        drafts = post_cap(client, api_headers(client, d["admin"]), cap_file("typhoon_county.xml"))
    finally:
        app.config["WARNINGS_AUTOSEND"] = {}
    tasks = {x["unit_id"]: x["task_id"] for x in drafts.get_json()["drafts"]}
    held = tasks[d["yanqi"]["village"].id]
    login(client, d["yanqi"]["cadre"])
    assert client.post(f"/warnings/drafts/{held}/hold").status_code == 302
    assert autosend.send_due(db.session, now=utcnow() + timedelta(minutes=10)) == 0
    assert autosend.send_due(db.session, now=utcnow() + timedelta(minutes=16)) == 1
    db.session.commit()
    assert db.session.get(Task, tasks[d["houguan"]["village"].id]).status == "open"
    assert db.session.get(Task, held).status == "draft"
    actions = set(
        db.session.scalars(
            select(func.distinct(db.text("action"))).select_from(db.text("audit_events"))
        )
    )
    assert {"warning.autosend", "warning.hold"} <= actions


def test_the_warnings_page_lists_newest_first_with_drafts_and_their_states(client):
    d = deployment()
    headers = api_headers(client, d["admin"])
    post_cap(client, headers, cap_file("rainstorm_village.xml"))
    post_cap(client, headers, cap_file("typhoon_county.xml"))
    login(client, d["houguan"]["cadre"])
    page = client.get("/warnings/").get_data(as_text=True)
    assert page.index("台风橙色预警") < page.index("暴雨黄色预警")
    assert "level-orange" in page and "level-yellow" in page
    assert "侯官村" in page and "颜岐村" not in page  # only their own village's drafts
    assert "已拟好，待发送" in page


def test_the_draft_page_shows_the_warning_and_sends_with_one_tap(client):
    d = deployment()
    post_cap(client, api_headers(client, d["admin"]), cap_file("typhoon_county.xml"))
    task_id = db.session.scalar(
        select(WarningDraft.task_id).where(WarningDraft.unit_id == d["houguan"]["village"].id)
    )
    login(client, d["houguan"]["cadre"])
    assert (
        client.get(f"/tasks/{task_id}").headers["Location"].endswith(f"/warnings/drafts/{task_id}")
    )
    page = client.get(f"/warnings/drafts/{task_id}").get_data(as_text=True)
    assert "闽侯县气象台发布台风橙色预警" in page and "格美" in page and "立即发送" in page
    res = client.post(f"/warnings/drafts/{task_id}/send")
    assert res.status_code == 302 and res.headers["Location"].endswith(f"/tasks/{task_id}")
    assert db.session.get(Task, task_id).status == "open"


def test_a_cadre_may_withdraw_a_draft_and_a_lead_may_not_send_it(client):
    d = deployment()
    post_cap(client, api_headers(client, d["admin"]), cap_file("rainstorm_village.xml"))
    task_id = db.session.scalar(select(Task.id))
    lead = create_user("grid_member", d["houguan"]["grid"])
    login(client, lead)
    client.post(f"/warnings/drafts/{task_id}/send")
    assert db.session.get(Task, task_id).status == "draft"
    client.post("/logout")
    login(client, d["houguan"]["cadre"])
    client.post(f"/warnings/drafts/{task_id}/withdraw")
    db.session.expire_all()
    assert db.session.get(Task, task_id).status == "withdrawn"


def test_an_upload_is_received_like_a_post(client):
    d = deployment()
    login(client, d["houguan"]["cadre"])
    res = client.post(
        "/warnings/upload",
        data={"file": (__import__("io").BytesIO(cap_file("rainstorm_village.xml")), "warning.xml")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 302
    warning = db.session.scalar(select(OfficialWarning))
    assert warning.received_via == "upload" and warning.outcome == "drafted"
    bad = client.post(
        "/warnings/upload",
        data={"file": (__import__("io").BytesIO(b"<alert>"), "bad.xml")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
