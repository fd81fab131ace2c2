"""The team lead's story, at 360 px in Chinese: 张三 opens his page on his phone when the
flood check arrives. By the house he has signal: one household is safe, one needs a
doctor. Down by the river he has none: he taps two more, the phone keeps them and says
so; the phone restarts the page (still no signal) and it still shows his taps and that
they wait. Back in signal they go out at once, once each, and the page says how many."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.conftest import requires_chromium
from tests.factories import create_task, create_village
from tests.stories.conftest import no_sideways_scroll, sign_in
from tests.test_browser_field import wait_for_offline_copy
from village_grid.extensions import db
from village_grid.models import StatusEvent


def reports() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(StatusEvent))


pytestmark = [pytest.mark.browser, requires_chromium]


def test_the_lead_answers_online_then_offline_and_each_tap_is_sent_once(live_server, phones):
    v = create_village(grids=1, teams=2, households=5, leads=2)
    task = create_task(v["village"], v["cadre"], subkind="flood", title="防汛排查")
    mine = v["households"][:5]  # 1-1小队

    page = phones(service_workers="allow")
    sign_in(page, live_server, v["lead"])
    assert page.url == f"{live_server}/field"
    section = page.locator(f"#t{task.id}")
    expect(section).to_contain_text("防汛排查")
    expect(section.locator(".tally")).to_contain_text("0 / 5 户已确认")
    rows = [page.locator(f"#h{h.id}-t{task.id}") for h in mine]
    no_sideways_scroll(page)

    # With signal: one safe, one needs a doctor.
    rows[0].get_by_role("button", name="✔ 安全").click()
    expect(rows[0].locator(".row-msg")).to_contain_text(re.compile("已记下[:：] ?安全"))
    rows[1].locator("summary", has_text="需要帮助").click()
    rows[1].get_by_label("医疗").check()
    rows[1].locator("input[name=note]").fill("老人发烧")
    rows[1].get_by_role("button", name="发出求助").click()
    expect(rows[1].locator(".chip.st")).to_contain_text("需要帮助")
    bar = page.locator("#netbar")
    expect(bar).to_contain_text("已发送 2 户")
    expect(section.locator(".tally")).to_contain_text("2 / 5 户已确认")
    assert reports() == 2

    # No signal: two taps wait on the phone, and the page says so.
    wait_for_offline_copy(page)
    page.context.set_offline(True)
    for row in rows[2:4]:
        row.get_by_role("button", name="✔ 安全").click()
        expect(row.locator(".row-msg")).to_contain_text("已存在手机上")
    expect(bar).to_contain_text("待发送 2 条")

    # The page is opened again, still without signal: the phone's copy, taps and all.
    page.reload()
    expect(bar).to_contain_text(re.compile(r"离线 · \d\d:\d\d 的数据"))
    expect(bar).to_contain_text("待发送 2 条")
    for row, word in zip(rows[:4], ("安全", "需要帮助", "安全", "安全"), strict=True):
        expect(row.locator(".chip.st")).to_contain_text(word)
    expect(section.locator(".tally")).to_contain_text("4 / 5 户已确认")
    assert reports() == 2

    # Signal again: sent at once, each once.
    page.context.set_offline(False)
    expect(bar).to_contain_text("已发送 2 户")
    expect(bar).not_to_contain_text("待发送")
    assert reports() == 4

    # The next look at the page (the server's own copy) agrees, and nothing waits.
    page.reload()
    expect(section.locator(".tally")).to_contain_text("4 / 5 户已确认")
    expect(rows[4].locator(".chip.st")).to_contain_text("未确认")
    expect(bar).not_to_contain_text("待发送")
    assert reports() == 4
