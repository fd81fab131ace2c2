"""Headless Chromium on the "my team" pages, as a team lead's phone uses them.

- Offline: the lead (and a grid member on a team of their grid) taps three households
  with no network; the page reloads from the service worker's copy, says since when its
  data is ("离线 · HH:MM 的数据") and that three taps wait ("待发送 3 条"); back online
  the queue is sent, three status events are recorded, and sending it again adds none.
- Weight: the page with its CSS and JS under 30 KB compressed on a first load, under
  5 KB of new data on a refresh (the hashed static files are not fetched again).

One browser for the module; the per-page checks (overflow, axe-core) are in
tests/test_browser_pages.py.
"""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.conftest import requires_chromium
from tests.factories import PASSWORD, create_task, create_village
from village_grid.extensions import db
from village_grid.models import StatusEvent

pytestmark = [pytest.mark.browser, requires_chromium]

FIRST_LOAD_LIMIT = 30 * 1024
REFRESH_LIMIT = 5 * 1024
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def world():
    v = create_village(grids=2, teams=2, households=10, leads=2)
    v["task"] = create_task(
        v["village"], v["cadre"], kind="sweep", subkind="flood", title="防汛排查"
    )
    return v


def phone_of(chromium, live_server, user):
    """A 360-px Chinese phone, logged in as ``user``."""
    context = chromium.new_context(viewport=PHONE, locale="zh-CN", service_workers="allow")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server}/login")
    page.fill("input[name=login]", user.phone)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return context, page


def events() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(StatusEvent))


def wait_for_offline_copy(page) -> None:
    """The service worker is active and has kept a copy of the page."""
    for _ in range(100):
        if page.evaluate(
            "async () => !!(await navigator.serviceWorker.getRegistration())?.active"
            " && !!(await (await caches.open('vg-pages')).match(location.pathname))"
        ):
            return
        page.wait_for_timeout(100)
    raise AssertionError("no offline copy of " + page.url)


def confirm_offline_and_sync(context, page, households, task, *, next_visit=False):
    """Three taps with no network, a reload with no network, then signal again: either
    the page hears it (``online``), or the phone was off and the page is opened anew."""
    wait_for_offline_copy(page)
    context.set_offline(True)
    bar = page.locator("#netbar")
    for h in households:
        row = page.locator(f"#h{h.id}-t{task.id}")
        row.get_by_role("button", name="✔ 安全").click()
        expect(row.locator(".row-msg")).to_contain_text("已存在手机上")
    expect(bar).to_contain_text("待发送 3 条")
    assert events() == 0

    # Reloaded with no network: the service worker's copy, the queue still there.
    page.reload()
    expect(bar).to_contain_text("待发送 3 条")
    expect(bar).to_contain_text(re.compile(r"离线 · \d\d:\d\d 的数据"))
    for h in households:
        expect(page.locator(f"#h{h.id}-t{task.id} .chip.st")).to_contain_text("安全")
    assert events() == 0

    if next_visit:
        url = page.url
        page.close()
        context.set_offline(False)
        page = context.new_page()
        page.goto(url)
        bar = page.locator("#netbar")
    else:
        context.set_offline(False)
    # Sent at once, each tap once.
    expect(bar).not_to_contain_text("待发送")
    expect(bar).to_contain_text("已发送 3 户")
    assert events() == 3
    for h in households:
        expect(page.locator(f"#h{h.id}-t{task.id} .chip.st")).to_contain_text("安全")

    # The same queue sent again (a phone that never heard the answer): still three.
    put_back = """() => new Promise((ok, fail) => {
      const req = indexedDB.open("vg-field", 1);
      req.onsuccess = () => {
        const t = req.result.transaction(["done", "queue"], "readwrite");
        const all = t.objectStore("done").getAll();
        all.onsuccess = () => all.result.forEach((op) => t.objectStore("queue").put(op));
        t.oncomplete = () => ok(all.result.length);
        t.onerror = () => fail(t.error);
      };
    })"""
    assert page.evaluate(put_back) == 3
    page.reload()
    expect(bar).to_contain_text("已发送 3 户")
    expect(bar).not_to_contain_text("待发送")
    results = page.evaluate(DONE_RESULTS)
    assert results == ["duplicate"] * 3
    assert events() == 3


DONE_RESULTS = """() => new Promise((ok) => {
  const req = indexedDB.open("vg-field", 1);
  req.onsuccess = () => {
    const all = req.result.transaction("done", "readonly").objectStore("done").getAll();
    all.onsuccess = () => ok(all.result.map((op) => op.result));
  };
})"""


def test_a_lead_confirms_three_households_offline_and_they_arrive_once(
    chromium, live_server, world
):
    context, page = phone_of(chromium, live_server, world["lead"])
    try:
        assert page.url == f"{live_server}/field"
        confirm_offline_and_sync(context, page, world["households"][:3], world["task"])
    finally:
        context.close()


def test_a_grid_member_does_the_same_on_a_team_of_their_grid(chromium, live_server, world):
    context, page = phone_of(chromium, live_server, world["gm"])
    try:
        team = world["teams"][1]
        page.goto(f"{live_server}/field")
        page.get_by_role("link", name=re.compile("1-2小队")).click()
        page.wait_for_url(f"{live_server}/field/teams/{team.id}")
        households = [h for h in world["households"] if h.team_id == team.id][:3]
        confirm_offline_and_sync(context, page, households, world["task"], next_visit=True)
        rows = db.session.scalars(select(StatusEvent)).all()
        assert {e.actor_id for e in rows} == {world["gm"].id}
    finally:
        context.close()


def test_a_double_tap_is_one_household_sent_and_its_status_is_pressed(chromium, live_server, world):
    context, page = phone_of(chromium, live_server, world["lead"])
    try:
        task, h = world["task"], world["households"][0]
        row = page.locator(f"#h{h.id}-t{task.id}")
        safe = row.get_by_role("button", name="✔ 安全")
        away = row.get_by_role("button", name="不在家")
        safe.dblclick()
        bar = page.locator("#netbar")
        expect(bar).to_contain_text("已发送 1 户")
        expect(safe).to_have_attribute("aria-pressed", "true")
        expect(away).to_have_attribute("aria-pressed", "false")
        assert events() == 1  # the second tap repeated the first: nothing written
        away.click()
        expect(away).to_have_attribute("aria-pressed", "true")
        expect(safe).to_have_attribute("aria-pressed", "false")
        expect(row.locator(".row-msg")).to_contain_text("已记下")
        expect(bar).to_contain_text("已发送 1 户")  # still one household
        assert events() == 2
        # Pressed is seen, not only said: the chosen button is filled.
        filled = away.evaluate("b => getComputedStyle(b).backgroundColor")
        plain = row.get_by_role("button", name="联系不上").evaluate(
            "b => getComputedStyle(b).backgroundColor"
        )
        assert filled != plain
    finally:
        context.close()


class Metered:
    """The app behind a meter: what the server sent (status line, headers, body) per path."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.sent: list[tuple[str, int]] = []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        head = 0

        def start(status, headers, exc_info=None):
            nonlocal head
            head = len(status) + 11 + sum(len(k) + len(v) + 4 for k, v in headers) + 2
            return start_response(status, headers, exc_info)

        body = 0
        for chunk in self.wsgi_app(environ, start):
            body += len(chunk)
            yield chunk
        self.sent.append((path, head + body))

    def take(self) -> tuple[int, list[str]]:
        sent, self.sent = self.sent, []
        return sum(n for _, n in sent), sorted(p for p, _ in sent)


def test_the_page_weighs_little_first_and_less_on_a_refresh(
    app, monkeypatch, chromium, live_server, world
):
    meter = Metered(app.wsgi_app)
    monkeypatch.setattr(app, "wsgi_app", meter)
    context = chromium.new_context(viewport=PHONE, locale="zh-CN")
    try:
        # Logged in without loading a page: the first page the phone loads is /field.
        res = context.request.post(
            f"{live_server}/login",
            form={"login": world["lead"].phone, "password": PASSWORD},
            max_redirects=0,
        )
        assert res.status == 302
        page = context.new_page()
        page.set_default_timeout(10_000)
        meter.take()
        page.goto(f"{live_server}/field")
        wait_for_offline_copy(page)
        page.wait_for_load_state("networkidle")
        first, first_paths = meter.take()
        paths = first_paths
        for name in ("app", "field"):
            assert any(re.match(rf"/static/{name}\.\w+\.css", p) for p in paths), paths
            assert any(re.match(rf"/static/{name}\.\w+\.js", p) for p in paths), paths
        assert first < FIRST_LOAD_LIMIT, (first, paths)
        # The service worker took the files from the browser's cache, not the network.
        files = [p for p in paths if p.startswith("/static/")]
        assert len(files) == len(set(files)), paths

        page.reload()
        page.wait_for_load_state("networkidle")
        again, paths = meter.take()
        assert "/field" in paths and not [p for p in paths if p.startswith("/static/")], paths
        assert again < REFRESH_LIMIT, (again, paths)
        print(f"/field: first load {first} B {first_paths}, refresh {again} B {paths}")
    finally:
        context.close()


# When the phone's offline copy of the page was made (its data-rendered).
KEPT_AT = """async () => {
  const copy = await (await caches.open("vg-pages")).match(location.pathname);
  return (await copy.text()).match(/data-rendered="([^"]+)"/)[1];
}"""


class Held:
    """The app with the phone's sync held until ``release()``: a tap in flight."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.gate = threading.Event()
        self.arrived = threading.Event()

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/api/v1/field/sync":
            self.arrived.set()
            self.gate.wait(10)
        return self.wsgi_app(environ, start_response)


def test_a_tap_answered_after_the_offline_copy_was_made_still_shows_offline(
    app, monkeypatch, chromium, live_server, world
):
    """The lead taps as the page opens; the phone keeps a fresh copy of the page while
    that tap is on its way (the copy does not have it yet). Offline, the page still
    shows the tap as done, not the household as unconfirmed."""
    held = Held(app.wsgi_app)
    monkeypatch.setattr(app, "wsgi_app", held)
    context, page = phone_of(chromium, live_server, world["lead"])
    try:
        wait_for_offline_copy(page)
        task, h = world["task"], world["households"][0]
        row = page.locator(f"#h{h.id}-t{task.id}")
        row.get_by_role("button", name="✔ 安全").click()
        assert held.arrived.wait(10)
        first = page.evaluate(KEPT_AT)
        other = context.new_page()  # the same page opened again: the copy is renewed
        other.goto(f"{live_server}/field")
        for _ in range(100):
            if page.evaluate(KEPT_AT) != first:
                break
            page.wait_for_timeout(100)
        else:
            raise AssertionError("the offline copy was not renewed")
        other.close()
        held.gate.set()
        expect(page.locator("#netbar")).to_contain_text("已发送 1 户")
        assert events() == 1

        context.set_offline(True)
        page.reload()
        expect(page.locator("#netbar")).to_contain_text(re.compile(r"离线 · \d\d:\d\d 的数据"))
        expect(row.locator(".chip.st")).to_contain_text("安全")
    finally:
        held.gate.set()
        context.close()
