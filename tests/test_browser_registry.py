"""Headless Chromium: a village cadre logs in (Chinese UI), adds a household to
a team through the form, and sees it on the team page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import requires_chromium
from tests.factories import PASSWORD, create_tree, create_user
from village_grid.extensions import db
from village_grid.models import Household

pytestmark = [pytest.mark.browser, requires_chromium]


def test_cadre_adds_a_household_in_the_browser(live_server, page):
    tree = create_tree(grids=1, teams=2, households=2)
    team = tree["teams"][0]
    cadre = create_user("cadre", tree["village"], phone="13900000001", name="陈书记")
    page.set_default_timeout(10_000)

    page.goto(f"{live_server}/login")
    assert page.locator("h1").inner_text() == "登录"
    page.fill("input[name=login]", cadre.phone)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/units")
    assert "侯官村" in page.content()

    page.click(f"a[href='/units/{team.id}']")
    page.wait_for_url(f"{live_server}/units/{team.id}")
    assert "2/10" in page.inner_text("h1")
    page.click("text=新增住户")
    page.wait_for_url(f"{live_server}/units/{team.id}/households/new")

    page.fill("input[name=head_name]", "郑美华")
    page.fill("input[name=phone]", "136 0000 1234")
    page.fill("input[name=door_no]", "侯官路88号")
    page.check("text=独居老人")
    page.check("text=低洼易涝")
    page.click("summary:has-text('成员')")  # the optional members fold open
    page.fill("input[name='members-0-name']", "郑小宝")
    page.select_option("select[name='members-0-relation']", "grandchild")
    page.click("button:has-text('保存')")

    page.wait_for_url(f"{live_server}/units/{team.id}")
    assert "已新增住户" in page.inner_text(".flash-success")
    row = page.locator("ul.households li", has_text="郑美华")
    assert row.count() == 1
    assert "侯官路88号" in row.inner_text() and "独居老人" in row.inner_text()
    assert row.locator("a[href='tel:13600001234']").count() == 1
    assert "3/10" in page.inner_text("h1")

    household = db.session.scalars(select(Household).where(Household.head_name == "郑美华")).one()
    assert household.team_id == team.id
    assert household.flags == ["elderly_alone", "flood_prone"]
    assert [m.name for m in household.members] == ["郑小宝"]
