"""What every story needs: phones (360×740, Chinese) on the module's Chromium, signing in
as the person does, and the check that a page fits the phone's width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD

PHONE = {"width": 360, "height": 740}
WAIT_MS = 10_000  # what a page and an expectation wait for, on a busy machine

expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def phones(chromium):
    """``phones()`` hands a new phone's page (its own cookies, storage and network,
    ``page.context``); all are put away after the test."""
    opened = []

    def new_phone(**options):
        context = chromium.new_context(viewport=PHONE, locale="zh-CN", **options)
        opened.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        return page

    yield new_phone
    for context in opened:
        context.close()


def sign_in(page, base: str, user) -> None:
    """The login page, with the phone number and password, as people type them."""
    page.goto(f"{base}/login")
    page.fill("input[name=login]", user.phone)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
