"""Registering newcomers at the station's counter (page and API): every bad field
with its own Chinese message, normalised numbers, the same document twice offered
as the record that holds it; and who reaches the station at all."""

from __future__ import annotations

import pytest

from tests.factories import (
    api_headers,
    create_newcomer,
    create_unit,
    create_user,
    create_village,
    login,
    resident_id,
)
from village_grid.extensions import db
from village_grid.models import AuditEvent, Newcomer

GOOD = resident_id("35012119900101123")


@pytest.fixture
def world():
    v = create_village(grids=2, teams=2, households=2)
    v["staff"] = create_user("station_staff", v["village"], name="驿站小陈", phone="13900000099")
    return v


def form(**extra) -> dict:
    data = {
        "id_type": "resident_id",
        "id_number": GOOD,
        "name": "王小明",
        "phone": "137 0013 7000",
        "arrived_on": "",
        "skills": "电焊",
        "wants_work": "y",
    }
    data.update(extra)
    return data


def test_station_staff_land_on_the_station(client, world):
    res = login(client, world["staff"])
    assert res.status_code == 302
    res = client.get("/", follow_redirects=False)
    assert res.headers["Location"].endswith("/station/")
    page = client.get("/station/").get_data(as_text=True)
    assert "侯官村暖心驿站" in page and "登记新到人员" in page


def test_register_on_the_page_normalises_and_prefills(client, world):
    login(client, world["staff"])
    res = client.post("/station/newcomers/new", data=form(id_number=GOOD.lower()))
    assert res.status_code == 302, res.get_data(as_text=True)[:2000]
    person = db.session.scalars(db.select(Newcomer)).one()
    assert person.phone == "13700137000"
    assert (person.home_province, person.home_county, person.sex) == ("福建省", "闽侯县", "M")
    assert person.id_mask == "350121********" + GOOD[-4:]
    assert person.wants_work is True
    assert res.headers["Location"].endswith(f"/station/newcomers/{person.id}/placement")
    # Under 身份信息 the place of origin is 籍贯 (住处 is where they live, further down).
    page = client.get(f"/station/newcomers/{person.id}").get_data(as_text=True)
    identity = page[page.index('id="who-h"') : page.index('id="home-h"')]
    assert "<dt>籍贯</dt><dd>福建省闽侯县</dd>" in identity and "住处" not in identity


def test_every_bad_field_has_its_own_chinese_message(client, world):
    login(client, world["staff"])
    res = client.post(
        "/station/newcomers/new",
        data=form(id_number=GOOD[:-1], name=" ", phone="12345", arrived_on="2099-01-01"),
    )
    assert res.status_code == 422
    page = res.get_data(as_text=True)
    assert "请修改标出的 4 项" in page
    assert "应为 18 位，现在是 17 位" in page  # the ID number
    assert "请填写姓名" in page  # the name
    assert "不是电话号码" in page or "手机号" in page  # the phone (validation.py's words)
    assert "到达日期不能晚于今天" in page
    assert page.count('aria-invalid="true"') == 4
    assert db.session.scalar(db.select(db.func.count(Newcomer.id))) == 0


def test_the_same_number_twice_offers_the_existing_record(client, world):
    first = create_newcomer(world["village"], "林阿强", id_number=GOOD)
    login(client, world["staff"])
    full_width = GOOD.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    res = client.post("/station/newcomers/new", data=form(id_number=full_width, name="林强"))
    assert res.status_code == 409
    page = res.get_data(as_text=True)
    assert "这个证件号已经登记过" in page and "林阿强" in page
    # One sentence in Chinese punctuation.
    day = first.arrived_on.isoformat()
    assert f"林阿强（{first.id_mask}），{day} 起在驿站。" in page
    assert f'href="/station/newcomers/{first.id}"' in page
    assert db.session.scalar(db.select(db.func.count(Newcomer.id))) == 1


def test_api_register_read_and_duplicate(client, world):
    headers = api_headers(client, world["staff"])
    body = {"name": "王小明", "id_number": GOOD.lower(), "phone": "13700137000"}
    res = client.post("/api/v1/newcomers", json=body, headers=headers)
    assert res.status_code == 201, res.get_json()
    data = res.get_json()
    assert data["id_number_masked"] == "350121********" + GOOD[-4:]
    assert GOOD not in res.get_data(as_text=True)
    assert data["home_province"] == "福建省" and data["present"] is True
    got = client.get(f"/api/v1/newcomers/{data['id']}", headers=headers).get_json()
    assert got["id_number_masked"] == data["id_number_masked"]
    again = client.post("/api/v1/newcomers", json={**body, "name": "王晓明"}, headers=headers)
    assert again.status_code == 409
    error = again.get_json()["error"]
    assert error["code"] == "duplicate_id_number" and error["existing_id"] == data["id"]
    bad = client.post(
        "/api/v1/newcomers",
        json={
            **body,
            "id_number": GOOD[:-1] + ("1" if GOOD[-1] != "1" else "2"),
            "arrived_on": "2099-01-01",
        },
        headers=headers,
    )
    assert bad.status_code == 422
    fields = bad.get_json()["error"]["fields"]
    assert fields == {"id_number": "bad_checksum", "arrived_on": "in_future"}


def test_a_team_lead_reaches_no_station_page_or_data(app, client, world):
    person = create_newcomer(world["village"])
    login(client, world["lead"])
    for url in (
        "/station/",
        "/station/newcomers",
        "/station/newcomers/new",
        "/station/trainings",
        "/station/broadcasts",
        "/station/dashboard",
        "/station/export.csv",
        f"/station/newcomers/{person.id}",
        f"/station/newcomers/{person.id}/placement",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        "/station/search",
        "/station/id-check",
        "/station/export",
        f"/station/newcomers/{person.id}/reveal",
        "/station/newcomers/new",
    ):
        assert client.post(url, data={"q": "王", "reason": "查看"}).status_code == 404, url
    page = client.get("/tasks/").get_data(as_text=True)
    assert "/station" not in page  # no menu entry either
    api = app.test_client()
    headers = api_headers(api, world["lead"])
    assert api.get(f"/api/v1/newcomers/{person.id}", headers=headers).status_code == 404
    res = api.post("/api/v1/newcomers", json={"name": "x"}, headers=headers)
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found"
    res = api.post("/api/v1/trainings", json={}, headers=headers)
    assert res.status_code == 404


def test_a_cadre_of_another_village_sees_none_of_it(app, client, world):
    person = create_newcomer(world["village"], "郑阿妹")
    other = create_unit("village", "颜岐村", world["township"], code="YQ")
    create_unit("team", "颜岐1小队", create_unit("grid", "颜岐第1网格", other))
    cadre = create_user("cadre", other)
    staff_b = create_user("station_staff", other)
    for user in (cadre, staff_b):
        c = app.test_client()
        login(c, user)
        assert "郑阿妹" not in c.get("/station/").get_data(as_text=True)
        assert c.get(f"/station/newcomers/{person.id}").status_code == 404
        found = c.post("/station/search", data={"q": "郑阿妹"}).get_data(as_text=True)
        assert "郑阿妹" not in found
        assert "郑阿妹" not in c.get("/station/export.csv").get_data(as_text=True)
        assert c.get(f"/station/?village={world['village'].id}").status_code == 404
    # The village's own cadre does see the station (without the right to reveal).
    own = app.test_client()
    login(own, world["cadre"])
    assert "郑阿妹" in own.post("/station/search", data={"q": "郑"}).get_data(as_text=True)


def test_search_by_name_phone_last_four_and_whole_number(client, world):
    person = create_newcomer(world["village"], "陈大勇", id_number=GOOD, phone="13612345678")
    create_newcomer(world["village"], "李四")
    login(client, world["staff"])
    for q in ("大勇", "1234567", GOOD[-4:].lower(), GOOD, GOOD.lower()):
        page = client.post("/station/search", data={"q": q}).get_data(as_text=True)
        assert f"/station/newcomers/{person.id}" in page, q
        assert "李四" not in page, q
        assert GOOD not in page.upper(), q  # what was typed is not shown back


def test_registration_is_audited_with_the_mask_only(world):
    person = create_newcomer(world["village"], id_number=GOOD)
    event = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action == "newcomer.register")
    ).one()
    assert event.object_id == person.id and event.unit_path == world["village"].path
    assert event.after["id_mask"] == person.id_mask
    assert GOOD not in str(event.after)
