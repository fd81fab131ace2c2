"""Headless Chromium at the migrant-worker station, on a 360-px phone-sized page.

- Station staff register a worker (the ID field says what the number gives while it
  is typed), place them in the team the station proposes, and the new household is
  on the team lead's "my team" page.
- Station staff broadcast a missing child; it is on top of the lead's page; the
  lead taps "I have read this" and the station's page shows the read receipt.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import requires_chromium
from tests.factories import PASSWORD, create_user, create_village, resident_id
from village_grid.extensions import db
from village_grid.models import Newcomer, Placement

pytestmark = [pytest.mark.browser, requires_chromium]

GOOD = resident_id("35012119900101123")


def sign_in(page, base: str, user) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login]", user.phone)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def lead_page(browser, base: str, lead):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, base, lead)
    page.wait_for_url(f"{base}/field*")
    return context, page


def test_register_place_and_the_lead_sees_the_household(live_server, page, browser):
    v = create_village(grids=1, teams=2, households=9, leads=2)
    staff = create_user("station_staff", v["village"], name="驿站小陈", phone="13900000099")
    page.set_default_timeout(10_000)
    sign_in(page, live_server, staff)
    page.wait_for_url(f"{live_server}/station/")
    page.click("a:has-text('登记新到人员')")
    page.fill("input[name=id_number]", GOOD.lower())
    expect(page.locator("#id-hint")).to_contain_text("1990-01-01")
    page.fill("input[name=name]", "王小明")
    page.fill("input[name=phone]", "137 0013 7000")
    page.click("button:has-text('登记')")
    page.wait_for_url(f"{live_server}/station/newcomers/*/placement")
    person = db.session.scalars(select(Newcomer)).one()
    assert person.home_county == "闽侯县"
    assert GOOD not in page.content().upper()
    page.fill("input[name=door_no]", "侯官路23号")
    page.click("button:has-text('查看有空余的小队')")
    expect(page.locator("input[name=team_id]")).to_have_count(2)
    page.click("button:has-text('安置到这个小队')")
    page.wait_for_url(f"{live_server}/station/newcomers/{person.id}#home")
    expect(page.locator(".single-plate svg")).to_be_visible()  # the plate, on the spot
    placed = db.session.scalars(select(Placement)).one()
    lead = v["leads"][[t.id for t in v["teams"]].index(placed.team_id)]

    context, lead_tab = lead_page(browser, live_server, lead)
    try:
        row = lead_tab.locator(f"text={placed.household.code}").first
        expect(row).to_be_visible()
        expect(lead_tab.locator("a[href='tel:13700137000']").first).to_be_visible()
        assert person.id_mask not in lead_tab.content()
    finally:
        context.close()


def test_a_broadcast_reaches_the_lead_and_the_read_shows_at_the_station(live_server, page, browser):
    v = create_village(grids=1, teams=2, households=2, leads=2)
    staff = create_user("station_staff", v["village"], name="驿站小陈", phone="13900000099")
    page.set_default_timeout(10_000)
    page.on("dialog", lambda dialog: dialog.accept())  # "send to every team lead now?"
    sign_in(page, live_server, staff)
    page.wait_for_url(f"{live_server}/station/")
    page.goto(f"{live_server}/station/broadcasts")
    page.fill("input[name=title]", "寻找走失儿童")
    page.fill("textarea[name=description]", "男孩，6岁，穿红色外套")
    page.fill("input[name=last_seen]", "港口路菜市场，下午3点")
    page.fill("input[name=phone]", "13900000088")
    page.click("button:has-text('立即发送')")
    page.wait_for_url(f"{live_server}/station/broadcasts/*")
    expect(page.locator(".reads")).to_contain_text("2 人中已读 0 人")

    context, lead_tab = lead_page(browser, live_server, v["leads"][0])
    try:
        notice = lead_tab.locator("#notices .notice").first
        expect(notice).to_contain_text("寻找走失儿童")
        expect(notice).to_contain_text("13900000088")
        notice.locator("button").click()
        lead_tab.wait_for_url(f"{live_server}/field/**")
    finally:
        context.close()

    page.reload()
    reads = page.locator(".reads")
    expect(reads).to_contain_text("2 人中已读 1 人")
    expect(reads).to_contain_text(v["leads"][0].name)
    expect(reads).to_contain_text(v["leads"][1].phone)  # who has not, with a phone
