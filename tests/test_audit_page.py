"""The audit page (/audit): admins and cadres read it, each in their own scope;
status reports are merged in by time; filters by unit, person and days; Chinese
by default; readable at 360 px."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import requires_chromium
from tests.factories import (
    create_household,
    create_task,
    create_unit,
    create_user,
    create_village,
    login,
)
from village_grid.audit.service import record
from village_grid.auditlog import labels
from village_grid.extensions import db
from village_grid.hierarchy import service
from village_grid.models import AuditEvent
from village_grid.tasks.statuses import record_status


@pytest.fixture
def world():
    """Village A (侯官村) with its people, and village B (颜岐村) beside it with a cadre."""
    tree = create_village(grids=2, teams=1, households=2, township_cadre=True)
    village_b = create_unit("village", "颜岐村", tree["township"], code="YQ")
    grid_b = create_unit("grid", "颜岐第1网格", village_b)
    team_b = create_unit("team", "颜岐1-1小队", grid_b)
    tree["household_b"] = create_household(team_b, "颜户主")
    tree["cadre_b"] = create_user("cadre", village_b, name="颜书记")
    tree["admin"] = create_user("admin", name="管理员")
    tree["team_b"] = team_b
    return tree


def page(client, url: str = "/audit") -> str:
    res = client.get(url)
    assert res.status_code == 200, res.status_code
    return res.get_data(as_text=True)


def change_phone(tree, household, phone: str) -> None:
    service.update_household(db.session, tree["cadre"], household.id, {"phone": phone})
    db.session.commit()


def test_cadre_reads_changes_in_their_village_in_chinese_newest_first(client, world):
    h1, h2 = world["households"][:2]
    change_phone(world, h1, "13911112222")
    change_phone(world, h2, "13933334444")
    login(client, world["cadre"])
    html = page(client)
    assert "操作记录" in html and "修改住户" in html and "李书记" in html
    assert "13800138000" in html and "13911112222" in html
    assert html.index("13933334444") < html.index("13911112222")  # newest first
    # A team is named with its grid, as people say it.
    assert h1.code in html and f"{world['grids'][0].name} {world['teams'][0].name}" in html
    assert "<del>" in html and "<ins>" in html and "电话" in html
    assert 'href="/audit"' in html  # in the menu
    assert "<script>" not in html and " onclick=" not in html  # CSP: no inline script
    assert "不能修改或删除" in html and "状态上报" in html


def test_a_cadre_of_another_village_sees_nothing_of_this_one(client, world):
    change_phone(world, world["households"][0], "13911112222")
    task = create_task(world["village"], world["cadre"], title="侯官防汛")
    record_status(
        db.session,
        world["lead"],
        task_id=task.id,
        household_id=world["households"][0].id,
        status="safe",
    )
    db.session.commit()
    login(client, world["cadre_b"])
    html = page(client)
    assert "13911112222" not in html and "侯官防汛" not in html
    assert world["households"][0].code not in html
    # Nor by naming a unit of village A: not found, as everywhere.
    assert client.get(f"/audit?unit={world['village'].id}").status_code == 404
    assert client.get(f"/audit?unit={world['teams'][0].id}").status_code == 404
    # The entries about village B are theirs.
    assert "颜岐村" in html


def test_events_under_no_unit_are_for_administrators_only(client, world):
    record(db.session, world["admin"], "user.create", object_type="user", after={"name": "新人"})
    db.session.commit()
    login(client, world["cadre"])
    assert "新人" not in page(client)
    client.post("/logout")
    login(client, world["admin"])
    html = page(client)
    assert "新人" in html and "新增人员" in html


def test_team_leads_and_grid_members_have_no_audit_page(client, world):
    for person in (world["lead"], world["gm"]):
        c = client.application.test_client()
        login(c, person)
        assert c.get("/audit").status_code == 404
        assert 'href="/audit"' not in page(c, "/units")


def test_status_reports_are_merged_in_by_time(client, world):
    task = create_task(world["village"], world["cadre"], title="台风格美排查")
    h1, h2 = world["households"][:2]
    record_status(db.session, world["lead"], task_id=task.id, household_id=h1.id, status="safe")
    record_status(
        db.session,
        None,
        task_id=task.id,
        household_id=h2.id,
        status="needs_help",
        help_kind="medical",
        note="老人发烧",
        client_addr="10.9.8.7",
    )
    db.session.commit()
    change_phone(world, h1, "13911112222")
    login(client, world["cadre"])
    html = page(client)
    assert "上报状态" in html and "安全" in html and "需要帮助" in html and "老人发烧" in html
    assert "门牌二维码" in html and "10.9.8.7" in html and "张三" in html
    # newest first across both records: the phone change, the plate's call, the lead's tap,
    # the dispatch
    order = [html.index(s) for s in ("13911112222", "老人发烧", "安全", "下发任务")]
    assert order == sorted(order)


def test_a_tap_repeated_at_once_is_one_entry(client, world):
    """A lead's double tap (the page without JavaScript posts twice): one report kept,
    one line in /audit; a different status after it is a line of its own."""
    task = create_task(world["village"], world["cadre"], title="台风格美排查")
    h1 = world["households"][0]
    login(client, world["lead"])
    url = f"/field/tasks/{task.id}/households/{h1.id}/status"
    for _ in range(2):
        assert client.post(url, data={"status": "safe"}).status_code == 302
    later = record_status(
        db.session, world["lead"], task_id=task.id, household_id=h1.id, status="safe"
    )
    assert later.result == "duplicate"
    db.session.commit()
    reader = client.application.test_client()
    login(reader, world["cadre"])
    assert page(reader).count('class="card entry entry-status"') == 1
    assert client.post(url, data={"status": "not_home"}).status_code == 302
    assert page(reader).count('class="card entry entry-status"') == 2


def test_filters_by_unit_person_and_days(client, world):
    h1 = world["households"][0]
    h3 = world["households"][2]  # grid 2
    change_phone(world, h1, "13911112222")
    service.update_household(db.session, world["township_cadre"], h3.id, {"phone": "13955556666"})
    db.session.commit()
    login(client, world["cadre"])

    grid1 = page(client, f"/audit?unit={world['grids'][0].id}")
    assert "13911112222" in grid1 and "13955556666" not in grid1
    team3 = page(client, f"/audit?unit={world['teams'][1].id}")
    assert "13955556666" in team3 and "13911112222" not in team3

    by_person = page(client, f"/audit?person={world['township_cadre'].id}")
    assert "13955556666" in by_person and "13911112222" not in by_person
    system = page(client, "/audit?person=system")
    assert "13955556666" not in system and "登记住户" in system  # the factories' own

    today = datetime.now().date()
    assert "13911112222" in page(client, f"/audit?date_from={today - timedelta(days=1)}")
    old = page(client, "/audit?date_from=2001-01-01&date_to=2001-01-31")
    assert "13911112222" not in old and "这里还没有记录" in old
    # Bad values are refused on the form and not applied; never a server error.
    for bad in (
        "unit=abc",
        "unit=9223372036854775808",
        "person=x",
        "person=99999999999999999999",
        "date_from=9999-12-31",
        "date_from=2024-02-30",
        "date_from=2025-01-02&date_to=2025-01-01",
        "page=0",
        "page=99999999999999999999",
    ):
        res = client.get(f"/audit?{bad}")
        assert res.status_code == 200, bad
        assert "13911112222" in res.get_data(as_text=True), bad


def test_the_date_range_is_local_days(app, world):
    """An event at 23:30 UTC is on the next day in China (UTC+8)."""
    late = datetime(2025, 7, 21, 23, 30)
    record(
        db.session,
        world["cadre"],
        "household.update",
        object_type="household",
        object_id=world["households"][0].id,
        unit_path=world["teams"][0].path,
        after={"phone": "13977778888"},
        at=late,
    )
    db.session.commit()
    client = app.test_client()
    login(client, world["cadre"])
    assert "13977778888" in page(client, "/audit?date_from=2025-07-22&date_to=2025-07-22")
    assert "13977778888" not in page(client, "/audit?date_from=2025-07-21&date_to=2025-07-21")
    assert "2025-07-22 07:30" in page(client, "/audit?date_from=2025-07-22")


def test_pages_of_fifty_newest_first(client, world):
    base = datetime(2025, 7, 1, 8, 0)
    for i in range(labels.PER_PAGE + 5):
        record(
            db.session,
            world["cadre"],
            "household.update",
            object_type="household",
            object_id=world["households"][0].id,
            unit_path=world["teams"][0].path,
            after={"door_no": f"门{i:03d}"},
            at=base + timedelta(minutes=i),
        )
    db.session.commit()
    login(client, world["cadre"])
    first = page(client, "/audit?date_to=2025-07-01")
    assert "门054" in first and "门005" in first and "门004" not in first
    assert "page=2" in first and "较早" in first
    second = page(client, "/audit?date_to=2025-07-01&page=2")
    assert "门004" in second and "门000" in second and "门005" not in second
    assert "较新" in second and "page=3" not in second


def test_english_on_request(client, world):
    change_phone(world, world["households"][0], "13911112222")
    login(client, world["cadre"])
    html = page(client, "/audit?lang=en")
    assert "Audit log" in html and "Household changed" in html and "Phone" in html


def test_the_page_costs_a_few_queries_whatever_it_shows(app, world):
    """Names are looked up per kind of object on the page, not per entry."""
    from sqlalchemy import event

    task = create_task(world["village"], world["cadre"])
    for h in world["households"]:
        change_phone(world, h, "13911112222")
        record_status(db.session, world["cadre"], task_id=task.id, household_id=h.id, status="safe")
    db.session.commit()
    client = app.test_client()
    login(client, world["cadre"])
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        page(client)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) <= 20, len(statements)
    assert db.session.scalar(select(AuditEvent.id).limit(1))


@requires_chromium
def test_readable_on_a_360_px_phone(live_server, page, world):
    task = create_task(world["village"], world["cadre"], title="台风格美防汛排查")
    record_status(
        db.session,
        None,
        task_id=task.id,
        household_id=world["households"][0].id,
        status="needs_help",
        help_kind="medical",
        note="老人发烧，需要送医",
    )
    change_phone(world, world["households"][1], "13911112222")
    db.session.commit()
    page.goto(f"{live_server}/login")
    page.fill("input[name=login]", world["cadre"].username)
    page.fill("input[name=password]", "secret123")
    page.click("button[type=submit]")
    page.goto(f"{live_server}/audit")
    assert page.locator("h1").inner_text() == "操作记录"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    assert re.search("修改住户", page.content())


def test_people_and_units_named_in_an_event_read_as_names(client, world):
    """auth writes role changes with ids of the person and the unit: the page names them."""
    lead = world["lead"]
    record(
        db.session,
        world["cadre"],
        "role.assign",
        object_type="role",
        object_id=99,
        unit_path=world["teams"][0].path,
        after={
            "user_id": lead.id,
            "username": lead.username,
            "role": "team_lead",
            "unit_id": world["teams"][0].id,
        },
    )
    db.session.commit()
    login(client, world["cadre"])
    html = page(client)
    assert "分配职责" in html and "小队长" in html
    assert f"{lead.username} (#{lead.id})" in html
    assert f"{world['teams'][0].name} (#{world['teams'][0].id})" in html
