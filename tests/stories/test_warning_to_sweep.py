"""The cadre's story on a typhoon night, at 360 px in Chinese: the county weather
office's warning arrives for 350121000000 (闽侯县); the cadre of 侯官村 gets a message
with a link, opens the draft on the phone, sees the warning and sends the sweep with
one tap; the team leads are told. A village in another county hears nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import requires_chromium
from tests.factories import PASSWORD, api_headers
from tests.warnings_helpers import cap_file, deployment, post_cap
from village_grid.extensions import db
from village_grid.models import OutboxMessage, Task

pytestmark = [pytest.mark.browser, requires_chromium]


def bodies(user) -> list[str]:
    return list(
        db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.recipient_id == user.id))
    )


def test_a_typhoon_warning_becomes_a_sweep_with_one_tap(live_server, phones, client):
    d = deployment()
    houguan, tangtou = d["houguan"], d["tangtou"]
    # 18:00: the weather office's forwarder posts the warning.
    res = post_cap(client, api_headers(client, d["admin"]), cap_file("typhoon_county.xml"))
    assert res.status_code == 201

    # The cadre's phone: one message, with the link to the draft. The leads: nothing yet.
    (message,) = bodies(houguan["cadre"])
    assert "闽侯县气象台发布台风橙色预警" in message and "已拟好防汛排查" in message
    link = re.search(r"http://\S+/warnings/drafts/(\d+)", message)
    task_id = int(link.group(1))
    assert all(bodies(lead) == [] for lead in houguan["leads"])

    page = phones()
    page.goto(f"{live_server}/login?next=/warnings/drafts/{task_id}")
    page.fill("input[name=login]", houguan["cadre"].username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/warnings/drafts/{task_id}")

    # The draft page: the warning in its colour, its area and text, what the sweep reaches.
    expect(page.locator("h1")).to_contain_text("闽侯县气象台发布台风橙色预警")
    expect(page.locator(".level-orange").first).to_have_text("橙色")
    assert "闽侯县" in page.locator(".warning-times").inner_text()
    assert "格美" in page.content()
    expect(page.locator(".draft-card")).to_contain_text("2个小队共4户")
    send = page.locator("button.send")
    expect(send).to_have_text("立即发送给各小队长")
    box = send.bounding_box()
    assert box["width"] <= 360 and box["height"] >= 44  # one big thumb-sized button

    send.click()
    page.wait_for_url(f"{live_server}/tasks/{task_id}")
    expect(page.locator("body")).to_contain_text("已发送，正在通知各小队长")

    db.session.expire_all()
    assert db.session.get(Task, task_id).status == "open"
    for lead in houguan["leads"]:
        (told,) = bodies(lead)
        assert "台风橙色预警" in told
    # Another county's village: no draft, no message, nobody told.
    assert bodies(tangtou["cadre"]) == []
    assert all(bodies(lead) == [] for lead in tangtou["leads"])
    assert db.session.scalar(select(Task).where(Task.unit_id == tangtou["village"].id)) is None
