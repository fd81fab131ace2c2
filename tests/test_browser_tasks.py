"""Headless Chromium: a village cadre dispatches a flood check from the phone-sized
dispatch page (preview before sending), then team leads confirm households
through the JSON API and the open progress page updates itself, without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import requires_chromium
from tests.factories import PASSWORD, api_headers, create_household, create_tree, create_user
from village_grid.extensions import db
from village_grid.models import Task

pytestmark = [pytest.mark.browser, requires_chromium]


def test_dispatch_a_sweep_and_watch_progress_update_itself(
    app, monkeypatch, live_server, page, client
):
    # Poll every second instead of ten so the test does not wait long.
    monkeypatch.setitem(app.config, "TASK_PROGRESS_REFRESH_SECONDS", 1)
    tree = create_tree(grids=2, teams=2, households=3)
    create_household(tree["teams"][3], flags=["elderly_alone"])
    cadre = create_user("cadre", tree["village"], phone="13900000001", name="陈书记")
    lead = create_user("team_lead", tree["teams"][0], phone="13900000003", name="李队长")
    page.set_default_timeout(10_000)

    page.goto(f"{live_server}/login")
    page.fill("input[name=login]", cadre.phone)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/units")

    page.goto(f"{live_server}/tasks/new")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("将通知 13 户、4 个小队")
    # The preview follows the filter without a reload.
    page.click("summary:has-text('只发给部分住户')")
    page.check("input[name=flags][value=elderly_alone]")
    expect(preview).to_contain_text("将通知 1 户、1 个小队")
    page.uncheck("input[name=flags][value=elderly_alone]")
    expect(preview).to_contain_text("将通知 13 户")
    # A kind button proposes its title; the flood check is the default.
    page.click("label.preset:has-text('防台排查')")
    assert page.input_value("#title") == "防台排查：逐户确认安全"
    page.click("label.preset:has-text('防汛排查')")
    assert page.input_value("#title") == "防汛排查：逐户确认安全"
    page.click("label.pill:has-text('1 小时')")
    page.click("#send")
    page.wait_for_url(f"{live_server}/tasks/*")

    task = db.session.scalars(select(Task)).one()
    assert (task.kind, task.subkind, task.households_total) == ("sweep", "flood", 13)
    assert page.locator("#t-pending").inner_text() == "13"
    assert "已发送给 13 户（4 个小队）" in page.content()
    page.evaluate("window.__stillTheSamePage = true")

    # Team lead reports through the API (as the offline app will).
    headers = api_headers(client, lead)
    h1, h2, h3 = tree["households"][:3]
    for h, body in [
        (h1, {"status": "safe"}),
        (h2, {"status": "safe"}),
        (h3, {"status": "needs_help", "kind": "medical", "note": "老人发烧"}),
    ]:
        res = client.post(
            f"/api/v1/tasks/{task.id}/households/{h.id}/status", json=body, headers=headers
        )
        assert res.status_code == 200, res.get_json()

    # Under the page's Content-Security-Policy: no eval, so Playwright's own polling.
    expect(page.locator("#t-pending")).to_have_text("10")
    assert page.locator("#t-safe").inner_text() == "2"
    assert page.locator("#t-needs_help").inner_text() == "1"
    assert page.locator("#t-pct").inner_text() == "23"
    help_box = page.locator(".needs-help")
    assert "老人发烧" in help_box.inner_text() and h3.head_name in help_box.inner_text()
    assert page.locator(f".needs-help a[href='tel:{h3.phone}']").count() == 1
    # Same page: it redrew itself, nobody reloaded it.
    assert page.evaluate("window.__stillTheSamePage") is True
    # The chart was drawn by the page's script.
    assert page.locator("#chart svg path.line").count() == 1


def test_the_cadre_drills_into_a_grid_and_keeps_their_place_while_it_refreshes(
    app, monkeypatch, live_server, page
):
    """At 360 px: from the village's progress the cadre taps 第1网格 and sees only that
    grid's households not reached, under their teams with each lead's name; while the
    page refreshes itself, the ☎ link they tabbed to keeps the focus and the page its
    scroll."""
    from tests.factories import create_report, create_task, create_village, lead_person

    monkeypatch.setitem(app.config, "TASK_PROGRESS_REFRESH_SECONDS", 1)
    world = create_village(grids=2, teams=2, households=5, leads=4)
    task = create_task(world["village"], world["cadre"], title="防台排查")
    grid1 = world["grids"][0]
    page.set_default_timeout(10_000)
    page.goto(f"{live_server}/login")
    page.fill("input[name=login]", world["cadre"].username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/units")

    page.goto(f"{live_server}/tasks/{task.id}")
    page.click(f"#by-unit a:has-text('{grid1.name}')")
    page.wait_for_url(f"{live_server}/tasks/{task.id}?unit={grid1.id}")
    pending = page.locator("#pending")
    shown = [int(i[3:]) for i in pending.locator("li").evaluate_all("els => els.map(e => e.id)")]
    assert shown == [h.id for h in world["households"][:10]]  # 第1网格's, in order
    teams = pending.locator(".pending-team")
    assert teams.count() == 2
    for i in range(2):
        head = teams.nth(i).locator(".pending-head").inner_text()
        assert world["teams"][i].name in head and lead_person(i)[0] in head
    assert "已确认 0 / 10 户" in page.locator("#totals").inner_text()

    # Tab to the second team's ☎ and scroll; reports come in; the page refreshes.
    call = teams.nth(1).locator("a.call")
    call.focus()
    page.evaluate("document.activeElement.__mine = true")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0  # the list is below the fold at 360 px
    create_report(world["lead"], task, world["households"][0], "safe")
    create_report(world["lead"], task, world["households"][1], "needs_help", help_kind="medical")
    expect(page.locator("#t-pending")).to_have_text("8")
    expect(page.locator("#needs-help")).to_contain_text(world["households"][1].head_name)
    assert page.locator(f"#ph-{world['households'][0].id}").count() == 0
    assert page.evaluate("document.activeElement.__mine === true")
    assert abs(page.evaluate("window.scrollY") - scrolled) < 400
