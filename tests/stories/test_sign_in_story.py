"""Stories of signing in without a password, walked in Chromium at 360 px in Chinese.

- 王芳, a grid member, opens her grid, prints its sign-in sheet: one card per lead with
  a QR code and an 8-character code.
- 张三, a team lead, opens his link on his phone, taps once and lands on his team; the
  same link opened again (a neighbour found the slip) is refused with a page naming
  whom to ask, 王芳 and her phone.
- His phone is lost: on his page 王芳 signs that phone out, and the phone asks to sign
  in again at its next page.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import requires_chromium
from tests.factories import create_village
from tests.stories.conftest import no_sideways_scroll, sign_in
from village_grid.extensions import db

pytestmark = [pytest.mark.browser, requires_chromium]


def test_a_grid_member_prints_the_sheet_of_her_grid(phones, live_server):
    v = create_village(grids=2, teams=2, leads=4)
    db.session.commit()
    page = phones()
    sign_in(page, live_server, v["gm"])
    page.goto(f"{live_server}/units/{v['grids'][0].id}")
    page.click("text=登录单")
    expect(page.locator("h1")).to_contain_text("登录单")
    expect(page.locator(".people-list")).to_contain_text("张三")
    expect(page.locator(".people-list")).not_to_contain_text("吴队长")  # grid 2
    page.click("button.primary")
    page.wait_for_load_state()
    slips = page.locator(".sign-in-slip")
    expect(slips).to_have_count(2)
    expect(slips.first.locator("svg")).to_be_visible()
    code = slips.first.locator(".slip-code").inner_text()
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4} [2-9A-HJKMNP-Z]{4}", code)
    no_sideways_scroll(page)


def test_a_lead_signs_in_from_a_link_the_link_is_refused_after_and_a_lost_phone_is_signed_out(
    phones, live_server
):
    v = create_village(grids=1, teams=2, leads=2)
    db.session.commit()
    # 王芳 makes 张三's link on his page
    gm = phones()
    sign_in(gm, live_server, v["gm"])
    gm.goto(f"{live_server}/people")
    gm.click("text=张三")
    gm.click("text=生成登录链接")
    gm.wait_for_load_state()
    link = gm.locator("input.link-copy").input_value()
    assert "/in/" in link

    # 张三 opens it on his phone: one tap, and he is on his team
    lead = phones()
    lead.goto(link)
    expect(lead.locator("h1")).to_contain_text("张三")
    lead.click("button.primary")
    lead.wait_for_load_state()
    expect(lead.locator("h1")).to_contain_text("1-1小队")
    no_sideways_scroll(lead)

    # a neighbour finds the slip: the link is refused, and the page says whom to ask
    other = phones()
    other.goto(link)
    expect(other.locator("h1")).to_contain_text("这个链接不能登录")
    expect(other.locator(".refused")).to_contain_text("已经用过")
    expect(other.locator(".helpers")).to_contain_text("王芳")
    expect(other.locator(".helpers a.tel")).to_have_attribute("href", f"tel:{v['gm'].phone}")
    no_sideways_scroll(other)

    # his phone is lost: 王芳 signs it out from his page
    gm.goto(f"{live_server}/people/{v['lead'].id}")
    expect(gm.locator("#logins")).to_contain_text("登录链接")
    gm.once("dialog", lambda d: d.accept())
    gm.locator("#logins form button[name=login_id]").first.click()
    gm.wait_for_load_state()
    expect(gm.locator(".flash-success")).to_contain_text("已退出")
    lead.reload()
    lead.wait_for_load_state()
    assert "/login" in lead.url
