"""The household's story, at 360 px in Chinese: the cadre prints the door plates of
1-1小队 (the PDF, drawn as a printer would, its QR codes read by zbar). On the night a
household scans its plate with a phone that has never signed in: the page shows the
plate's code and the flood check, nothing private. They answer "safe"; the water rises,
they scan again and call for help. The page says who was told, and the team lead's
message arrives at the messaging service (a local webhook)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from pyzbar.pyzbar import decode

from tests.conftest import requires_chromium
from tests.factories import create_task, create_village
from tests.pdftools import pdf_images, requires_poppler
from tests.stories.conftest import no_sideways_scroll, sign_in
from tests.test_notify import Hook
from village_grid.extensions import db
from village_grid.notify import service as notify

pytestmark = [pytest.mark.browser, requires_chromium, requires_poppler]


def test_a_household_scans_its_plate_calls_for_help_and_the_lead_is_told(
    app, monkeypatch, live_server, phones
):
    v = create_village(grids=1, teams=1, households=3, leads=1)
    team, lead = v["teams"][0], v["lead"]

    # The cadre downloads the plates of 1-1小队 from the team's page.
    desk = phones()
    sign_in(desk, live_server, v["cadre"])
    desk.goto(f"{live_server}/units/{team.id}")
    desk.get_by_role("link", name="门牌二维码").click()
    expect(desk.locator("h1")).to_contain_text(team.name)
    with desk.expect_download(timeout=60_000) as download:  # a PDF: seconds on a busy machine
        desk.get_by_role("link", name="下载 PDF").click(timeout=60_000)
    with open(download.value.path(), "rb") as f:
        (sheet,) = pdf_images(f.read())
    plates = sorted(found.data.decode() for found in decode(sheet))
    assert len(plates) == 3
    assert all(url.startswith(f"{live_server}/h/") for url in plates)

    with Hook() as hook:
        monkeypatch.setitem(app.config, "NOTIFY_CHANNEL", "webhook")
        monkeypatch.setitem(app.config, "NOTIFY_WEBHOOK_URL", hook.url)
        task = create_task(v["village"], v["cadre"], subkind="flood", title="台风格美防汛排查")

        # A phone that never signed in scans a plate.
        door = phones()
        door.goto(plates[0])
        code = door.locator("h1.plate-code strong").inner_text()
        card = door.locator(f"#task-{task.id}")
        expect(card).to_contain_text("台风格美防汛排查")
        page_text = door.locator("body").inner_text()
        for h in v["households"]:
            assert h.head_name not in page_text and h.phone not in page_text
        assert lead.name not in page_text
        no_sideways_scroll(door)

        card.get_by_role("button", name="我家平安").click()
        expect(card.locator(".flash-success")).to_contain_text("谢谢，已收到")
        expect(card.locator(".answered")).to_contain_text("已于")

        # The water rises: the same plate, a call for help.
        door.goto(plates[0])
        card.locator("summary", has_text="我家需要帮助").click()
        card.get_by_label("进水了").check()
        card.locator("textarea[name=note]").fill("一楼进水，老人在家")
        card.get_by_role("button", name="发出求助").click()
        said = card.locator(".flash-success")
        expect(said).to_contain_text("求助已发出，已立即通知：小队长、网格员、村干部")
        expect(said).to_be_in_viewport()

        # The worker's delivery run: the lead's message reaches the messaging service.
        notify.deliver_pending(db.session)
        to_lead = [b["text"] for b in hook.received if b["recipient"]["phone"] == lead.phone]
    help_texts = [text for text in to_lead if "需要帮助" in text]
    assert len(help_texts) == 1, to_lead
    assert code in help_texts[0] and "进水被淹" in help_texts[0]
    assert any("台风格美防汛排查" in text for text in to_lead if text not in help_texts)
