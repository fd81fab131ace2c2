"""The JSON API for the unit tree and the household registry (/api/v1)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.factories import (
    PASSWORD,
    api_headers,
    create_household,
    create_tree,
    create_unit,
    create_user,
)
from village_grid.auth import service as auth_service
from village_grid.extensions import db, limiter
from village_grid.models import Household, Unit


def error_of(res, status: int, code: str | None = None) -> dict:
    """Assert the DESIGN error shape and return the error object."""
    assert res.status_code == status, (res.status_code, res.get_data(as_text=True)[:500])
    body = res.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str) and err["message"]
    if code:
        assert err["code"] == code, err
    return err


@pytest.fixture
def world():
    tree = create_tree(grids=2, teams=2, households=1)
    return tree


@pytest.fixture
def cadre(world):
    return create_user("cadre", world["village"])


@pytest.fixture
def auth(client, cadre):
    return api_headers(client, cadre)


def new_household(team_id: int, **extra) -> dict:
    body = {
        "team_id": team_id,
        "door_no": "侯官村12号",
        "head_name": "林秀英",
        "phone": "138 0013 8000",
        "flags": ["elderly_alone", "flood_prone"],
        "members": [
            {"name": "林秀英", "relation": "head", "sex": "F", "birth_year": 1948},
            {"name": "陈建国", "relation": "child", "sex": "M", "phone": "13912345678"},
        ],
    }
    body.update(extra)
    return body


# --- tokens ------------------------------------------------------------------


def test_token_by_username_and_by_phone(client):
    user = create_user("admin", phone="13700001111")
    for login in (user.username, "137 0000 1111"):
        res = client.post("/api/v1/auth/token", json={"username": login, "password": PASSWORD})
        assert res.status_code == 200
        assert res.get_json()["token"] and res.get_json()["expires_in"] > 0


def test_wrong_password_and_missing_token_are_401(client, world):
    user = create_user("cadre", world["village"])
    res = client.post("/api/v1/auth/token", json={"username": user.username, "password": "x"})
    error_of(res, 401, "bad_login")
    error_of(client.get("/api/v1/units"), 401, "unauthorized")
    error_of(client.get("/api/v1/units", headers={"Authorization": "Bearer nonsense"}), 401)
    error_of(client.get("/api/v1/units", headers={"Authorization": "Basic abc"}), 401)


def test_tampered_token_is_401(client, cadre, auth):
    token = auth["Authorization"][7:]
    assert client.get("/api/v1/units", headers=auth).status_code == 200
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    error_of(client.get("/api/v1/units", headers={"Authorization": f"Bearer {flipped}"}), 401)
    # Signed with another key: refused even though it decodes.
    forged = auth_service.issue_token("another-secret", cadre)
    error_of(client.get("/api/v1/units", headers={"Authorization": f"Bearer {forged}"}), 401)


def test_expired_token_is_401(app, client, auth):
    assert client.get("/api/v1/units", headers=auth).status_code == 200
    old = app.config["API_TOKEN_MAX_AGE"]
    app.config["API_TOKEN_MAX_AGE"] = -1  # every token is now older than allowed
    try:
        error_of(client.get("/api/v1/units", headers=auth), 401, "unauthorized")
    finally:
        app.config["API_TOKEN_MAX_AGE"] = old
    assert client.get("/api/v1/units", headers=auth).status_code == 200


def test_password_change_and_deactivation_invalidate_tokens(client, cadre, auth):
    assert client.get("/api/v1/units", headers=auth).status_code == 200
    user = db.session.get(type(cadre), cadre.id)
    auth_service.set_password(db.session, user, "a-new-password")
    db.session.commit()
    error_of(client.get("/api/v1/units", headers=auth), 401)
    fresh = api_headers(client, user, password="a-new-password")
    assert client.get("/api/v1/units", headers=fresh).status_code == 200
    user.active = False
    db.session.commit()
    error_of(client.get("/api/v1/units", headers=fresh), 401)


# --- units -------------------------------------------------------------------


def test_units_list_is_scoped_filtered_and_paged(client, world):
    grid_a = world["grids"][0]
    member = create_user("grid_member", grid_a)
    headers = api_headers(client, member)
    body = client.get("/api/v1/units", headers=headers).get_json()
    ids = {u["id"] for u in body["units"]}
    assert ids == {grid_a.id, *(t.id for t in world["teams"][:2])}
    assert body["total"] == 3 and body["limit"] == 200 and body["offset"] == 0
    team = next(u for u in body["units"] if u["kind"] == "team")
    assert team["household_count"] == 1 and team["parent_id"] == grid_a.id

    teams = client.get("/api/v1/units?kind=team", headers=headers).get_json()["units"]
    assert {u["kind"] for u in teams} == {"team"} and len(teams) == 2
    page = client.get("/api/v1/units?limit=2&offset=2", headers=headers).get_json()
    assert len(page["units"]) == 1 and page["total"] == 3
    children = client.get(f"/api/v1/units?parent_id={grid_a.id}", headers=headers).get_json()
    assert [u["id"] for u in children["units"]] == [t.id for t in world["teams"][:2]]

    # The other grid, as a parent, does not exist for this user.
    other = world["grids"][1].id
    error_of(client.get(f"/api/v1/units?parent_id={other}", headers=headers), 404, "not_found")


@pytest.mark.parametrize(
    "query,field",
    [
        ("kind=castle", "kind"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("parent_id=abc", "parent_id"),
        ("parent_id=99999999999999999999", "parent_id"),
    ],
)
def test_units_list_bad_query_is_422(client, auth, query, field):
    err = error_of(client.get(f"/api/v1/units?{query}", headers=auth), 422)
    assert field in err["fields"]


def test_unit_detail_has_counts_children_and_breadcrumb(client, world, auth):
    grid = world["grids"][0]
    body = client.get(f"/api/v1/units/{grid.id}", headers=auth).get_json()
    assert body["household_count"] == 2 and body["kind"] == "grid"
    assert [c["id"] for c in body["children"]] == [t.id for t in world["teams"][:2]]
    assert all(c["household_count"] == 1 for c in body["children"])
    assert [b["id"] for b in body["breadcrumb"]] == [world["township"].id, world["village"].id]
    assert body["path"] == grid.path
    error_of(client.get("/api/v1/units/999999", headers=auth), 404, "not_found")
    error_of(client.get(f"/api/v1/units/{world['township'].id}", headers=auth), 404, "not_found")


def test_create_unit(client, world, auth):
    grid = world["grids"][0]
    res = client.post(
        "/api/v1/units",
        headers=auth,
        json={"kind": "team", "name": "1-3小队", "parent_id": grid.id},
    )
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["kind"] == "team" and body["household_count"] == 0 and body["code"]
    assert res.headers["Location"].endswith(f"/api/v1/units/{body['id']}")
    assert db.session.get(Unit, body["id"]).parent_id == grid.id

    again = client.post(
        "/api/v1/units",
        headers=auth,
        json={"kind": "team", "name": "1-3小队", "parent_id": grid.id},
    )
    error_of(again, 409, "duplicate_name")
    team = world["teams"][0]
    under_team = {"kind": "building", "name": "楼", "parent_id": team.id}
    assert (
        "parent_id"
        in error_of(client.post("/api/v1/units", headers=auth, json=under_team), 422)["fields"]
    )
    outside = {"kind": "village", "name": "外村", "parent_id": world["township"].id}
    error_of(client.post("/api/v1/units", headers=auth, json=outside), 404, "not_found")
    root = {"kind": "township", "name": "新镇", "parent_id": None}
    assert (
        "parent_id"
        in error_of(client.post("/api/v1/units", headers=auth, json=root), 422)["fields"]
    )


def test_team_lead_may_not_add_units(client, world):
    lead = create_user("team_lead", world["teams"][0])
    headers = api_headers(client, lead)
    body = {"kind": "building", "name": "楼", "parent_id": world["teams"][0].id}
    error_of(client.post("/api/v1/units", headers=headers, json=body), 403, "forbidden")


# --- households ----------------------------------------------------------------


def test_create_read_household(client, world, auth):
    team = world["teams"][0]
    res = client.post("/api/v1/households", headers=auth, json=new_household(team.id))
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["team_id"] == team.id and body["team_name"] == team.name
    assert body["phone"] == "13800138000"  # normalised
    assert body["flags"] == ["elderly_alone", "flood_prone"]
    assert [m["name"] for m in body["members"]] == ["林秀英", "陈建国"]
    assert body["members"][0]["birth_year"] == 1948 and body["members"][1]["sex"] == "M"
    assert body["code"].startswith("HG-") and body["created_at"].endswith("Z")
    assert set(body) >= {
        "id", "code", "team_id", "team_name", "door_no", "address", "head_name", "phone",
        "latitude", "longitude", "flags", "members", "created_at", "updated_at",
    }  # fmt: skip
    got = client.get(f"/api/v1/households/{body['id']}", headers=auth)
    assert got.status_code == 200 and got.get_json() == body


def test_household_in_a_full_team_is_409_with_suggestions(client, world, auth):
    full, roomy = world["teams"][0], world["teams"][1]
    for _ in range(9):
        create_household(full)
    res = client.post("/api/v1/households", headers=auth, json=new_household(full.id))
    err = error_of(res, 409, "team_full")
    assert roomy.id in err["fields"]["suggested_team_ids"]
    assert full.name in err["message"]
    count = db.session.scalar(select(func.count(Household.id)).where(Household.team_id == full.id))
    assert count == 10


def test_household_field_errors_are_422_naming_the_field(client, world, auth):
    team = world["teams"][0]
    cases = [
        ({"phone": "12345"}, "phone"),
        ({"flags": ["dragon"]}, "flags.0"),
        ({"head_name": ""}, "head_name"),
        ({"head_name": "  "}, "head_name"),
        ({"latitude": 91}, "latitude"),
        ({"members": [{"relation": "head"}]}, "members.0.name"),
        ({"members": [{"name": "x", "birth_year": 1700}]}, "members.0.birth_year"),
        ({"members": [{"name": "x", "phone": "555"}]}, "members.0.phone"),
        ({"colour": "red"}, "colour"),
        ({"team_id": world["grids"][0].id}, "team_id"),
    ]
    for extra, field in cases:
        res = client.post(
            "/api/v1/households", headers=auth, json={**new_household(team.id), **extra}
        )
        err = error_of(res, 422)
        assert field in err["fields"], (extra, err)
    missing = client.post("/api/v1/households", headers=auth, json={"door_no": "1"})
    assert error_of(missing, 422)["fields"] == {"team_id": "required", "head_name": "required"}
    res = client.post(
        "/api/v1/households",
        headers=auth,
        json={**new_household(team.id), "latitude": 91, "flags": ["x"], "head_name": 7},
    )
    assert error_of(res, 422)["fields"] == {
        "latitude": "out_of_range",
        "flags.0": "unknown",
        "head_name": "wrong_type",
    }
    res = client.post(
        "/api/v1/households",
        headers=auth,
        json={**new_household(team.id), "members": [{"name": "x", "age": 3}]},
    )
    assert error_of(res, 422)["fields"] == {"members.0.age": "not_allowed"}


def test_out_of_scope_team_is_404(client, world):
    lead_grid = create_user("grid_member", world["grids"][0])
    headers = api_headers(client, lead_grid)
    other_team = world["teams"][2]
    res = client.post("/api/v1/households", headers=headers, json=new_household(other_team.id))
    error_of(res, 404, "not_found")
    res = client.post("/api/v1/households", headers=headers, json=new_household(999999))
    error_of(res, 404, "not_found")


def test_patch_household_partial(client, world, auth):
    household = world["households"][0]
    url = f"/api/v1/households/{household.id}"
    before = client.get(url, headers=auth).get_json()
    res = client.patch(url, headers=auth, json={"phone": "0591-87654321", "flags": ["veteran"]})
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["phone"] == "0591-87654321" and body["flags"] == ["veteran"]
    assert body["head_name"] == before["head_name"] and body["door_no"] == before["door_no"]
    res = client.patch(
        url, headers=auth, json={"members": [{"name": "王芳", "relation": "spouse"}]}
    )
    assert [m["name"] for m in res.get_json()["members"]] == ["王芳"]
    res = client.patch(url, headers=auth, json={"latitude": 26.05, "longitude": 119.3})
    assert res.get_json()["latitude"] == 26.05
    res = client.patch(url, headers=auth, json={"latitude": None})
    assert res.get_json()["latitude"] is None and res.get_json()["longitude"] == 119.3
    assert client.patch(url, headers=auth, json={}).status_code == 200

    err = error_of(client.patch(url, headers=auth, json={"team_id": 3, "code": "X"}), 422)
    assert err["fields"] == {"code": "not_allowed", "team_id": "not_allowed"}
    error_of(client.patch(url, headers=auth, json={"phone": "abc"}), 422)
    assert client.get(url, headers=auth).get_json()["phone"] == "0591-87654321"


def test_team_lead_reads_but_may_not_change_own_household(client, world):
    team = world["teams"][0]
    lead = create_user("team_lead", team)
    headers = api_headers(client, lead)
    household = world["households"][0]
    assert client.get(f"/api/v1/households/{household.id}", headers=headers).status_code == 200
    res = client.patch(f"/api/v1/households/{household.id}", headers=headers, json={"phone": ""})
    error_of(res, 403, "forbidden")
    res = client.post("/api/v1/households", headers=headers, json=new_household(team.id))
    error_of(res, 403, "forbidden")


def test_move_household(client, world, auth):
    household = world["households"][0]
    target = world["teams"][1]
    url = f"/api/v1/households/{household.id}/move"
    res = client.post(url, headers=auth, json={"team_id": target.id})
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["team_id"] == target.id and body["code"] != household.code

    for _ in range(10):  # team 0 is empty now: fill it
        create_household(world["teams"][0])
    err = error_of(client.post(url, headers=auth, json={"team_id": world["teams"][0].id}), 409)
    assert err["code"] == "team_full" and "suggested_team_ids" in err["fields"]
    error_of(client.post(url, headers=auth, json={"team_id": "2"}), 422)
    error_of(client.post(url, headers=auth, json={}), 422)
    village = create_unit("village", "颜岐村", create_unit("township", "另一个镇"), code="YQ")
    outside = create_unit("team", "1小队", create_unit("grid", "1网格", village))
    error_of(client.post(url, headers=auth, json={"team_id": outside.id}), 404, "not_found")


# --- never a 500 ----------------------------------------------------------------

HUGE = "户" * 100_000

MALFORMED_JSON = [
    None,
    [],
    [1, 2],
    "text",
    42,
    True,
    {"team_id": None},
    {"team_id": "1"},
    {"team_id": 1.5},
    {"team_id": -1},
    {"team_id": 10**30},
    {"team_id": [1]},
    {"team_id": {"id": 1}},
    {"kind": None, "name": None, "parent_id": None},
    {"kind": ["team"], "name": {"x": 1}, "parent_id": "1"},
    {"kind": "team", "name": HUGE, "parent_id": 1},
    {"head_name": HUGE, "team_id": 1},
    {"head_name": 5, "phone": 13800138000, "team_id": 1},
    {"flags": "elderly_alone", "head_name": "a", "team_id": 1},
    {"flags": [None, 1, {}], "head_name": "a", "team_id": 1},
    {"members": {"name": "x"}, "head_name": "a", "team_id": 1},
    {"members": [None, "x", 3], "head_name": "a", "team_id": 1},
    {"members": [{"name": "x"}] * 500, "head_name": "a", "team_id": 1},
    {"latitude": "north", "longitude": [], "head_name": "a", "team_id": 1},
    {"latitude": 1e308 * 10, "head_name": "a", "team_id": 1},
    {"": 1, "\u0000": None, "a" * 5000: 1},
    {f"k{i}": i for i in range(2000)},
]

RAW_BODIES = [
    ("application/json", b""),
    ("application/json", b"{"),
    ("application/json", b"{'a': 1}"),
    ("application/json", b"\xff\xfe\x00garbage"),
    ("application/json", b"[" * 100_000 + b"]" * 100_000),
    ("application/json", b'{"a": NaN, "b": Infinity}'),
    ("text/plain", b'{"team_id": 1}'),
    ("application/x-www-form-urlencoded", b"team_id=1&head_name=x"),
    ("multipart/form-data; boundary=zzz", b"--zzz\r\nbroken"),
    ("application/xml", b"<household/>"),
]


def test_non_json_body_is_400_bad_json(client, world, auth):
    team = world["teams"][0]
    res = client.post(
        "/api/v1/households", headers=auth, data=b"{not json", content_type="application/json"
    )
    error_of(res, 400, "bad_json")
    res = client.post(
        "/api/v1/households", headers=auth, data=json.dumps(new_household(team.id)),
        content_type="text/plain",
    )  # fmt: skip
    error_of(res, 400, "bad_json")
    error_of(client.post("/api/v1/households", headers=auth, json=[]), 422)


def test_unknown_route_and_method_are_json_errors(client, auth):
    error_of(client.get("/api/v1/nothing-here", headers=auth), 404, "not_found")
    error_of(client.delete("/api/v1/units", headers=auth), 405, "method_not_allowed")


def test_token_endpoint_is_rate_limited(app, client, monkeypatch):
    # The route's rate limit is what is tested here, not the lock after ten failed
    # logins (tests/test_auth_login.py): that one is set out of the way.
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 1000)
    bad = {"username": "nobody", "password": "bad-password"}
    statuses = [client.post("/api/v1/auth/token", json=bad).status_code for _ in range(20)]
    assert statuses == [401] * 20
    error_of(client.post("/api/v1/auth/token", json=bad), 429, "rate_limited")


def test_error_messages_are_chinese_by_default_and_english_on_request(client, world, auth):
    res = client.post("/api/v1/households", headers=auth, json={"x": 1})
    assert error_of(res, 422)["message"] == "请求内容不正确。"
    res = client.post("/api/v1/households?lang=en", headers=auth, json={"x": 1})
    assert error_of(res, 422)["message"] == "The request body is not valid."


# --- import ----------------------------------------------------------------------

GOOD_CSV = (
    "镇,村,网格,小队,门牌号,户主,电话,标签,成员\n"
    "甘蔗街道,侯官村,第1网格,1-1小队,侯官村1号,林秀英,13800138001,独居老人,林秀英|户主|女|1948\n"
    "甘蔗街道,侯官村,第3网格,3-1小队,侯官村2号,陈建国,0591-87654321,,"
    "陈建国|户主|男|1970;王芳|配偶|女|1972\n"
)


def upload(client, headers, content: bytes, filename: str = "registry.csv"):
    import io

    return client.post(
        "/api/v1/import",
        headers=headers,
        data={"file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def test_import_creates_units_households_and_members(client, world, auth):
    res = upload(client, auth, GOOD_CSV.encode("utf-8"))
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["households_created"] == 2 and body["members_created"] == 3
    assert body["units_created"] == 2  # 第3网格 and its team 3-1小队
    new_team = db.session.scalar(select(Unit).where(Unit.name == "3-1小队"))
    assert new_team is not None and new_team.parent.name == "第3网格"


def test_import_with_bad_rows_changes_nothing_and_lists_them(client, world, auth):
    bad = GOOD_CSV + "甘蔗街道,侯官村,第1网格,1-1小队,3号,,12345,飞龙,\n"
    before = db.session.scalar(select(func.count(Household.id)))
    res = upload(client, auth, bad.encode("utf-8"))
    err = error_of(res, 422, "import_rejected")
    lines = {row["line"] for row in err["rows"]}
    assert lines == {4}, err["rows"]
    assert all(row["reason"] for row in err["rows"])
    assert db.session.scalar(select(func.count(Household.id))) == before
    assert db.session.scalar(select(Unit).where(Unit.name == "第3网格")) is None


def test_import_bad_requests(client, world, auth):
    missing = client.post("/api/v1/import", headers=auth, json={"file": "x"})
    assert error_of(missing, 422)["fields"] == {"file": "required"}
    res = upload(client, auth, b"\x00\x01\x02garbage", filename="registry.xlsx")
    error_of(res, 422, "import_rejected")
    lead = create_user("team_lead", world["teams"][0])
    res = upload(client, api_headers(client, lead), GOOD_CSV.encode())
    error_of(res, 403, "forbidden")
    error_of(upload(client, {}, GOOD_CSV.encode()), 401, "unauthorized")


def test_import_outside_the_cadres_village_is_refused(client, world, auth):
    other = "镇,村,网格,小队,户主\n甘蔗街道,颜岐村,第1网格,1小队,外村人\n"
    err = error_of(upload(client, auth, other.encode("utf-8")), 422, "import_rejected")
    assert [row["line"] for row in err["rows"]] == [2]
    assert db.session.scalar(select(Unit).where(Unit.name == "颜岐村")) is None


# The registry's writes: every malformed body must be refused (4xx) and change nothing.
REGISTRY_WRITES = {
    "api.token",
    "api.unit_create",
    "api.household_create",
    "api.household_update",
    "api.household_move",
    "api.import_file",
}


def test_no_api_write_answers_a_malformed_body_with_500(app, client, world):
    """Every POST/PUT/PATCH under /api/v1 — other domains' too — as an admin (so the
    scope check passes and the body is read): bad bodies are 4xx in the error
    shape, never a 500. The registry's writes refuse every one of them (other
    endpoints that take no body may answer 2xx)."""
    from tests.test_scope_matrix import url_values

    headers = api_headers(client, create_user("admin"))
    values = url_values(world)
    tried = 0
    seen: set[str] = set()
    households = db.session.scalar(select(func.count(Household.id)))
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or not rule.arguments <= set(values):
            continue
        url = rule.build({a: values[a] for a in rule.arguments}, append_unknown=False)[1]
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            cases = [("application/json", json.dumps(b).encode()) for b in MALFORMED_JSON]
            for content_type, raw in cases + RAW_BODIES:
                limiter.reset()
                res = client.open(
                    url, method=method, headers=headers, data=raw, content_type=content_type
                )
                tried += 1
                assert res.status_code < 500, (method, url, raw[:60], res.get_data()[:300])
                if rule.endpoint in REGISTRY_WRITES:
                    assert res.status_code >= 400, (method, url, raw[:60], res.status_code)
                if res.status_code >= 400:
                    error_of(res, res.status_code)
                    seen.add(rule.endpoint)
    assert seen >= REGISTRY_WRITES
    assert tried > 100
    assert db.session.scalar(select(func.count(Household.id))) == households
