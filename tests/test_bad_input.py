"""No input answers 500: the edge (village_grid/edge.py) refuses what cannot be stored.

- An id in a URL path outside 1 … 2³¹−1 matches no route: 404.
- An id in a query string, a form or a JSON body outside it: 422 naming the field.
- A NUL or an unpaired surrogate in a path value, query, form field, header,
  JSON string or key: 422 naming the field ("bad_character").

Pages answer with the Chinese error page, the API with ``{"error": {...}}``.
These run on SQLite and on PostgreSQL (TEST_DATABASE_URL), where NUL in text
and ids past 2³¹−1 used to reach the database and fail there.
"""

from __future__ import annotations

import json

import pytest

from tests.factories import api_headers, create_task, create_user, create_village, login
from village_grid.edge import ID_MAX
from village_grid.extensions import db
from village_grid.qr import mailbox

HUGE = (ID_MAX + 1, 2**63 - 1, 2**63, 10**30)
NUL = "a\x00b"
LONE = "\ud800x"


@pytest.fixture
def world(client):
    v = create_village(grids=1, teams=2, households=2)
    v["admin"] = create_user("admin")
    v["task"] = create_task(v["village"], v["cadre"], kind="sweep", title="防汛排查")
    v["household"] = v["households"][0]
    v["token"] = v["household"].qr_token
    v["message"] = mailbox.create_message(
        db.session, v["household"], category="facilities", text="路灯坏了"
    )
    db.session.commit()
    return v


@pytest.fixture
def api(client, world):
    return api_headers(client, world["admin"])


def raw_json(client, url: str, body: str, headers: dict | None = None, method: str = "POST"):
    """Send ``body`` as written: JSON escapes like \\u0000 and \\ud800 reach the server as such."""
    return client.open(
        url,
        method=method,
        data=body.encode(),
        content_type="application/json",
        headers=headers or {},
    )


def api_error(res, status: int, field: str | None = None, code: str | None = None) -> dict:
    assert res.status_code == status, (res.status_code, res.get_data(as_text=True)[:300])
    body = res.get_json()
    assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
    if field is not None:
        assert field in body["error"]["fields"], body
        if code is not None:
            assert body["error"]["fields"][field] == code, body
    return body["error"]


def chinese_error_page(res, status: int) -> str:
    assert res.status_code == status, res.status_code
    assert res.mimetype == "text/html"
    page = res.get_data(as_text=True)
    assert "Traceback" not in page
    return page


# --- ids in a path: 404 ------------------------------------------------------------


@pytest.mark.parametrize("n", [0, *HUGE])
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/households/{n}",
        "/api/v1/units/{n}",
        "/api/v1/tasks/{n}",
        "/api/v1/tasks/{n}/progress",
        "/api/v1/households/{n}/qr.png",
    ],
)
def test_api_path_ids_out_of_range_are_404(client, api, url, n):
    api_error(client.get(url.format(n=n), headers=api), 404, code=None)


@pytest.mark.parametrize("n", HUGE)
def test_api_path_ids_out_of_range_are_404_for_writes_too(client, api, world, n):
    hh = world["household"].id
    api_error(client.post(f"/api/v1/tasks/{n}/close", headers=api), 404)
    api_error(client.post(f"/api/v1/escalations/{n}/ack", headers=api), 404)
    api_error(
        client.post(
            f"/api/v1/tasks/{n}/households/{hh}/status", json={"status": "safe"}, headers=api
        ),
        404,
    )
    api_error(client.patch(f"/api/v1/households/{n}", json={}, headers=api), 404)


@pytest.mark.parametrize("n", HUGE)
@pytest.mark.parametrize(
    "url", ["/units/{n}", "/households/{n}", "/mailbox/{n}", "/tasks/{n}", "/units/{n}/plates"]
)
def test_page_path_ids_out_of_range_are_404_pages(client, world, url, n):
    login(client, world["cadre"])
    page = chinese_error_page(client.get(url.format(n=n)), 404)
    assert "找不到" in page or "404" in page


def test_a_digit_string_too_long_for_python_is_404(client, api):
    api_error(client.get("/api/v1/units/" + "9" * 5000, headers=api), 404)


# --- ids in a query string, a form, a body: 422 naming the field -------------------


@pytest.mark.parametrize("n", [0, -1, *HUGE, "1.5", "abc", "9" * 5000])
def test_query_ids_out_of_range_are_422(client, api, world, n):
    api_error(client.get(f"/api/v1/units?parent_id={n}", headers=api), 422, "parent_id")
    login(client, world["cadre"])
    chinese_error_page(client.get(f"/registry/export?unit_id={n}"), 422)
    chinese_error_page(client.get(f"/tasks/{world['task'].id}/team?team={n}"), 422)
    res = client.get(f"/tasks/preview?unit_id={n}")
    assert res.status_code == 422 and "unit_id" in res.get_json()["error"]["fields"]


def test_the_registry_export_still_takes_a_good_unit_id(client, world):
    login(client, world["cadre"])
    assert client.get(f"/registry/export?unit_id={world['village'].id}").status_code == 200
    assert client.get("/registry/export").status_code == 200


@pytest.mark.parametrize("n", HUGE)
def test_body_ids_out_of_range_are_422_naming_the_field(client, api, world, n):
    team = world["teams"][0].id
    village = world["village"].id
    cases = [
        ("/api/v1/households", {"team_id": n, "head_name": "林"}, "team_id"),
        (f"/api/v1/households/{world['household'].id}/move", {"team_id": n}, "team_id"),
        ("/api/v1/units", {"kind": "grid", "name": "x", "parent_id": n}, "parent_id"),
        ("/api/v1/tasks", {"kind": "sweep", "title": "x", "unit_id": n}, "unit_id"),
        ("/api/v1/tasks/preview", {"unit_id": n}, "unit_id"),
        (
            "/api/v1/tasks/preview",
            {"unit_id": village, "filter": {"unit_ids": [team, n]}},
            "filter.unit_ids.1",
        ),
    ]
    for url, body, field in cases:
        api_error(client.post(url, json=body, headers=api), 422, field, "out_of_range")
    api_error(
        client.post(
            f"/api/v1/public/{world['token']}/reports", json={"task_id": n, "status": "safe"}
        ),
        422,
        "task_id",
    )


@pytest.mark.parametrize("n", HUGE)
def test_door_plate_form_task_id_out_of_range_is_refused_without_500(client, world, n):
    res = client.post(f"/h/{world['token']}/report", data={"task_id": str(n), "status": "safe"})
    # The door-plate page answers every refused report with a message on the page.
    assert res.status_code == 302
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "Traceback" not in page


@pytest.mark.parametrize("n", HUGE)
def test_dispatch_form_unit_id_out_of_range_is_refused_without_500(client, world, n):
    login(client, world["cadre"])
    res = client.post(
        "/tasks/new",
        data={"preset": "flood", "title": "防汛", "unit_id": str(n), "deadline": "60"},
    )
    assert res.status_code in (200, 422)
    res = client.post(
        "/tasks/new",
        data={
            "preset": "flood",
            "title": "防汛",
            "unit_id": str(world["village"].id),
            "grid_ids": str(n),
            "deadline": "60",
        },
    )
    assert res.status_code in (200, 422)


def test_whole_numbers_written_with_a_fraction_are_whole_numbers(client, api, world):
    """JSON Schema's "integer" takes 416316.0; the services take what the schema takes."""
    grid = world["grids"][0].id
    body = f'{{"unit_id": {world["village"].id}.0, "filter": {{"unit_ids": [{grid}.0, {grid}e0]}}}}'
    res = raw_json(client, "/api/v1/tasks/preview", body, api)
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["households"] == 4
    api_error(raw_json(client, "/api/v1/tasks/preview", '{"unit_id": 1.5}', api), 422, "unit_id")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_non_finite_numbers_are_not_json(client, api, world, number):
    body = f'{{"kind": "grid", "name": "x", "parent_id": {number}}}'
    api_error(raw_json(client, "/api/v1/units", body, api), 400, "body", "not_json")


# --- NUL and unpaired surrogates: 422 naming the field -----------------------------


@pytest.mark.parametrize("bad", [r"a\u0000b", r"\ud800x", r"x\udfff", r"\udc00\ud800"])
def test_api_text_with_bad_characters_is_422_naming_the_field(client, api, world, bad):
    team = world["teams"][0].id
    village = world["village"].id
    hh = world["household"].id
    cases = [
        ("/api/v1/units", f'{{"kind": "grid", "name": "{bad}", "parent_id": {village}}}', "name"),
        ("/api/v1/households", f'{{"team_id": {team}, "head_name": "{bad}"}}', "head_name"),
        (
            "/api/v1/households",
            f'{{"team_id": {team}, "head_name": "林", "members": [{{"name": "{bad}"}}]}}',
            "members.0.name",
        ),
        (
            "/api/v1/tasks",
            f'{{"kind": "sweep", "title": "{bad}", "unit_id": {village}}}',
            "title",
        ),
        (
            f"/api/v1/tasks/{world['task'].id}/households/{hh}/status",
            f'{{"status": "needs_help", "kind": "medical", "note": "{bad}"}}',
            "note",
        ),
    ]
    for url, body, field in cases:
        api_error(raw_json(client, url, body, api), 422, field, "bad_character")
    res = raw_json(client, f"/api/v1/households/{hh}", f'{{"address": "{bad}"}}', api, "PATCH")
    api_error(res, 422, "address", "bad_character")


@pytest.mark.parametrize("bad", [r"a\u0000b", r"\ud800x"])
def test_public_door_plate_api_refuses_bad_characters(client, world, bad):
    token = world["token"]
    task = world["task"].id
    body = f'{{"task_id": {task}, "status": "needs_help", "kind": "medical", "note": "{bad}"}}'
    api_error(raw_json(client, f"/api/v1/public/{token}/reports", body), 422, "note")
    body = f'{{"category": "facilities", "text": "{bad}"}}'
    api_error(raw_json(client, f"/api/v1/public/{token}/mailbox", body), 422, "text")
    # In a key too: the field named is the key, its bad character shown as U+FFFD.
    body = f'{{"task_id": {task}, "status": "safe", "answers": {{"{bad}": "1"}}}}'
    err = api_error(raw_json(client, f"/api/v1/public/{token}/reports", body), 422)
    assert list(err["fields"].values()) == ["bad_character"]
    assert "\x00" not in json.dumps(err, ensure_ascii=False)


def test_api_text_with_a_valid_surrogate_pair_is_fine(client, api, world):
    body = f'{{"team_id": {world["teams"][1].id}, "head_name": "林\\ud83d\\ude00"}}'
    res = raw_json(client, "/api/v1/households", body, api)
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["head_name"] == "林😀"


def test_nul_in_query_path_and_headers_is_422(client, api, world):
    api_error(client.get("/api/v1/units?kind=gr%00id", headers=api), 422, "kind", "bad_character")
    api_error(client.get(f"/api/v1/public/{world['token']}%00"), 422, "token", "bad_character")
    res = client.get("/api/v1/units", headers={**api, "X-Client": "a\x00b"})
    api_error(res, 422, "X-Client", "bad_character")


def test_door_plate_page_forms_refuse_nul_with_the_chinese_error_page(client, world):
    token = world["token"]
    res = client.post(
        f"/h/{token}/report",
        data={"task_id": str(world["task"].id), "status": "needs_help", "note": NUL},
    )
    page = chinese_error_page(res, 422)
    assert "不允许" in page
    res = client.post(
        f"/h/{token}/mailbox", data={"category": "facilities", "text": NUL, "callback_phone": ""}
    )
    chinese_error_page(res, 422)
    chinese_error_page(client.get(f"/h/{token}%00"), 422)


def test_staff_page_forms_refuse_nul(client, world):
    login(client, world["cadre"])
    team = world["teams"][1]
    res = client.post(f"/units/{team.id}/households/new", data={"head_name": NUL})
    chinese_error_page(res, 422)
    res = client.post(
        f"/mailbox/{world['message'].id}/reply", data={"reply": NUL}, follow_redirects=False
    )
    chinese_error_page(res, 422)
    res = client.post("/tasks/new", data={"preset": "flood", "title": NUL, "unit_id": "1"})
    chinese_error_page(res, 422)


def test_nul_on_the_login_page_is_refused_not_a_500(client):
    res = client.post("/login", data={"login": NUL, "password": "x"})
    chinese_error_page(res, 422)


def test_an_upload_named_with_a_nul_is_refused(client, api):
    res = client.post(
        "/api/v1/import",
        data={"file": (__import__("io").BytesIO(b"x"), "a\x00.csv")},
        headers=api,
        content_type="multipart/form-data",
    )
    api_error(res, 422, "file", "bad_character")


def test_nothing_bad_was_stored(client, api, world):
    """After every refusal above, the rows are the factory's."""
    from village_grid.models import Household, Unit

    assert db.session.query(Unit).count() == 1 + 1 + 1 + 2
    assert db.session.query(Household).count() == 4
