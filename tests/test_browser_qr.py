"""Headless Chromium: scan a door plate (decode its PNG with zbar), open the URL it
carries, call for help, and find the case on the village cadre's escalation queue."""

from __future__ import annotations

import io

import pytest
from flask import url_for
from PIL import Image
from playwright.sync_api import expect
from pyzbar.pyzbar import decode

from tests.conftest import requires_chromium
from tests.factories import PASSWORD, create_task, create_tree, create_user, login
from village_grid.extensions import db
from village_grid.models import StatusEvent
from village_grid.tasks.case_queue import list_escalations

pytestmark = [pytest.mark.browser, requires_chromium]


def test_scan_plate_call_for_help_reaches_the_cadre(app, live_server, browser):
    tree = create_tree(grids=1, teams=1, households=2)
    h = tree["households"][0]
    cadre = create_user("cadre", tree["village"], name="陈书记")
    create_user("team_lead", tree["teams"][0], name="林阿伯", phone="13700001111")
    task = create_task(tree["village"], cadre, subkind="typhoon", title="台风格美排查")

    staff = app.test_client()
    login(staff, cadre)
    png = staff.get(f"/api/v1/households/{h.id}/qr.png").data
    found = decode(Image.open(io.BytesIO(png)))
    url = found[0].data.decode()
    assert url == f"{live_server}/h/{h.qr_token}"

    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN").new_page()
    phone.set_default_timeout(10_000)
    phone.goto(url)
    assert h.code in phone.content() and "台风格美排查" in phone.content()
    assert h.head_name not in phone.content()
    phone.get_by_text("我家需要帮助").click()
    phone.get_by_label("进水了").check()
    phone.locator("textarea[name=note]").fill("一楼进水，老人在家")
    phone.get_by_role("button", name="发出求助").click()
    phone.wait_for_url(f"{url}#task-{task.id}")
    # Said where the page opens: in the task's card, on the screen.
    said = phone.locator(f"#task-{task.id} .flash-success")
    assert "求助已发出" in said.inner_text()
    expect(said).to_be_in_viewport()

    event = db.session.query(StatusEvent).one()
    assert (event.via, event.status, event.help_kind) == ("household_qr", "needs_help", "flooding")
    assert event.client_addr == "127.0.0.1"
    cases = list_escalations(db.session, cadre)
    assert [(c.household_id, c.reason) for c in cases] == [(h.id, "needs_help")]

    # And on the cadre's own escalation page, in the browser.
    if "tasks.escalations" in app.view_functions:
        desk = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="zh-CN"
        ).new_page()
        desk.set_default_timeout(10_000)
        desk.goto(f"{live_server}/login")
        desk.fill("input[name=login]", cadre.username)
        desk.fill("input[name=password]", PASSWORD)
        desk.locator("form button[type=submit]").first.click()
        with app.test_request_context():
            queue = url_for("tasks.escalations")
        desk.goto(f"{live_server}{queue}")
        assert h.code in desk.content()
