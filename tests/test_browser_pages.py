"""Headless Chromium over the main pages of each role (household, team lead, grid member,
cadre, station staff), as a phone shows them: at 360 px
and turned (740 × 360) no page scrolls sideways; axe-core finds no serious or critical
violation (contrast, landmarks, labels, names …); touch targets are big enough (48 px
on the "my team" page, 44 px elsewhere).

Every page is visited once per role in one browser, and every problem is listed in
one failure, page by page.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.conftest import requires_chromium
from tests.factories import PASSWORD, create_task, create_user, create_village
from village_grid.extensions import db
from village_grid.models.base import utcnow
from village_grid.tasks.statuses import record_status

pytestmark = [pytest.mark.browser, requires_chromium]

PORTRAIT = {"width": 360, "height": 740}
LANDSCAPE = {"width": 740, "height": 360}
SERIOUS = ("serious", "critical")

# Visible controls smaller than the minimum, with what they say (links inside a
# sentence are exempt, as in WCAG 2.5.8).
SMALL_TARGETS = """(minimum) => {
  const small = [];
  for (const el of document.querySelectorAll(
      "button, a[href], input:not([type=hidden]), select, textarea, summary")) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === "hidden") continue;
    if (el.tagName === "A" && getComputedStyle(el).display === "inline"
        && el.parentElement && /\\S/.test(el.parentElement.textContent.replace(el.textContent, ""))
        && !el.closest("nav")) continue;
    if (["checkbox", "radio"].includes(el.type)) continue;  // their label is the target
    if (box.height < minimum) {
      small.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.name || "").trim().slice(0, 20)}" ${Math.round(box.height)}px`);
    }
  }
  return small;
}"""


@pytest.fixture
def world():
    v = create_village(grids=2, teams=2, households=4, leads=2)
    sent = utcnow() - timedelta(minutes=40)
    task = create_task(
        v["village"], v["cadre"], kind="sweep", subkind="flood", title="防汛排查", now=sent
    )
    h1, h2 = v["households"][:2]
    record_status(db.session, v["lead"], task_id=task.id, household_id=h1.id, status="safe")
    record_status(
        db.session,
        None,
        task_id=task.id,
        household_id=h2.id,
        status="needs_help",
        help_kind="flooding",
        note="一楼进水",
    )
    db.session.commit()
    v["task"] = task
    return v


def visit(
    chromium, base: str, user, paths: list[str], problems: dict, axe: Axe, *, targets=True
) -> None:
    context = chromium.new_context(viewport=PORTRAIT, locale="zh-CN")
    try:
        if user is not None:
            res = context.request.post(
                f"{base}/login", form={"login": user.phone, "password": PASSWORD}, max_redirects=0
            )
            assert res.status == 302, res.text()
        page = context.new_page()
        page.set_default_timeout(10_000)
        who = user.display_name if user is not None else "anonymous"
        for path in paths:
            found = problems.setdefault(f"{path} ({who})", [])
            page.set_viewport_size(PORTRAIT)
            res = page.goto(base + path)
            assert res is not None and res.status == 200, (path, res and res.status)
            for size in (PORTRAIT, LANDSCAPE):
                page.set_viewport_size(size)
                wide, inner = page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]"
                )
                if wide > inner:
                    found.append(f"{size['width']} px wide page scrolls sideways: {wide} px")
            page.set_viewport_size(PORTRAIT)
            minimum = 48 if path.startswith("/field") else 44
            small = page.evaluate(SMALL_TARGETS, minimum) if targets else []
            for target in sorted(set(small)):
                found.append(f"target under {minimum} px: {target} ×{small.count(target)}")
            for v in axe.run(page).response["violations"]:
                if v["impact"] in SERIOUS:
                    nodes = "; ".join(n["target"][0] for n in v["nodes"][:4])
                    found.append(f"axe {v['id']} ({v['impact']}): {nodes}")
    finally:
        context.close()


def test_main_pages_fit_a_phone_and_pass_axe(chromium, live_server, world):
    task, team = world["task"], world["teams"][0]
    axe = Axe()
    problems: dict[str, list[str]] = {}
    h = world["households"][0]
    visit(chromium, live_server, None, ["/login", f"/h/{h.qr_token}"], problems, axe)
    visit(
        chromium,
        live_server,
        world["lead"],
        ["/field", f"/tasks/{task.id}/team", "/mailbox"],
        problems,
        axe,
    )
    visit(
        chromium,
        live_server,
        world["gm"],
        ["/field", f"/field/teams/{world['teams'][1].id}", f"/tasks/{task.id}"],
        problems,
        axe,
    )
    visit(
        chromium,
        live_server,
        world["cadre"],
        [
            "/units",
            f"/units/{team.id}",
            "/tasks/",
            "/tasks/new",
            f"/tasks/{task.id}",
            "/tasks/escalations",
            "/registry/import-export",
            f"/households/{h.id}",
            f"/households/{h.id}/move",
            "/mailbox",
            "/people",
            f"/units/{team.id}/plates/sheet",
        ],
        problems,
        axe,
    )
    staff = create_user("station_staff", world["village"], name="驿站小陈", phone="13900000099")
    visit(
        chromium,
        live_server,
        staff,
        ["/station/", "/station/newcomers/new", "/station/newcomers", "/station/dashboard"],
        problems,
        axe,
        targets=True,
    )
    report = "\n".join(
        f"{path}:\n  " + "\n  ".join(found) for path, found in problems.items() if found
    )
    assert not report, "\n" + report


def test_the_menu_is_one_row_and_more_opens_without_javascript(chromium, live_server, world):
    """The cadre's menu: the pages used most and "更多" in one row at 360 × 740 and
    740 × 360; "更多" opens its list with no JavaScript (a <details>) and leads on."""
    context = chromium.new_context(viewport=PORTRAIT, locale="zh-CN", java_script_enabled=False)
    try:
        res = context.request.post(
            f"{live_server}/login",
            form={"login": world["cadre"].phone, "password": PASSWORD},
            max_redirects=0,
        )
        assert res.status == 302
        page = context.new_page()
        page.goto(f"{live_server}/tasks/")
        nav = page.locator("nav.mainnav")
        for size in (PORTRAIT, LANDSCAPE):
            page.set_viewport_size(size)
            height = nav.evaluate("n => n.getBoundingClientRect().height")
            assert height <= 50, (size, height)
            tops = nav.evaluate(
                "n => [...n.querySelectorAll(':scope > a, :scope > details > summary')]"
                ".map(e => Math.round(e.getBoundingClientRect().top))"
            )
            assert len(tops) == 4 and len(set(tops)) == 1, (size, tops)
        page.set_viewport_size(PORTRAIT)
        main = nav.locator(":scope > a").all_inner_texts()
        assert main == ["任务", "上报事项", "预警"]
        more = page.locator("nav.mainnav details.more")
        assert not more.locator(".more-items").is_visible()
        more.locator("summary").click()
        items = more.locator(".more-items")
        assert items.is_visible()
        assert {"组织架构", "操作记录", "修改密码"} <= set(items.locator("a").all_inner_texts())
        assert "退出" in items.locator("button").inner_text()
        wide, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert wide <= inner
        items.get_by_role("link", name="组织架构").click()
        page.wait_for_url(f"{live_server}/units")
        assert "active" in page.locator("nav.mainnav details.more summary").get_attribute("class")
    finally:
        context.close()
