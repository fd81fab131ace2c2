"""The station clerk's story, at 360 px in Chinese: 驿站小陈 of 侯官村's warm station
registers a newcomer (a mistyped ID number is refused with the reason, the right one
fills in the date of birth), places him into the one team that still has room, then
broadcasts a missing child to every team lead and sees who has read it: 0 of 2, then
张三 opens it on his phone, and the station's page names him."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import requires_chromium
from tests.factories import create_household, create_user, create_village, resident_id
from tests.stories.conftest import no_sideways_scroll, sign_in

pytestmark = [pytest.mark.browser, requires_chromium]

GOOD = resident_id("35012119900101123")
MISTYPED = GOOD[:10] + ("2" if GOOD[10] != "2" else "3") + GOOD[11:]  # one digit wrong


def test_the_clerk_registers_places_broadcasts_and_sees_who_read_it(live_server, phones):
    v = create_village(grids=1, teams=2, households=8, leads=2)
    full, with_room = v["teams"]
    for _ in range(2):
        create_household(full)  # 1-1小队 holds ten: no room
    clerk = create_user("station_staff", v["village"], name="驿站小陈", phone="13900000099")

    desk = phones()
    desk.on("dialog", lambda dialog: dialog.accept())  # "send to every team lead now?"
    sign_in(desk, live_server, clerk)
    desk.get_by_role("link", name="登记新到人员").first.click()
    expect(desk.locator("h1")).to_have_text("登记新到人员")

    # A digit mistyped: the form says what is wrong and keeps what was typed.
    desk.fill("input[name=id_number]", MISTYPED)
    desk.fill("input[name=name]", "王小明")
    desk.fill("input[name=phone]", "137 0013 7000")
    desk.get_by_role("button", name="登记", exact=True).click()
    expect(desk.locator(".flash-error")).to_be_visible()
    expect(desk.locator("#newcomer-form")).to_contain_text("校验码")
    expect(desk.locator("input[name=name]")).to_have_value("王小明")

    # Typed right: the page reads the date of birth while it is typed.
    desk.fill("input[name=id_number]", GOOD.lower())
    expect(desk.locator("#id-hint")).to_contain_text("1990-01-01")
    desk.get_by_role("button", name="登记", exact=True).click()
    desk.wait_for_url("**/placement")
    assert GOOD not in desk.content().upper()

    # Placed into the team with room: the full one is not offered.
    desk.fill("input[name=door_no]", "侯官路23号")
    desk.get_by_role("button", name="查看有空余的小队").click()
    offered = desk.locator("input[name=team_id]")
    expect(offered).to_have_count(1)
    expect(desk.locator("form", has=offered)).to_contain_text(with_room.name)
    expect(desk.locator("form", has=offered)).to_contain_text("8/10")
    desk.get_by_role("button", name="安置到这个小队").click()
    desk.wait_for_url("**#home")
    expect(desk.locator("#home")).to_contain_text(with_room.name)
    expect(desk.locator(".single-plate svg")).to_be_visible()  # the plate, on the spot
    no_sideways_scroll(desk)

    # The broadcast: a missing child, to every team lead of the village.
    desk.goto(f"{live_server}/station/broadcasts")
    desk.fill("input[name=title]", "寻找走失儿童")
    desk.fill("textarea[name=description]", "男孩，6岁，穿红色外套")
    desk.fill("input[name=last_seen]", "港口路菜市场，下午3点")
    desk.fill("input[name=phone]", "13900000088")
    desk.get_by_role("button", name="立即发送").click()
    desk.wait_for_url(f"{live_server}/station/broadcasts/*")
    reads = desk.locator(".reads")
    expect(reads).to_contain_text("2 人中已读 0 人")

    # 林队长 leads the team the newcomer joined: he sees the notice on top, and him.
    lead = v["leads"][1]
    phone = phones()
    sign_in(phone, live_server, lead)
    notice = phone.locator("#notices .notice").first
    expect(notice).to_contain_text("寻找走失儿童")
    expect(notice).to_contain_text("13900000088")
    expect(phone.locator("body")).to_contain_text("侯官路23号")
    notice.get_by_role("button").click()
    phone.wait_for_url(f"{live_server}/field/**")

    desk.reload()
    expect(reads).to_contain_text("2 人中已读 1 人")
    expect(reads).to_contain_text(lead.name)
    expect(reads).to_contain_text(v["leads"][0].phone)  # who has not, with a phone to call
    no_sideways_scroll(desk)
