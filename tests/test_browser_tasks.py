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
    assert "将通知 13 户、4 个小队" in preview.inner_text()
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
