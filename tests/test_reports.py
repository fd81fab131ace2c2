"""A task's after-action report: the page, the PDF (page and API), its numbers against the
progress page and the export, who may read which part, and the message when a task closes."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import (
    api_headers,
    create_household,
    create_task,
    create_unit,
    create_user,
    create_village,
    login,
)
from tests.pdftools import pdf_fonts, pdf_text, requires_poppler
from tests.warnings_helpers import cap_file, deployment, post_cap
from village_grid.extensions import db
from village_grid.files import service as files
from village_grid.models import Escalation, FileJob, OutboxMessage, Task, WarningDraft
from village_grid.models.base import utcnow
from village_grid.reports.closing import tell_due
from village_grid.reports.making import make_pdf
from village_grid.reports.queries import report
from village_grid.tasks.case_queue import resolve_escalation
from village_grid.tasks.dispatch import close_task
from village_grid.tasks.escalation import run_escalations
from village_grid.tasks.statuses import mark_notice_read, record_status

TITLE = "防汛排查：台风格美"
HELP_NOTE = "老人被困二楼"
RESOLVED_NOTE = "抽水泵已送到"


def answer(actor, task, household, status, at, **kw):
    record_status(
        db.session, actor, task_id=task.id, household_id=household.id, status=status, now=at, **kw
    )
    db.session.commit()


@pytest.fixture
def night():
    """A village (2 grids × 2 teams × 3 households, leads on teams 1-1 and 1-2, a grid
    member on each grid, a township cadre) after a flood check sent two hours ago with a
    one-hour deadline: answers by the lead, the door plate, a phone's sync and the cadre;
    a call for help closed by the cadre; teams not reached by the deadline climbing; and
    an earlier flood check of the village."""
    v = create_village(grids=2, teams=2, households=3, leads=2, township_cadre=True)
    hh = v["households"]
    for i, h in enumerate(hh):
        h.door_no = f"{i + 1}号"
    db.session.commit()
    before = utcnow() - timedelta(days=3)
    earlier = create_task(v["village"], v["cadre"], subkind="flood", title="上次防汛", now=before)
    for i, h in enumerate(hh):
        answer(v["cadre"], earlier, h, "safe", before + timedelta(minutes=10 + i))
    close_task(db.session, v["cadre"], earlier.id, now=before + timedelta(hours=1))
    db.session.commit()

    start = utcnow() - timedelta(hours=2)
    task = create_task(v["village"], v["cadre"], subkind="flood", title=TITLE, now=start)
    m = lambda n: start + timedelta(minutes=n)  # noqa: E731
    answer(v["lead"], task, hh[0], "safe", m(5))
    answer(v["lead"], task, hh[1], "safe", m(8))
    answer(None, task, hh[2], "needs_help", m(12), help_kind="medical", note=HELP_NOTE)
    answer(v["lead_b"], task, hh[3], "safe", m(20), client_op_id="op-1")
    answer(v["cadre"], task, hh[4], "not_home", m(30))
    answer(v["gm_b"], task, hh[6], "safe", m(25))
    run_escalations(db.session, now=m(61))  # teams still pending at the deadline
    db.session.commit()
    run_escalations(db.session, now=m(95))  # nobody took them: they climb
    db.session.commit()
    help_case = db.session.scalars(
        select(Escalation).where(Escalation.reason == "needs_help").order_by(Escalation.level)
    ).first()
    resolve_escalation(db.session, v["cadre"], help_case.id, RESOLVED_NOTE)
    db.session.commit()
    close_task(db.session, v["cadre"], task.id)
    db.session.commit()
    return {**v, "task": task, "earlier": earlier}


SECTIONS = (
    "sent",
    "coverage",
    "units",
    "teams",
    "unreached",
    "help",
    "escalations",
    "messages",
    "earlier",
)


def test_the_report_page_shows_each_section(client, night):
    task, v = night["task"], night
    login(client, v["cadre"])
    res = client.get(f"/tasks/{task.id}/report")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    for section in SECTIONS:
        assert f'id="{section}"' in html, section
    assert TITLE in html and v["village"].name in html and "李书记" in html
    assert html.count("<svg") == 1 + 2 + 1  # the village, its two grids, the earlier tasks
    assert 'stroke="#c62828"' in html  # the deadline marked
    # Households never reached, by door number; the call for help and how it closed.
    unreached = html.split('id="unreached"')[1].split("</section>")[0]
    never = [v["households"][5], *v["households"][7:]]
    assert set(re.findall(r"\d+号", unreached)) == {h.door_no for h in never}
    assert HELP_NOTE in html and RESOLVED_NOTE in html
    assert "未按时确认" in html or "截止时仍未确认" in html or "overdue" not in html
    assert "周镇长" in html  # the teams not reached climbed to the township
    assert "门牌二维码" in html and "离线同步" in html  # how the answers came
    assert "上次防汛" not in html  # earlier tasks are compared, by date
    english = client.get(f"/tasks/{task.id}/report?lang=en").get_data(as_text=True)
    assert "After-action report" in english and "Calls for help" in english
    # A button on the progress page of the closed task.
    assert f'href="/tasks/{task.id}/report"' in client.get(f"/tasks/{task.id}").get_data(
        as_text=True
    )


@requires_poppler
def test_the_pdf_embeds_its_fonts_and_reads_back(client, night):
    task, v = night["task"], night
    login(client, v["cadre"])
    res = client.get(f"/tasks/{task.id}/report.pdf")
    assert res.status_code == 200 and res.mimetype == "application/pdf"
    fonts = pdf_fonts(res.data)
    assert fonts and all(f["emb"] and f["sub"] for f in fonts), fonts
    text = pdf_text(res.data)
    assert TITLE in text and v["village"].name in text
    flat = "".join(pdf_text(res.data, layout=False).split())  # a cell's lines together
    assert "呼救" in text and HELP_NOTE in flat and RESOLVED_NOTE in flat
    assert "6号" in text  # a household never reached
    for heading in (
        "任务概况",
        "确认进度",
        "分片对比",
        "小队",
        "始终未确认的住户",
        "呼救",
        "上报事项",
        "消息",
        "与此前同类任务对比",
    ):
        assert heading in text, heading
    api = client.get(f"/api/v1/tasks/{task.id}/report.pdf", headers=api_headers(client, v["cadre"]))
    assert api.status_code == 200 and api.data.startswith(b"%PDF")


@requires_poppler
def test_a_large_units_report_is_made_by_the_worker(client, app, night, monkeypatch, tmp_path):
    task, v = night["task"], night
    monkeypatch.setitem(app.config, "JOBS_QUEUE", "sqlite")
    monkeypatch.setitem(app.config, "FILES_JOB_HOUSEHOLDS", 2)
    monkeypatch.setitem(app.config, "FILES_DIR", str(tmp_path / "files"))
    login(client, v["cadre"])
    res = client.get(f"/tasks/{task.id}/report.pdf")
    assert res.status_code == 302 and "/files/" in res.headers["Location"]
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "正在生成" in page
    job = db.session.scalar(select(FileJob))
    assert job.kind == "task_report" and job.paths == [v["village"].path]
    api = client.get(f"/api/v1/tasks/{task.id}/report.pdf", headers=api_headers(client, v["cadre"]))
    assert api.status_code == 202 and api.headers["Location"]
    assert files.run(db.session, job.id) == "done"
    got = client.get(f"/files/{job.id}/download")
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    assert TITLE in pdf_text(got.data) and v["village"].name in pdf_text(got.data)


@requires_poppler
def test_a_job_makes_the_whole_report_without_a_request(app, night):
    """The maker a worker's job calls: no request, no reader (the whole unit)."""
    task = night["task"]
    pdf = make_pdf(db.session, None, task)
    text = pdf_text(pdf)
    assert TITLE in text and night["grids"][1].name in text
    assert all(f["emb"] for f in pdf_fonts(pdf))


def _export_counts(client, task_id: int) -> Counter:
    res = client.get(f"/tasks/{task_id}/export.csv")
    rows = list(csv.DictReader(io.StringIO(res.data.decode("utf-8-sig"))))
    return Counter(r["状态"] for r in rows)


@pytest.mark.parametrize("who", ["cadre", "gm"])
def test_the_numbers_agree_with_the_progress_page_and_the_export(client, night, who):
    task, person = night["task"], night[who]
    login(client, person)
    live = client.get(f"/tasks/{task.id}/progress.json").get_json()
    data = report(db.session, person, task)
    totals = data["totals"]
    for key in ("total", "pending", "safe", "needs_help", "not_home", "unreachable"):
        assert totals[key] == live[key], key
    assert totals["covered"] == live["done"] and totals["percent"] == live["pct"]
    exported = _export_counts(client, task.id)
    assert sum(exported.values()) == totals["total"]
    assert exported["未确认"] == totals["pending"] == data["unreached"]["total"]
    assert exported["需要帮助"] == totals["needs_help"]
    html = client.get(f"/tasks/{task.id}/report").get_data(as_text=True)
    assert f"{totals['total']} 户中已确认 {totals['covered']} 户（{totals['percent']}%）" in html
    # Per grid, the table's households and reached are the progress level's.
    level = {c["id"]: c for c in live.get("units", [])}
    for row in data["coverage"]["children"]:
        assert row["total"] == row["covered"] + row["pending"]
        assert row["reached"] == row["covered"]
        if row["id"] in level:
            assert row["total"] == level[row["id"]]["total"]


def test_a_grid_member_reads_only_their_grid_and_others_find_nothing(client, night):
    task, v = night["task"], night
    gm = client.application.test_client()
    login(gm, v["gm"])
    html = gm.get(f"/tasks/{task.id}/report").get_data(as_text=True)
    assert v["grids"][0].name in html and v["grids"][1].name not in html
    assert gm.get(f"/tasks/{task.id}/report?unit={v['grids'][1].id}").status_code == 404
    login(client, v["cadre"])
    grid = client.get(f"/tasks/{task.id}/report?unit={v['grids'][1].id}")
    assert grid.status_code == 200 and HELP_NOTE not in grid.get_data(as_text=True)
    assert client.get(f"/tasks/{task.id}/report?unit=abc").status_code == 422
    other = create_unit("village", "颜岐村", v["township"], code="YQ")
    assert client.get(f"/tasks/{task.id}/report?unit={other.id}").status_code == 404
    outsider = client.application.test_client()
    login(outsider, create_user("cadre", other))
    assert outsider.get(f"/tasks/{task.id}/report").status_code == 404
    assert outsider.get(f"/tasks/{task.id}/report.pdf").status_code == 404


def test_closing_a_task_tells_its_sender_where_the_report_is(night):
    task, v = night["task"], night
    msg = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.event_key == f"report:{task.id}:closed")
    ).one()
    assert msg.recipient_id == v["cadre"].id
    assert f"http://vg.test/tasks/{task.id}/report" in msg.body and TITLE in msg.body
    # A task past its deadline, still open: its sender gets the link once, from the tick.
    late = create_task(
        v["village"], v["cadre"], title="暴雨排查", now=utcnow() - timedelta(hours=2)
    )
    assert tell_due(db.session, utcnow()) == 1
    assert tell_due(db.session, utcnow()) == 0
    db.session.commit()
    assert db.session.scalar(
        select(OutboxMessage.body).where(OutboxMessage.event_key == f"report:{late.id}:deadline")
    )


def test_a_notice_reports_its_read_receipts(client):
    v = create_village(grids=1, teams=2, households=2, leads=2)
    notice = create_task(v["village"], v["cadre"], kind="notice", title="寻找走失儿童")
    mark_notice_read(db.session, v["lead"], notice.id)
    db.session.commit()
    login(client, v["cadre"])
    html = client.get(f"/tasks/{notice.id}/report").get_data(as_text=True)
    assert 'id="reads"' in html and 'id="coverage"' not in html
    assert "张三" in html and "林队长" in html
    assert db.session.get(Task, notice.id).closed_at is None


def test_messages_are_counted_sent_failed_and_retried(client, night):
    task, earlier = night["task"], night["earlier"]
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    # The earlier task's: its dispatch and the report's message when it closed.
    earlier_keys = (f"dispatch:{earlier.id}:", f"report:{earlier.id}:")
    mine = [r for r in rows if not r.event_key.startswith(earlier_keys)]
    assert len(mine) < len(rows)
    sent, retried, failed = mine[0], mine[1], mine[2]
    sent.status, retried.status, retried.attempts = "sent", "sent", 3
    failed.status, failed.attempts = "failed", 5
    db.session.commit()
    counts = report(db.session, night["cadre"], task)["messages"]
    assert counts == {
        "total": len(mine),
        "sent": 2,
        "retried": 1,
        "failed": 1,
        "pending": len(mine) - 3,
    }
    login(client, night["cadre"])
    html = client.get(f"/tasks/{task.id}/report").get_data(as_text=True)
    assert f"消息 {len(mine)} 条：已发送 2 条（其中重试后发送 1 条），发送失败 1 条" in html


def test_a_townships_report_puts_its_villages_side_by_side(client):
    v = create_village(grids=1, teams=1, households=3, township_cadre=True)
    other = create_unit("village", "颜岐村", v["township"], code="YQ")
    team = create_unit("team", "1-1小队", create_unit("grid", "第1网格", other))
    far = [create_household(team) for _ in range(2)]
    start = utcnow() - timedelta(hours=1)
    task = create_task(
        v["township"], v["township_cadre"], subkind="flood", title="全镇防汛", now=start
    )
    answer(v["township_cadre"], task, far[0], "safe", start + timedelta(minutes=7))
    login(client, v["township_cadre"])
    html = client.get(f"/tasks/{task.id}/report").get_data(as_text=True)
    units = html.split('id="units"')[1].split("</section>")[0]
    assert "分片对比 · 村" in units
    assert units.index("侯官村") < units.index("颜岐村")  # in tree order, each a row
    assert ">1 (50%)<" in units and ">0 (0%)<" in units
    assert html.count("<svg") == 1 + 2  # the township and each village
    assert "7 分钟" in units  # 颜岐村 reached half its households in 7 minutes


def test_a_sweep_drafted_from_a_warning_names_it_and_a_draft_has_no_report(client):
    d = deployment()
    post_cap(client, api_headers(client, d["admin"]), cap_file("typhoon_county.xml"))
    task_id = db.session.scalar(
        select(WarningDraft.task_id).where(WarningDraft.unit_id == d["houguan"]["village"].id)
    )
    cadre = client.application.test_client()
    login(cadre, d["houguan"]["cadre"])
    assert cadre.get(f"/tasks/{task_id}/report").status_code == 404
    headers = api_headers(client, d["houguan"]["cadre"])
    assert client.post(f"/api/v1/tasks/{task_id}/send", headers=headers).status_code == 201
    html = cadre.get(f"/tasks/{task_id}/report").get_data(as_text=True)
    sent = html.split('id="sent"')[1].split("</section>")[0]
    assert "来自预警" in sent and "闽侯县气象台发布台风橙色预警" in sent


def test_long_lists_say_how_much_they_leave_out(client, night, monkeypatch):
    from village_grid.reports import casework, teams

    monkeypatch.setattr(teams, "TEAMS_LISTED", 2)
    monkeypatch.setattr(casework, "CASES_LISTED", 0)
    login(client, night["cadre"])
    html = client.get(f"/tasks/{night['task'].id}/report").get_data(as_text=True)
    assert "此处列出 4 个小队中的前 2 个" in html
    # Calls for help and escalations, counted whole by the database, listed up to the cap.
    assert html.count("此处列出前 0 起") == 2
    assert "呼救 1 起，仍未处理 0 起" in html and "逐级上报。" in html


def test_never_reached_households_are_listed_for_the_first_teams_only(client, night, monkeypatch):
    from village_grid.reports import teams

    # Six never reached: one in team 1-2, two in 2-1, three in 2-2.
    monkeypatch.setattr(teams, "UNREACHED_TEAMS_LISTED", 1)
    login(client, night["cadre"])
    html = client.get(f"/tasks/{night['task'].id}/report").get_data(as_text=True)
    unreached = html.split('id="unreached"')[1].split("</section>")[0]
    assert "3 个小队共 6 户始终未确认" in unreached
    assert "此处列出前 1 个小队的 1 户，其余 5 户见导出表" in unreached
    assert set(re.findall(r"\d+号", unreached)) == {"6号"}
    data = report(db.session, night["cadre"], night["task"])["unreached"]
    assert (data["total"], data["teams_total"], data["listed"]) == (6, 3, 1)
    monkeypatch.setattr(teams, "UNREACHED_TEAMS_LISTED", 100)
    monkeypatch.setattr(teams, "UNREACHED_LISTED", 2)
    data = report(db.session, night["cadre"], night["task"])["unreached"]
    assert data["listed"] == 2 and [len(t["households"]) for t in data["teams"]] == [1, 1]


@requires_poppler
def test_the_report_is_made_without_the_tree_graph(app, night, client, monkeypatch):
    """A report of a million households is made in a process that never builds the
    district's tree graph: names, ancestors, children and subtrees come from the tables."""
    from village_grid.hierarchy.queries import labels_of
    from village_grid.tasks import graph, routing

    v = night
    ids = [u.id for u in (v["village"], *v["grids"], *v["teams"])]
    g = graph.get_graph(db.session)
    assert labels_of(db.session, ids) == {i: graph.team_label(g, i) for i in ids}
    before = report(db.session, None, night["task"])
    notice = create_task(v["village"], v["cadre"], kind="notice", title="寻找走失儿童")
    mark_notice_read(db.session, v["lead"], notice.id)
    db.session.commit()
    graph.forget_graph()

    def no_graph(*_a, **_k):
        raise AssertionError("the report built the tree graph")

    monkeypatch.setattr(routing, "build_graph", no_graph)
    data = report(db.session, None, night["task"])
    assert data["totals"] == before["totals"] and data["coverage"] == before["coverage"]
    assert TITLE in pdf_text(make_pdf(db.session, None, night["task"]))
    assert report(db.session, v["cadre"], notice)["reads"]["read"] == 1


def test_coverage_is_counted_per_minute_by_the_database(app):
    """The database counts reached times per minute after dispatch, rounded up as the
    report's minutes are: at exactly 5 minutes is minute 5, a millisecond later minute 6."""
    from village_grid.reports.coverage import minutes_to, reached_by_minute

    v = create_village(grids=1, teams=1, households=3)
    start = utcnow() - timedelta(hours=1)
    task = create_task(v["village"], v["cadre"], title="分钟", now=start)
    hh = v["households"]
    answer(v["cadre"], task, hh[0], "safe", start + timedelta(minutes=5))
    answer(v["cadre"], task, hh[1], "safe", start + timedelta(minutes=5, milliseconds=1))
    answer(v["cadre"], task, hh[2], "not_home", start + timedelta(seconds=20))
    minutes = reached_by_minute(db.session, task, None)
    assert minutes == [(1, 1), (5, 1), (6, 1)]
    assert [minutes_to(minutes, 3, p) for p in (50, 90, 100)] == [5, 6, 6]
    until = reached_by_minute(db.session, task, None, until=start + timedelta(minutes=5))
    assert until == [(1, 1), (5, 1)]
