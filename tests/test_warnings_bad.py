"""Every bad CAP document is 422 invalid_input with fields.cap, never a 5xx, and
nothing is stored; and a unit's division code is checked on every path."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.factories import api_headers, create_unit, create_user, login
from tests.warnings_helpers import cap_file, post_cap
from village_grid.extensions import db
from village_grid.hierarchy import divisions
from village_grid.models import AuditEvent, OfficialWarning, Task

GOOD = cap_file("typhoon_county.xml")
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>"""
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>"""

BAD = {
    "empty": b"",
    "malformed": b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x",
    "not xml": b"\x00\xff\xfe garbage",
    "entity bomb": BILLION_LAUGHS,
    "external entity": EXTERNAL_ENTITY,
    "external dtd": EXTERNAL_DTD,
    "not cap": RSS,
    "cap 1.1": GOOD.replace(b"emergency:cap:1.2", b"emergency:cap:1.1"),
    "no sender": GOOD.replace(b"<sender>350121@cma.gov.cn</sender>", b""),
    "bad severity": GOOD.replace(b"<severity>Severe</severity>", b"<severity>Orange</severity>"),
    "time without offset": GOOD.replace(b"2026-08-04T18:00:00+08:00", b"2026-08-04T18:00:00"),
    "elements out of order": GOOD.replace(
        b"<status>Actual</status>\n  <msgType>Alert</msgType>",
        b"<msgType>Alert</msgType>\n  <status>Actual</status>",
    ),
    "bad polygon": GOOD.replace(
        b"<areaDesc>\xe9\x97\xbd\xe4\xbe\xaf\xe5\x8e\xbf</areaDesc>",
        b"<areaDesc>x</areaDesc><polygon>26,119 27,119</polygon>",
    ),
    "bad circle": GOOD.replace(
        b"<areaDesc>\xe9\x97\xbd\xe4\xbe\xaf\xe5\x8e\xbf</areaDesc>",
        b"<areaDesc>x</areaDesc><circle>26,119 abc</circle>",
    ),
    "too large": GOOD.replace(b"<description>", b"<description>" + b"x" * 600_000),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_document_is_422_on_cap_and_nothing_is_stored(client, name):
    admin = create_user("admin")
    res = post_cap(client, api_headers(client, admin), BAD[name])
    assert res.status_code == 422, (name, res.status_code, res.get_data()[:300])
    error = res.get_json()["error"]
    assert error["code"] == "invalid_input" and error["fields"]["cap"], name
    assert db.session.scalar(select(func.count(OfficialWarning.id))) == 0
    assert db.session.scalar(select(func.count(Task.id))) == 0
    assert (
        db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action.like("warning%"))
        )
        == 0
    )


def test_the_bad_polygon_and_circle_still_pass_the_schema_so_cap_py_catches_them():
    # They are strings to the schema: the reason comes from reading the coordinates.
    assert b"<polygon>" in BAD["bad polygon"] and b"<circle>" in BAD["bad circle"]


def test_a_wrong_content_type_is_422(client):
    admin = create_user("admin")
    res = post_cap(client, api_headers(client, admin), GOOD, content_type="application/json")
    assert res.status_code == 422 and "cap" in res.get_json()["error"]["fields"]


def test_an_upload_of_an_entity_bomb_is_refused_on_the_page(client):
    cadre = create_user("cadre", create_unit("village", "侯官村"))
    login(client, cadre)
    import io

    res = client.post(
        "/warnings/upload",
        data={"file": (io.BytesIO(BILLION_LAUGHS), "bomb.xml")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 422 and "DTD" in res.get_data(as_text=True)


@pytest.mark.parametrize(
    ("code", "padded", "expected"),
    [
        ("350121000000", "350121", True),
        ("350121001201", "350121000000", True),
        ("350121001201", "350121001000", True),
        ("350122100201", "350121000000", False),
        ("350121", "350000000000", True),
        ("", "350121000000", False),
        ("35012100120A", "350121000000", False),
    ],
)
def test_division_codes_lie_inside_their_area(code, padded, expected):
    assert divisions.inside(code, padded) is expected


def test_a_division_code_is_checked_in_the_api(client):
    admin = create_user("admin")
    headers = api_headers(client, admin)
    county = client.post(
        "/api/v1/units",
        json={"kind": "county", "name": "闽侯县", "parent_id": None, "division_code": "350121"},
        headers=headers,
    )
    assert county.status_code == 201 and county.get_json()["division_code"] == "350121"
    county_id = county.get_json()["id"]

    def add(code):
        return client.post(
            "/api/v1/units",
            json={
                "kind": "township",
                "name": f"镇{code}",
                "parent_id": county_id,
                "division_code": code,
            },
            headers=headers,
        )

    assert add("35012").status_code == 422  # length (schema)
    outside = add("350122100")
    assert outside.status_code == 422
    assert outside.get_json()["error"]["fields"] == {"division_code": "outside_parent"}
    town = add("350121001")
    assert town.status_code == 201
    town_id = town.get_json()["id"]
    listed = client.get(f"/api/v1/units/{county_id}", headers=headers).get_json()
    assert listed["children"][0]["division_code"] == "350121001"
    # Patch: a padded code is taken as the short one; the county cannot move away from it.
    res = client.patch(
        f"/api/v1/units/{town_id}", json={"division_code": "350121001000"}, headers=headers
    )
    assert res.status_code == 200 and res.get_json()["division_code"] == "350121001"
    res = client.patch(
        f"/api/v1/units/{county_id}", json={"division_code": "350122"}, headers=headers
    )
    assert res.status_code == 422
    assert res.get_json()["error"]["fields"] == {"division_code": "children_outside"}
    res = client.patch(f"/api/v1/units/{town_id}", json={"division_code": ""}, headers=headers)
    assert res.status_code == 200 and res.get_json()["division_code"] == ""


def test_the_unit_form_takes_a_division_code(client):
    admin = create_user("admin")
    county = create_unit("county", "闽侯县", division_code="350121")
    login(client, admin)
    res = client.post(
        f"/units/{county.id}/units/new",
        data={"kind": "township", "name": "甘蔗街道", "code": "GZ", "division_code": "350122001"},
    )
    assert res.status_code == 422 and "350121" in res.get_data(as_text=True)
    res = client.post(
        f"/units/{county.id}/units/new",
        data={"kind": "township", "name": "甘蔗街道", "code": "GZ", "division_code": "350121001"},
    )
    assert res.status_code == 302
    res = client.post(f"/units/{county.id}/edit", data={"name": "闽侯县", "division_code": "abc"})
    assert res.status_code == 422
