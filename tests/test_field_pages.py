"""The "my team" pages without a browser: a lead lands on their team after login, sees
their households with open tasks and notices, taps without JavaScript through the
same status service; a grid member acts team by team; the service worker, the
manifest, hashed static files cached for a year, and compressed answers."""

from __future__ import annotations

import gzip
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import create_task, create_user, create_village, login, task_members
from village_grid.extensions import db
from village_grid.models import FieldSign, NoticeRead, StatusEvent
from village_grid.models.base import utcnow
from village_grid.qr import mailbox


@pytest.fixture
def world():
    v = create_village(grids=2, teams=2, households=3, leads=2)
    sent = utcnow() - timedelta(minutes=5)
    v["task"] = create_task(v["village"], v["cadre"], kind="sweep", title="防汛排查", now=sent)
    return v


def html_of(client, url: str) -> str:
    res = client.get(url)
    assert res.status_code == 200, (url, res.status_code, res.headers.get("Location"))
    return res.get_data(as_text=True)


def test_a_lead_lands_on_their_team_with_the_open_sweep(client, world):
    res = login(client, world["lead"])
    assert res.headers["Location"].endswith("/")
    assert client.get("/").headers["Location"].endswith("/field")
    html = html_of(client, "/field")
    assert "第1网格 1-1小队" in html  # the team with its grid
    assert "防汛排查" in html and re.search(r'class="t-done">0</strong> / 3 户已确认', html)
    for h in world["households"][:3]:
        assert h.head_name in html and f'href="tel:{h.phone}"' in html
    for h in world["households"][3:]:
        assert h.head_name not in html
    # The phone's page: its service worker, its manifest, no stale copy from the browser cache.
    assert 'data-sw="/sw.js"' in html and 'rel="manifest"' in html
    assert client.get("/field").headers["Cache-Control"] == "no-cache, private"
    # Opening the page is a sign of life on the sweep.
    sign = db.session.scalars(select(FieldSign)).one()
    assert (sign.user_id, sign.task_id, sign.last_kind) == (
        world["lead"].id,
        world["task"].id,
        "open",
    )


def test_a_tap_without_javascript_uses_the_status_service(client, world):
    login(client, world["lead"])
    task, h = world["task"], world["households"][0]
    res = client.post(
        f"/field/tasks/{task.id}/households/{h.id}/status", data={"status": "not_home"}
    )
    assert res.status_code == 302
    assert res.headers["Location"].endswith(f"#h{h.id}-t{task.id}")
    html = html_of(client, res.headers["Location"].split("#")[0])
    # The message is in the household's row, where the eye is.
    row = re.search(rf'id="h{h.id}-t{task.id}".*?</li>', html, re.S).group(0)
    assert "已记下" in row and "不在家" in row
    event = db.session.scalars(select(StatusEvent)).one()
    assert (event.via, event.actor_id, event.status) == ("team_lead", world["lead"].id, "not_home")
    # Someone else's household: not found.
    other = world["households"][3]
    res = client.post(
        f"/field/tasks/{task.id}/households/{other.id}/status", data={"status": "safe"}
    )
    assert res.status_code == 404


def test_a_notice_shows_at_the_top_until_read(client, world):
    notice = create_task(
        world["village"], world["cadre"], kind="notice", title="寻人启事：走失儿童"
    )
    login(client, world["lead"])
    html = html_of(client, "/field")
    assert html.index("寻人启事") < html.index("防汛排查")
    res = client.post(f"/field/tasks/{notice.id}/read", data={"team": world["teams"][0].id})
    assert res.status_code == 302
    assert db.session.scalars(select(NoticeRead)).one().user_id == world["lead"].id
    assert "寻人启事" not in html_of(client, "/field")


def test_letters_and_door_plate_answers_show_on_the_lead_page(client, world):
    task, h = world["task"], world["households"][1]
    from village_grid.tasks.statuses import record_status

    record_status(db.session, None, task_id=task.id, household_id=h.id, status="safe")
    mailbox.create_message(db.session, h, category="facilities", text="路灯坏了")
    db.session.commit()
    login(client, world["lead"])
    html = html_of(client, "/field")
    assert "路灯坏了" in html
    assert "住户扫门牌报的" in html


def test_a_grid_member_goes_team_by_team(client, world):
    login(client, world["gm"])
    html = html_of(client, "/field")
    assert "第1网格 1-1小队" in html and "第1网格 1-2小队" in html
    assert "第2网格" not in html
    assert "3 户待确认" in html
    team = world["teams"][1]
    html = html_of(client, f"/field/teams/{team.id}")
    assert "代小队长" in html or team.name in html
    assert client.get(f"/field/teams/{world['teams'][2].id}").status_code == 404


def test_service_worker_and_manifest_are_public_and_name_the_current_files(client):
    res = client.get("/sw.js")
    assert res.status_code == 200 and res.mimetype == "text/javascript"
    assert res.headers["Cache-Control"] == "no-cache"
    body = res.get_data(as_text=True)
    assert "__FILES__" not in body and re.search(r'"/static/field\.[0-9a-f]{10}\.js"', body)
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = manifest.get_json(force=True)
    assert data["start_url"] == "/field" and data["display"] == "standalone"
    assert {i["sizes"] for i in data["icons"]} >= {"192x192", "512x512"}


def test_static_files_have_hashed_names_cached_for_a_year(client, world):
    login(client, world["lead"])
    html = html_of(client, "/field")
    names = re.findall(r"/static/[\w.-]+\.[0-9a-f]{10}\.(?:css|js|svg|png)", html)
    assert any("field." in n for n in names) and any("app." in n for n in names)
    for name in names:
        res = client.get(name)
        assert res.status_code == 200
        assert "immutable" in res.headers["Cache-Control"]
        assert "max-age=31536000" in res.headers["Cache-Control"]
        # The same for everyone: not held per cookie (a session cookie changes).
        assert "cookie" not in res.headers.get("Vary", "").lower()
        assert "Set-Cookie" not in res.headers
    plain = client.get("/static/field.css")
    assert plain.status_code == 200 and "no-cache" in plain.headers["Cache-Control"]
    stale = client.get("/static/field.0000000000.css")
    assert stale.status_code == 200 and "no-cache" in stale.headers["Cache-Control"]
    assert client.get("/static/../pyproject.toml").status_code == 404
    assert client.get("/static/nothing.0000000000.css").status_code == 404


def test_pages_and_files_are_compressed(client, world):
    login(client, world["lead"])
    res = client.get("/field", headers={"Accept-Encoding": "gzip"})
    assert res.headers.get("Content-Encoding") == "gzip"
    css = re.search(r"/static/app\.[0-9a-f]{10}\.css", html_of(client, "/field")).group(0)
    res = client.get(css, headers={"Accept-Encoding": "br"})
    assert res.headers.get("Content-Encoding") == "br"
    for name in (css, css.replace("app.", "field.", 1)):  # a client that takes only gzip
        res = client.get(name, headers={"Accept-Encoding": "gzip"})
        assert res.headers.get("Content-Encoding") == "gzip", name
        assert b"{" in gzip.decompress(res.data)
    js = re.search(r"/static/app\.[0-9a-f]{10}\.js", html_of(client, "/field")).group(0)
    res = client.get(js, headers={"Accept-Encoding": "gzip"})
    assert res.headers.get("Content-Encoding") == "gzip"


def test_closed_tasks_leave_the_page(client, world):
    from village_grid.tasks.dispatch import close_task

    close_task(db.session, None, world["task"].id)
    db.session.commit()
    login(client, world["lead"])
    html = html_of(client, "/field")
    assert 'class="card task-sec"' not in html and "没有进行中的任务" in html
    assert task_members(world["task"])  # its households are still counted, not shown


def test_a_favicon_for_every_page_and_for_browsers_that_ask_anyway(client, world):
    res = client.get("/favicon.ico")
    assert res.status_code == 200 and res.mimetype == "image/png"
    plate = html_of(client, f"/h/{world['households'][0].qr_token}")
    assert 'rel="icon"' in plate
    assert 'rel="icon"' in html_of(client, "/login")


def test_a_team_with_a_deputy_lead_is_each_leads_own_page(client, world):
    team = world["households"][0].team
    deputy = create_user("team_lead", team, name="郑副队长", phone="13905910099")
    login(client, deputy)
    html = html_of(client, "/field")
    assert "郑副队长" in html and "你在代小队长操作" not in html
    client.post("/logout")
    login(client, world["gm"])
    assert "你在代小队长操作" in html_of(client, f"/field/teams/{team.id}")
