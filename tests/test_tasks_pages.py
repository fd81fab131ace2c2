"""Task pages: dispatch with preview, live progress, team lead's one-tap page,
export, escalation queue, task list — per role, in and out of scope, with bad input."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.factories import (
    create_household,
    create_task,
    create_unit,
    create_user,
    create_village,
    lead_person,
    login,
    task_member,
    task_members,
)
from tests.factories import (
    create_report as report,
)
from village_grid.extensions import db
from village_grid.models import Assignment, Escalation, NoticeRead, StatusEvent, Task
from village_grid.tasks.dispatch import close_task

LEAD_NAME, LEAD_PHONE = lead_person(0)  # 张三, the lead of team 1-1


@pytest.fixture
def world():
    """One village, 2 grids × 2 teams × 3 households; a cadre, a grid member on grid 1,
    leads on teams 1-1 (张三) and 1-2 (林队长)."""
    return create_village(grids=2, teams=2, households=3, leads=2, grid_members=1)


def send(actor, unit, kind="sweep", subkind="flood", title="防汛排查", **kw) -> Task:
    return create_task(unit, actor, kind=kind, subkind=subkind, title=title, **kw)


def page(client, url, status=200):
    res = client.get(url)
    assert res.status_code == status, (url, res.status_code)
    return res.get_data(as_text=True)


def flood_form(unit_id, changes=None, **extra) -> dict:
    data = {
        "preset": "flood",
        "title": "防汛排查：台风格美",
        "unit_id": str(unit_id),
        "deadline": "60",
    }
    data.update(changes or {}, **extra)
    return data


# --- dispatch ---------------------------------------------------------------------


def test_cadre_dispatches_a_flood_check_in_one_post(client, world):
    login(client, world["cadre"])
    html = page(client, "/tasks/new")
    # Big kind buttons, the whole village preselected, and the reach before sending.
    assert "防汛排查" in html and "防台排查" in html and "通知" in html
    assert 'value="flood"' in html and "checked" in html
    assert f'value="{world["village"].id}"' in html
    assert "将通知 12 户" in html and "4 个小队" in html

    res = client.post("/tasks/new", data=flood_form(world["village"].id))
    assert res.status_code == 302, res.get_data(as_text=True)
    task = db.session.scalars(select(Task)).one()
    assert res.headers["Location"].endswith(f"/tasks/{task.id}")
    assert (task.kind, task.subkind, task.title) == ("sweep", "flood", "防汛排查：台风格美")
    assert task.households_total == 12 and task.teams_total == 4
    assert task.created_by_id == world["cadre"].id
    minutes = (task.deadline - task.created_at).total_seconds() / 60
    assert 59 <= minutes <= 61
    html = page(client, f"/tasks/{task.id}")
    assert "已发送给 12 户（4 个小队）" in html
    assert "防汛排查：台风格美" in html


def test_dispatch_with_filter_and_custom_deadline(client, world):
    team = world["teams"][2]
    create_household(team, flags=["flood_prone", "elderly_alone"])
    create_household(world["teams"][0], flags=["flood_prone"])
    login(client, world["cadre"])
    res = client.post(
        "/tasks/new",
        data=flood_form(
            world["village"].id,
            flags=["flood_prone"],
            grid_ids=[str(world["grids"][1].id)],
            deadline="custom",
            deadline_hours="1.5",
        ),
    )
    assert res.status_code == 302, res.get_data(as_text=True)
    task = db.session.scalars(select(Task)).one()
    assert task.filter == {"flags": ["flood_prone"], "unit_ids": [world["grids"][1].id]}
    assert task.households_total == 1
    assert 89 <= (task.deadline - task.created_at).total_seconds() / 60 <= 91


def test_dispatch_campaign_survey_and_notice_from_the_page(client, world):
    login(client, world["cadre"])
    vid = str(world["village"].id)
    res = client.post(
        "/tasks/new",
        data={"preset": "campaign", "title": "垃圾分类", "unit_id": vid, "deadline": "10080"},
    )
    assert res.status_code == 302
    res = client.post(
        "/tasks/new",
        data={
            "preset": "survey",
            "title": "入户调查",
            "unit_id": vid,
            "deadline": "4320",
            "q1_text": "家里有几口人？",
            "q1_type": "number",
            "q2_text": "是否需要沙袋？",
            "q2_type": "choice",
            "q2_choices": "需要，不需要",
        },
    )
    assert res.status_code == 302, res.get_data(as_text=True)
    res = client.post(
        "/tasks/new",
        data={
            "preset": "notice",
            "title": "寻找走失儿童",
            "unit_id": vid,
            "deadline": "1440",
            "body": "男孩，6岁，穿红色上衣",
        },
    )
    assert res.status_code == 302
    tasks = {t.kind: t for t in db.session.scalars(select(Task))}
    assert set(tasks) == {"campaign", "survey", "notice"}
    survey = tasks["survey"]
    assert [q["type"] for q in survey.questions] == ["number", "choice"]
    assert survey.questions[1]["choices"] == ["需要", "不需要"]
    assert tasks["notice"].body == "男孩，6岁，穿红色上衣"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"title": ""}, "请给任务起个标题"),
        ({"title": "   "}, "请给任务起个标题"),
        ({"title": "长" * 201}, "标题超过 200 个字"),
        ({"deadline": "custom", "deadline_hours": "abc"}, "请用小时数填写期限"),
        ({"deadline": "custom", "deadline_hours": "-3"}, "期限须在几分钟到 90 天之间"),
        ({"deadline": "custom", "deadline_hours": "99999"}, "期限须在几分钟到 90 天之间"),
        ({"deadline": "17"}, "请选择期限"),
        ({"preset": "party"}, "请选择任务类型"),
        ({"unit_id": "abc"}, "请选择单位"),
        ({"unit_id": ""}, "请选择单位"),
        ({"unit_id": "999999"}, "您无权向该单位下发任务"),
        ({"flags": ["rich"]}, "请从列表中选择住户类别"),
        ({"grid_ids": ["x"]}, "请从列表中选择网格"),
    ],
)
def test_dispatch_bad_input_shows_a_message(client, world, changes, message):
    login(client, world["cadre"])
    res = client.post("/tasks/new", data=flood_form(world["village"].id, changes))
    html = res.get_data(as_text=True)
    assert res.status_code == 422, html[:500]
    assert message in html
    assert db.session.scalars(select(Task)).first() is None


def test_grid_member_dispatches_only_within_the_grid(client, world):
    mine, theirs = world["grids"]
    login(client, world["gm"])
    html = page(client, "/tasks/new")
    assert mine.name in html and theirs.name not in html and "侯官村" not in html
    assert "将通知 6 户" in html
    # Someone else's grid, or the whole village: refused with a message, nothing sent.
    for unit in (theirs, world["village"], world["teams"][2]):
        res = client.post("/tasks/new", data=flood_form(unit.id))
        assert res.status_code == 422
        assert "您无权向该单位下发任务" in res.get_data(as_text=True)
    assert db.session.scalars(select(Task)).first() is None
    res = client.post("/tasks/new", data=flood_form(mine.id))
    assert res.status_code == 302
    assert db.session.scalars(select(Task)).one().households_total == 6


def test_team_lead_and_station_staff_cannot_dispatch(client, world):
    staff = create_user("station_staff", world["village"])
    for user in (world["lead"], staff):
        c = client.application.test_client()
        login(c, user)
        assert c.get("/tasks/new").status_code == 404
        assert c.post("/tasks/new", data=flood_form(world["teams"][0].id)).status_code == 404
    assert db.session.scalars(select(Task)).first() is None


def test_preview_counts_households_and_teams(client, world):
    create_household(world["teams"][3], flags=["elderly_alone"])
    login(client, world["cadre"])
    vid = world["village"].id
    assert client.get(f"/tasks/preview?unit_id={vid}").get_json() == {"households": 13, "teams": 4}
    res = client.get(f"/tasks/preview?unit_id={vid}&flags=elderly_alone")
    assert res.get_json() == {"households": 1, "teams": 1}
    res = client.get(f"/tasks/preview?unit_id={vid}&grid_ids={world['grids'][0].id}")
    assert res.get_json() == {"households": 6, "teams": 2}
    # Bad input: JSON errors, never a 500, never a page.
    res = client.get("/tasks/preview")
    assert res.status_code == 422 and res.get_json()["error"]["code"] == "invalid_input"
    res = client.get(f"/tasks/preview?unit_id={vid}&grid_ids=x")
    assert res.status_code == 422
    res = client.get(f"/tasks/preview?unit_id={vid}&flags=rich")
    assert res.status_code == 422
    res = client.get("/tasks/preview?unit_id=999999")
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found"


def test_preview_is_scoped(client, world):
    login(client, world["gm"])
    res = client.get(f"/tasks/preview?unit_id={world['grids'][0].id}")
    assert res.get_json() == {"households": 6, "teams": 2}
    res = client.get(f"/tasks/preview?unit_id={world['grids'][1].id}")
    assert res.status_code == 404
    anon = client.application.test_client()
    assert anon.get(f"/tasks/preview?unit_id={world['grids'][0].id}").status_code == 302


# --- progress -----------------------------------------------------------------------


def test_progress_page_puts_needs_help_on_top_and_lists_who_is_not_reached(client, world):
    task = send(world["cadre"], world["village"])
    h1, h2, h3 = world["households"][:3]
    report(world["lead"], task, h1, "safe")
    report(world["lead"], task, h2, "needs_help", help_kind="medical", note="老人摔倒")
    login(client, world["cadre"])
    html = page(client, f"/tasks/{task.id}")
    # Totals and coverage.
    assert re.search(r'id="t-pct">16<', html)
    assert re.search(r'id="t-pending">10<', html)
    assert re.search(r'id="t-needs_help">1<', html)
    # The call for help comes first, with phones to tap.
    assert html.index("老人摔倒") < html.index("按单位")
    assert "医疗" in html and h2.code in html and h2.head_name in html
    assert f'href="tel:{h2.phone}"' in html and f'href="tel:{LEAD_PHONE}"' in html
    # Not reached yet: with the team lead's name and number.
    pending_part = html[html.index("尚未确认") :]
    assert h3.head_name in pending_part and LEAD_NAME in pending_part
    assert h1.head_name not in pending_part
    # Per-unit roll-up down to each team, with heat colours.
    for unit in [world["village"], *world["grids"], *world["teams"]]:
        assert unit.name in html
    assert "heat-0" in html
    # No-JS fallback and the JSON the page polls.
    assert 'http-equiv="refresh"' in html
    assert "/static/tasks." in html and f"/tasks/{task.id}/export.xlsx" in html


def test_progress_json_changes_as_reports_come_in(client, world):
    task = send(world["cadre"], world["village"])
    login(client, world["cadre"])
    data = client.get(f"/tasks/{task.id}/progress.json").get_json()
    assert (data["total"], data["pending"], data["safe"], data["pct"]) == (12, 12, 0, 0)
    assert data["eta_minutes"] is None
    for h in world["households"][:6]:
        report(world["cadre"], task, h, "safe")
    data = client.get(f"/tasks/{task.id}/progress.json").get_json()
    assert (data["pending"], data["safe"], data["pct"]) == (6, 6, 50)
    assert data["timeline"][-1]["n"] == 6 and data["timeline"][0] == {"t": 0, "n": 0}
    assert data["eta_minutes"] is not None and data["eta_minutes"] >= 1
    assert 'id="t-safe">6<' in data["html"]


def test_grid_member_sees_only_their_grid_of_a_village_task(client, world):
    task = send(world["cadre"], world["village"])
    other = world["households"][6]  # grid 2
    report(world["cadre"], task, other, "needs_help", help_kind="flooding")
    login(client, world["gm"])
    html = page(client, f"/tasks/{task.id}")
    assert re.search(r'id="t-pending">6<', html)
    assert other.head_name not in html and world["grids"][1].name not in html
    assert world["households"][0].head_name in html
    data = client.get(f"/tasks/{task.id}/progress.json").get_json()
    assert (data["total"], data["needs_help"]) == (6, 0)
    rows = list(
        csv.reader(io.StringIO(client.get(f"/tasks/{task.id}/export.csv").data.decode("utf-8-sig")))
    )
    assert len(rows) == 7


def test_others_tasks_are_not_found(client, world):
    task = send(world["cadre"], world["grids"][1])
    outsider_village = create_unit("village", "颜岐村", world["township"], code="YQ")
    outsider = create_user("cadre", outsider_village)
    for user in (world["gm"], world["lead"], outsider):
        c = client.application.test_client()
        login(c, user)
        for url in (
            f"/tasks/{task.id}",
            f"/tasks/{task.id}/progress.json",
            f"/tasks/{task.id}/export.csv",
            f"/tasks/{task.id}/export.xlsx",
            f"/tasks/{task.id}/team",
        ):
            assert c.get(url).status_code == 404, (user.username, url)
        assert c.post(f"/tasks/{task.id}/close").status_code == 404
        hh = world["households"][6]
        res = c.post(f"/tasks/{task.id}/households/{hh.id}/status", data={"status": "safe"})
        assert res.status_code == 404
        assert task.title not in c.get("/tasks/").get_data(as_text=True)
    assert db.session.get(Task, task.id).closed_at is None
    assert c.get("/tasks/999999").status_code == 404
    assert c.get(f"/tasks/{task.id}/export.pdf").status_code == 404


def test_close_freezes_the_task(client, world):
    task = send(world["cadre"], world["village"])
    report(world["lead"], task, world["households"][0], "safe")
    lead = client.application.test_client()
    login(lead, world["lead"])
    # A team lead may not close it.
    res = lead.post(f"/tasks/{task.id}/close")
    assert db.session.get(Task, task.id).closed_at is None
    login(client, world["cadre"])
    res = client.post(f"/tasks/{task.id}/close", follow_redirects=True)
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and "已关闭" in html and "结果已冻结" in html
    assert "关闭任务" not in html and 'http-equiv="refresh"' not in html
    db.session.expire_all()
    assert db.session.get(Task, task.id).closed_at is not None
    # No more reports: the lead's page shows no buttons and a post changes nothing.
    html = page(lead, f"/tasks/{task.id}/team")
    assert "已关闭" in html and 'value="safe"' not in html
    h = world["households"][1]
    lead.post(f"/tasks/{task.id}/households/{h.id}/status", data={"status": "safe"})
    assert task_member(task, h)["status"] == "pending"


# --- team lead's page -------------------------------------------------------------------


def test_team_lead_confirms_households_with_one_tap(client, world):
    task = send(world["cadre"], world["village"])
    login(client, world["lead"])
    # The task link takes a team lead to their households ("my team").
    res = client.get(f"/tasks/{task.id}")
    assert res.status_code == 302 and res.headers["Location"].endswith(f"/field#t{task.id}")
    html = page(client, f"/tasks/{task.id}/team")
    mine = world["households"][:3]
    for h in mine:
        assert h.head_name in html and f'href="tel:{h.phone}"' in html
    assert world["households"][3].head_name not in html
    h1, h2, h3 = mine
    res = client.post(f"/tasks/{task.id}/households/{h1.id}/status", data={"status": "safe"})
    assert res.status_code == 302 and res.headers["Location"].endswith(f"#h{h1.id}")
    res = client.post(
        f"/tasks/{task.id}/households/{h2.id}/status",
        data={"status": "needs_help", "help_kind": "evacuation", "note": "一楼进水"},
    )
    assert res.status_code == 302
    res = client.post(f"/tasks/{task.id}/households/{h3.id}/status", data={"status": "bogus"})
    assert res.status_code == 302
    html = page(client, f"/tasks/{task.id}/team")
    assert "请选择状态" in html
    statuses = {h: row["status"] for h, row in task_members(task).items()}
    assert statuses[h1.id] == "safe" and statuses[h2.id] == "needs_help"
    assert statuses[h3.id] == "pending"
    events = db.session.scalars(select(StatusEvent).where(StatusEvent.task_id == task.id)).all()
    assert {(e.household_id, e.via, e.actor_id) for e in events} >= {
        (h1.id, "team_lead", world["lead"].id),
        (h2.id, "team_lead", world["lead"].id),
    }
    help_event = next(e for e in events if e.household_id == h2.id)
    assert (help_event.help_kind, help_event.note) == ("evacuation", "一楼进水")
    # The neighbour team's household: not found, nothing recorded.
    neighbour = world["households"][3]
    res = client.post(f"/tasks/{task.id}/households/{neighbour.id}/status", data={"status": "safe"})
    assert res.status_code == 404
    assert statuses[neighbour.id] == "pending"


def test_grid_member_picks_a_team_then_confirms(client, world, monkeypatch):
    from village_grid.tasks import routes

    # More households than fit on one page → a team list first.
    monkeypatch.setattr(routes, "TEAM_VIEW_LIMIT", 4)
    task = send(world["cadre"], world["village"])
    login(client, world["gm"])
    html = page(client, f"/tasks/{task.id}/team")
    team_a = world["teams"][0]
    assert "选择小队" in html
    assert team_a.name in html and world["teams"][2].name not in html
    html = page(client, f"/tasks/{task.id}/team?team={team_a.id}")
    h = world["households"][0]
    assert h.head_name in html
    res = client.post(
        f"/tasks/{task.id}/households/{h.id}/status", data={"status": "not_home", "team": team_a.id}
    )
    assert res.status_code == 302
    event = db.session.scalars(select(StatusEvent).where(StatusEvent.household_id == h.id)).one()
    assert (event.status, event.via) == ("not_home", "cadre")
    assert client.get(f"/tasks/{task.id}/team?team={world['teams'][2].id}").status_code == 404


def test_survey_answers_from_the_team_lead_page(client, world):
    questions = [
        {"id": "q1", "type": "number", "text": "家里有几口人？"},
        {"id": "q2", "type": "choice", "text": "是否需要沙袋？", "choices": ["需要", "不需要"]},
    ]
    task = send(
        world["cadre"],
        world["village"],
        kind="survey",
        subkind="",
        title="调查",
        questions=questions,
    )
    login(client, world["lead"])
    html = page(client, f"/tasks/{task.id}/team")
    assert "家里有几口人？" in html and "不需要" in html
    h = world["households"][0]
    res = client.post(
        f"/tasks/{task.id}/households/{h.id}/status",
        data={"status": "safe", "a_q1": "4", "a_q2": "需要"},
    )
    assert res.status_code == 302
    a = db.session.scalars(
        select(Assignment).where(Assignment.task_id == task.id, Assignment.household_id == h.id)
    ).one()
    assert a.status == "safe" and a.answers and str(a.answers["q2"]) == "需要"


def test_notice_read_receipts(client, world):
    task = send(
        world["cadre"],
        world["village"],
        kind="notice",
        subkind="",
        title="寻找走失儿童",
        body="男孩，6岁",
    )
    login(client, world["lead"])
    html = page(client, f"/tasks/{task.id}/team")
    assert "男孩，6岁" in html and "我已阅读" in html
    assert "未读" in page(client, "/tasks/")
    res = client.post(f"/tasks/{task.id}/read", follow_redirects=True)
    assert "已读" in res.get_data(as_text=True)
    assert db.session.scalars(select(NoticeRead)).one().user_id == world["lead"].id
    cadre = client.application.test_client()
    login(cadre, world["cadre"])
    html = page(cadre, f"/tasks/{task.id}")
    assert re.search(r'id="t-read">1<', html)
    assert "林队长" in html  # has not read yet, with a number to call


# --- export -------------------------------------------------------------------------


def test_export_csv_and_xlsx(client, world):
    task = send(world["cadre"], world["village"])
    h1, h2 = world["households"][:2]
    report(world["lead"], task, h1, "safe")
    report(world["lead"], task, h2, "needs_help", help_kind="supplies", note="=缺饮用水")
    login(client, world["cadre"])
    res = client.get(f"/tasks/{task.id}/export.csv")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert res.headers["Content-Type"] == "text/csv; charset=utf-8"  # said once
    assert "attachment" in res.headers["Content-Disposition"]
    assert res.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(res.data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["户编码", "网格", "小队", "小队长", "小队长电话"]
    assert len(rows) == 13
    by_code = {r[0]: r for r in rows[1:]}
    r1, r2 = by_code[h1.code], by_code[h2.code]
    assert r1[1:5] == [world["grids"][0].name, world["teams"][0].name, LEAD_NAME, LEAD_PHONE]
    assert r1[5] == h1.head_name and r1[8] == "安全" and r1[12] == "小队长"
    assert r1[11]  # last update
    assert r2[8] == "需要帮助" and r2[9] == "物资" and r2[10] == "'=缺饮用水"
    assert by_code[world["households"][5].code][8] == "未确认"

    res = client.get(f"/tasks/{task.id}/export.xlsx")
    assert res.status_code == 200
    wb = load_workbook(io.BytesIO(res.data))
    ws = wb.active
    values = list(ws.iter_rows(values_only=True))
    assert values[0][0] == "防汛排查"
    assert values[1][0] == "户编码"
    assert len(values) == 14
    xrow = next(v for v in values if v[0] == h2.code)
    assert xrow[3] == LEAD_NAME and xrow[8] == "需要帮助"
    # The same rule as the registry export (village_grid/spreadsheets.py): text, not a formula.
    assert xrow[10] == "'=缺饮用水"
    assert not [c.coordinate for line in ws.iter_rows() for c in line if c.data_type == "f"]
    # The full per-unit table is the export's second sheet (pages and API go level by level).
    by_unit = list(wb["按单位"].iter_rows(values_only=True))
    assert by_unit[0][:3] == ("单元", "住户", "已确认")
    assert [r[0].strip("\u3000") for r in by_unit[1:4]] == [
        world["village"].name, world["grids"][0].name, world["teams"][0].name,
    ]  # fmt: skip
    assert by_unit[1][1:5] == (12, 2, 1, 1) and len(by_unit) == 1 + 1 + 2 + 4


def test_the_progress_page_goes_one_level_at_a_time(app, client, world):
    task = send(world["cadre"], world["village"])
    grid = world["grids"][0]
    login(client, world["cadre"])
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    # The village and its two grids, each a link down; no team yet.
    assert f'href="/tasks/{task.id}?unit={grid.id}"' in html
    assert world["teams"][0].name not in html.split('class="list rollup"')[1].split("</table>")[0]
    html = client.get(f"/tasks/{task.id}?unit={grid.id}").get_data(as_text=True)
    table = html.split('class="list rollup"')[1].split("</table>")[0]
    assert world["teams"][0].name in table and f'href="tel:{LEAD_PHONE}"' in table
    assert f'href="/tasks/{task.id}">{world["village"].name}</a> ›' in html  # the way back up
    # Only the level shown is computed: drilled to the grid, the figures are the grid's.
    in_grid = {t.id for t in world["teams"] if t.parent_id == grid.id}
    grid_households = sum(1 for h in world["households"] if h.team_id in in_grid)
    assert 0 < grid_households < len(world["households"])
    assert f'<dd id="t-pending">{grid_households}</dd>' in html
    village_html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert f'<dd id="t-pending">{len(world["households"])}</dd>' in village_html
    # A grid member asking for another grid gets the task as they may see it: their grid.
    gm = app.test_client()
    login(gm, world["gm"])
    html = gm.get(f"/tasks/{task.id}?unit={world['grids'][1].id}").get_data(as_text=True)
    table = html.split('class="list rollup"')[1].split("</table>")[0]
    assert grid.name in table and world["grids"][1].name not in table


# --- escalation queue ------------------------------------------------------------------


def test_escalation_queue_acknowledge_and_resolve(client, world):
    task = send(world["cadre"], world["village"])
    h = world["households"][1]
    report(world["lead"], task, h, "needs_help", help_kind="medical", note="高烧")
    login(client, world["cadre"])
    html = page(client, "/tasks/escalations")
    assert h.code in html and h.head_name in html and h.door_no in html
    assert f'href="tel:{h.phone}"' in html and f'href="tel:{LEAD_PHONE}"' in html
    assert LEAD_NAME in html and "高烧" in html and task.title in html and "医疗" in html
    case = db.session.scalars(
        select(Escalation).where(Escalation.household_id == h.id, Escalation.status == "open")
    ).first()
    assert case is not None
    shown = int(re.search(rf'id="e(\d+)">(?:(?!</li>).)*{h.code}', html, re.S).group(1))
    res = client.post(f"/tasks/escalations/{shown}/acknowledge")
    assert res.status_code == 302 and res.headers["Location"].endswith(f"#e{shown}")
    # Said in the case's card, where the page opens — not at the top, out of sight.
    card = page(client, "/tasks/escalations").split(f'id="e{shown}"')[1].split("</li>")[0]
    assert "flash-success" in card
    db.session.expire_all()
    assert db.session.get(Escalation, case.id).status == "acknowledged"
    # Resolve needs a note.
    res = client.post(
        f"/tasks/escalations/{case.id}/resolve", data={"note": " "}, follow_redirects=True
    )
    assert "请写明处理情况" in res.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Escalation, case.id).status == "acknowledged"
    res = client.post(f"/tasks/escalations/{case.id}/resolve", data={"note": "已送医"})
    assert res.status_code == 302
    db.session.expire_all()
    resolved = db.session.get(Escalation, case.id)
    assert resolved.status == "resolved" and resolved.resolution_note == "已送医"
    open_cases = db.session.scalars(
        select(Escalation).where(Escalation.household_id == h.id, Escalation.status != "resolved")
    ).all()
    html = page(client, "/tasks/escalations")
    if not open_cases:
        assert h.code not in html
    assert "已送医" in page(client, "/tasks/escalations?all=1")


def test_escalation_queue_is_scoped(client, world):
    task = send(world["cadre"], world["village"])
    other = world["households"][6]  # grid 2
    report(world["cadre"], task, other, "needs_help", help_kind="flooding")
    case = db.session.scalars(select(Escalation).where(Escalation.household_id == other.id)).first()
    assert case is not None
    login(client, world["gm"])
    html = page(client, "/tasks/escalations")
    assert other.code not in html
    assert client.post(f"/tasks/escalations/{case.id}/acknowledge").status_code == 404
    assert (
        client.post(f"/tasks/escalations/{case.id}/resolve", data={"note": "x"}).status_code == 404
    )
    assert client.post("/tasks/escalations/999999/acknowledge").status_code == 404
    lead = client.application.test_client()
    login(lead, world["lead"])
    assert lead.get("/tasks/escalations").status_code == 404
    db.session.expire_all()
    assert db.session.get(Escalation, case.id).status == "open"


# --- task list ----------------------------------------------------------------------------


def test_task_list_shows_open_and_closed_with_coverage(client, world):
    t1 = send(world["cadre"], world["village"], title="防汛排查一")
    t2 = send(world["cadre"], world["grids"][1], title="二网格排查")
    for h in world["households"][:3]:
        report(world["lead"], t1, h, "safe")
    close_task(db.session, world["cadre"], t2.id)
    db.session.commit()
    login(client, world["cadre"])
    html = page(client, "/tasks/")
    assert "防汛排查一" in html and "25%" in html and "3 / 12 户" in html
    assert html.index("二网格排查") > html.index("最近关闭")
    assert "新建任务" in html
    gm = client.application.test_client()
    login(gm, world["gm"])
    html = page(gm, "/tasks/")
    assert "防汛排查一" in html and "二网格排查" not in html
    lead = client.application.test_client()
    login(lead, world["lead"])
    html = page(lead, "/tasks/")
    assert "防汛排查一" in html and "新建任务" not in html


def test_pages_speak_english_on_request(client, world):
    task = send(world["cadre"], world["village"])
    login(client, world["cadre"])
    html = page(client, f"/tasks/{task.id}?lang=en")
    assert "Not reached yet" in html and "Close task" in html
    html = page(client, "/tasks/new")
    assert "Flood check" in html and "Will reach 12 households in 4 teams." in html


def test_the_queue_does_not_move_under_the_thumb(client, world):
    """我来处理 on one case leaves every case where it was: the next tap hits the case
    the eye was on."""
    task = send(world["cadre"], world["village"])
    for h in world["households"][1:4]:
        report(world["cadre"], task, h, "needs_help", help_kind="medical")
    login(client, world["cadre"])

    def order() -> list[str]:
        return re.findall(
            r'<li class="card case[^"]*" id="e(\d+)"', page(client, "/tasks/escalations")
        )

    before = order()
    assert len(before) == 3
    for shown in before:
        client.post(f"/tasks/escalations/{shown}/acknowledge")
        assert order() == before


def test_a_task_told_by_the_worker_says_so_until_it_is(client, world, monkeypatch):
    from village_grid.tasks import labels
    from village_grid.tasks.telling import tell_pending

    monkeypatch.setattr(labels, "TELL_INLINE_TEAMS", 0)
    task = send(world["cadre"], world["village"])
    login(client, world["cadre"])
    html = page(client, f"/tasks/{task.id}")
    assert f"正在通知 {task.teams_total} 个小队的负责人" in html
    tell_pending(db.session)
    db.session.commit()
    assert "正在通知" not in page(client, f"/tasks/{task.id}")
