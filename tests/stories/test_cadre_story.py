"""The village cadre's story, at 360 px in Chinese: at 18:00 李书记 sends a flood check
to the whole of 侯官村 from the phone form (a one-hour deadline). He watches the page
climb by itself as the leads confirm, then drills into 第1网格: the headline, the
counts, the households still unconfirmed (by team, each team with its lead and a
number to call) and the export are 第1网格's only. The trail takes him back to the
village."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import requires_chromium
from tests.factories import create_household, create_report, create_village
from tests.stories.conftest import no_sideways_scroll, sign_in
from village_grid.extensions import db
from village_grid.models import Task

pytestmark = [pytest.mark.browser, requires_chromium]


def test_the_cadre_dispatches_from_the_phone_and_drills_into_a_grid(
    app, monkeypatch, live_server, phones
):
    # The page asks for news every second instead of ten: the test does not wait long.
    monkeypatch.setitem(app.config, "TASK_PROGRESS_REFRESH_SECONDS", 1)
    v = create_village(grids=2, teams=2, households=0, leads=4)
    names = iter(f"{surname}大伯" for surname in "陈林黄郑吴周徐孙胡朱高何")  # none in another
    v["households"] = [create_household(t, next(names)) for t in v["teams"] for _ in range(3)]
    grid1, grid2 = v["grids"]
    team11, team12, team21, team22 = v["teams"]
    zhang, lin, wu, _ = v["leads"]
    by_team = {t.id: [h for h in v["households"] if h.team_id == t.id] for t in v["teams"]}
    ours = by_team[team11.id] + by_team[team12.id]  # 第1网格's households
    theirs = by_team[team21.id] + by_team[team22.id]  # 第2网格's

    # 18:00, on the phone: the form, the flood check, one hour, send.
    page = phones()
    sign_in(page, live_server, v["cadre"])
    page.get_by_role("navigation").get_by_role("link", name="任务").click()
    page.get_by_role("link", name="新建任务").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("将通知 12 户、4 个小队")
    page.locator("label.preset", has_text="防汛排查").click()
    page.locator("label.pill", has_text="1 小时").click()
    no_sideways_scroll(page)
    page.locator("#send").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("body")).to_contain_text("已发送给 12 户（4 个小队）")
    expect(page.locator("h1")).to_contain_text("防汛排查")
    task = db.session.scalars(select(Task)).one()

    # The leads confirm; the open page follows without a reload.
    create_report(zhang, task, by_team[team11.id][0], "safe")
    create_report(
        zhang, task, by_team[team11.id][1], "needs_help", help_kind="medical", note="老人发烧"
    )
    create_report(wu, task, by_team[team21.id][0], "safe")
    expect(page.locator("body")).to_contain_text("已确认 3 / 12 户")
    expect(page.locator(".needs-help")).to_contain_text("老人发烧")

    # 第1网格: its own headline, its own unconfirmed households with their leads.
    page.locator("table").get_by_role("link", name=grid1.name).click()
    page.wait_for_url(f"**/tasks/{task.id}?unit={grid1.id}")
    expect(page.locator("body")).to_contain_text("已确认 2 / 6 户")
    pending = page.locator("section", has=page.get_by_role("heading", name=re.compile("尚未确认")))
    expect(pending.get_by_role("heading", name=re.compile("尚未确认"))).to_contain_text("4")
    for h in by_team[team11.id][2:] + by_team[team12.id]:
        expect(pending).to_contain_text(h.head_name)
    listed = pending.inner_text()
    for h in by_team[team11.id][:2] + theirs:
        assert h.head_name not in listed
    # By team, in the teams' order, each with its lead and a number to call.
    assert listed.index(team11.name) < listed.index(team12.name)
    for lead in (zhang, lin):
        expect(pending).to_contain_text(lead.name)
        expect(pending.locator(f"a[href='tel:{lead.phone}']").first).to_be_visible()
    assert wu.name not in listed
    assert "导出" not in listed  # all of them, paged, not "see the export"
    no_sideways_scroll(page)

    # The export from here is 第1网格's.
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    with open(download.value.path(), encoding="utf-8-sig") as f:
        exported = f.read()
    assert all(h.head_name in exported for h in ours)
    assert not any(h.head_name in exported for h in theirs)

    # The trail goes back up to the village.
    page.get_by_role("link", name=v["village"].name).first.click()
    page.wait_for_url(f"**/tasks/{task.id}")
    expect(page.locator("body")).to_contain_text("已确认 3 / 12 户")
    assert grid2.name in page.locator("table").inner_text()
