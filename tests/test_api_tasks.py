"""The task API: dispatch, progress, statuses, escalations, closing — and scope."""

import pytest

from tests.factories import api_headers, create_village

STATUS_KEYS = ("total", "pending", "safe", "needs_help", "not_home", "unreachable")


@pytest.fixture
def village():
    """2 grids × 2 teams × 2 households; a grid member on grid 1 only, a lead on team 1-1."""
    return create_village(grids=2, teams=2, households=2, grid_members=1)


def post_task(client, headers, unit_id, **extra):
    body = {
        "kind": "sweep",
        "subkind": "flood",
        "title": "防汛排查",
        "unit_id": unit_id,
        "deadline_minutes": 60,
    }
    body.update(extra)
    return client.post("/api/v1/tasks", json=body, headers=headers)


def test_dispatch_progress_status_and_close(client, village):
    h = api_headers(client, village["cadre"])
    res = client.post(
        "/api/v1/tasks/preview",
        json={"unit_id": village["village"].id, "filter": {"unit_ids": [village["grids"][0].id]}},
        headers=h,
    )
    assert res.status_code == 200 and res.get_json() == {"households": 4, "teams": 2}

    res = post_task(
        client, h, village["village"].id, filter={"flags": [], "unit_ids": [village["grids"][0].id]}
    )
    assert res.status_code == 201, res.get_json()
    created = res.get_json()
    assert set(created) == {"id", "households", "teams"}
    assert (created["households"], created["teams"]) == (4, 2)
    task_id = created["id"]

    hh = village["households"][0]
    lead_h = api_headers(client, village["lead"])
    url = f"/api/v1/tasks/{task_id}/households/{hh.id}/status"
    res = client.post(
        url, json={"status": "needs_help", "kind": "medical", "note": "老人发烧"}, headers=lead_h
    )
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["status"] == "needs_help" and res.get_json()["kind"] == "medical"

    res = client.get(f"/api/v1/tasks/{task_id}/progress", headers=h)
    assert res.status_code == 200
    p = res.get_json()
    assert {k: p[k] for k in STATUS_KEYS} == {
        "total": 4,
        "pending": 3,
        "safe": 0,
        "needs_help": 1,
        "not_home": 0,
        "unreachable": 0,
    }
    # One level at a time: the village and its grid; then the grid and its teams.
    assert (p["unit"]["kind"], p["trail"]) == ("village", [])
    assert [c["kind"] for c in p["children"]] == ["grid"]
    grid = p["children"][0]
    assert (grid["total"], grid["needs_help"], grid["covered"]) == (4, 1, 1)
    p = client.get(f"/api/v1/tasks/{task_id}/progress?unit_id={grid['id']}", headers=h).get_json()
    assert p["unit"]["id"] == grid["id"] and [t["kind"] for t in p["trail"]] == ["village"]
    assert [c["kind"] for c in p["children"]] == ["team", "team"]
    lead = village["lead"]
    assert p["children"][0]["told"] == {
        "name": lead.display_name,
        "phone": lead.phone,
        "role": "team_lead",
    }
    assert p["needs_help_cases"][0]["note"] == "老人发烧"
    team = p["children"][1]
    p = client.get(f"/api/v1/tasks/{task_id}/progress?unit_id={team['id']}", headers=h).get_json()
    assert (p["total"], p["children"], p["needs_help_cases"]) == (team["total"], [], [])
    # A unit the task did not reach is not found; a unit id that is not one is refused.
    township = village["village"].parent_id
    res = client.get(f"/api/v1/tasks/{task_id}/progress?unit_id={township}", headers=h)
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found"
    res = client.get(f"/api/v1/tasks/{task_id}/progress?unit_id=abc", headers=h)
    assert res.status_code == 422 and res.get_json()["error"]["fields"] == {"unit_id": "invalid"}

    res = client.get("/api/v1/escalations?open=1", headers=h)
    cases = res.get_json()["escalations"]
    assert [(c["household"]["id"], c["reason"], c["level"]) for c in cases] == [
        (hh.id, "needs_help", 2)
    ]
    esc_id = cases[0]["id"]
    res = client.post(f"/api/v1/escalations/{esc_id}/ack", headers=h)
    assert res.status_code == 200 and res.get_json()["status"] == "acknowledged"
    res = client.post(f"/api/v1/escalations/{esc_id}/resolve", json={}, headers=h)
    assert res.status_code == 422 and res.get_json()["error"]["fields"] == {"note": "required"}
    res = client.post(f"/api/v1/escalations/{esc_id}/resolve", json={"note": "已送医"}, headers=h)
    assert res.status_code == 200 and res.get_json()["resolution_note"] == "已送医"
    assert client.get("/api/v1/escalations?open=1", headers=h).get_json()["escalations"] == []

    res = client.post(f"/api/v1/tasks/{task_id}/close", headers=h)
    assert res.status_code == 200 and res.get_json()["closed_at"]
    res = client.post(url, json={"status": "safe"}, headers=lead_h)
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "task_closed"


def test_offline_replay_through_the_api_changes_nothing(client, village):
    h = api_headers(client, village["cadre"])
    task_id = post_task(client, h, village["village"].id).get_json()["id"]
    hh = village["households"][0]
    url = f"/api/v1/tasks/{task_id}/households/{hh.id}/status"
    lead_h = api_headers(client, village["lead"])
    body = {
        "status": "safe",
        "client_op_id": "lead-phone-42",
        "client_time": "2020-01-01T08:00:00Z",
    }
    first = client.post(url, json=body, headers=lead_h).get_json()
    again = client.post(url, json={**body, "status": "not_home"}, headers=lead_h).get_json()
    # The replay answers with the first event, and says it was a duplicate.
    event = ("event_id", "status", "created_at", "client_op_id", "via")
    assert {k: again[k] for k in event} == {k: first[k] for k in event}
    assert again["status"] == "safe"
    assert (first["result"], first["clamped"]) == ("applied", "before_dispatch")
    assert again["result"] == "duplicate"
    p = client.get(f"/api/v1/tasks/{task_id}/progress", headers=h).get_json()
    assert (p["safe"], p["not_home"]) == (1, 0)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"kind": "party"}, "kind"),
        ({"title": ""}, "title"),
        ({"deadline_minutes": -5}, "deadline_minutes"),
        ({"deadline_minutes": "soon"}, "deadline_minutes"),
        ({"filter": {"flags": ["rich"]}}, "filter.flags.0"),
        ({"filter": {"unit_ids": ["x"]}}, "filter.unit_ids.0"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_dispatch_bodies_are_422(client, village, body, field):
    h = api_headers(client, village["cadre"])
    res = post_task(client, h, village["village"].id, **body)
    assert res.status_code == 422, res.get_json()
    assert field in res.get_json()["error"]["fields"]


def test_bad_status_bodies(client, village):
    h = api_headers(client, village["cadre"])
    task_id = post_task(client, h, village["village"].id).get_json()["id"]
    url = f"/api/v1/tasks/{task_id}/households/{village['households'][0].id}/status"
    assert client.post(url, json={"status": "fine"}, headers=h).status_code == 422
    assert (
        client.post(url, json={"status": "needs_help", "kind": "money"}, headers=h).status_code
        == 422
    )
    assert (
        client.post(url, json={"status": "safe", "client_time": "yesterday"}, headers=h).status_code
        == 422
    )
    assert client.post(url, data="safe", headers=h).status_code in (400, 422)
    res = client.post(
        f"/api/v1/tasks/{task_id}/households/999999/status", json={"status": "safe"}, headers=h
    )
    assert res.status_code == 404


def test_grid_member_works_only_within_their_grid(client, village):
    gm = api_headers(client, village["gm"])
    grid_a, grid_b = village["grids"]
    assert post_task(client, gm, grid_a.id).status_code == 201
    res = post_task(client, gm, grid_b.id)
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found"
    assert post_task(client, gm, village["village"].id).status_code == 404

    cadre = api_headers(client, village["cadre"])
    b_task = post_task(client, cadre, grid_b.id).get_json()["id"]
    for path in (f"/api/v1/tasks/{b_task}", f"/api/v1/tasks/{b_task}/progress"):
        assert client.get(path, headers=gm).status_code == 404
    assert client.post(f"/api/v1/tasks/{b_task}/close", headers=gm).status_code == 404
    b_house = village["households"][4]
    res = client.post(
        f"/api/v1/tasks/{b_task}/households/{b_house.id}/status",
        json={"status": "safe"},
        headers=gm,
    )
    assert res.status_code == 404

    # A village-wide task: the grid member sees only their grid's part of it.
    all_task = post_task(client, cadre, village["village"].id).get_json()["id"]
    p = client.get(f"/api/v1/tasks/{all_task}/progress", headers=gm).get_json()
    assert p["total"] == 4 and [c["id"] for c in p["children"]] == [grid_a.id]
    p = client.get(f"/api/v1/tasks/{all_task}/progress?unit_id={grid_a.id}", headers=gm).get_json()
    assert [c["id"] for c in p["children"]] == [t.id for t in village["teams"][:2]]
    res = client.get(f"/api/v1/tasks/{all_task}/progress?unit_id={grid_b.id}", headers=gm)
    assert res.status_code == 404
    listed = {t["id"] for t in client.get("/api/v1/tasks", headers=gm).get_json()["tasks"]}
    assert b_task not in listed and all_task in listed

    # A team lead reports for their own team only, and may not dispatch.
    lead = api_headers(client, village["lead"])
    assert post_task(client, lead, village["teams"][0].id).status_code == 403
    other = village["households"][2]
    res = client.post(
        f"/api/v1/tasks/{all_task}/households/{other.id}/status",
        json={"status": "safe"},
        headers=lead,
    )
    assert res.status_code == 404
    # Escalations in another grid are not theirs to see or touch.
    client.post(
        f"/api/v1/tasks/{all_task}/households/{b_house.id}/status",
        json={"status": "needs_help"},
        headers=cadre,
    )
    assert client.get("/api/v1/escalations", headers=gm).get_json()["escalations"] == []
    esc = client.get("/api/v1/escalations", headers=cadre).get_json()["escalations"][0]
    assert client.post(f"/api/v1/escalations/{esc['id']}/ack", headers=gm).status_code == 404
    assert client.post(f"/api/v1/escalations/{esc['id']}/ack", headers=lead).status_code == 404


def test_anonymous_gets_401_and_openapi_lists_the_endpoints(client, village):
    assert client.post("/api/v1/tasks", json={}).status_code == 401
    assert client.get("/api/v1/escalations").status_code == 401
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for p in (
        "/tasks",
        "/tasks/{task_id}/progress",
        "/tasks/{task_id}/households/{household_id}/status",
        "/escalations",
        "/escalations/{escalation_id}/resolve",
    ):
        assert p in paths, p
    assert "requestBody" in paths["/tasks"]["post"]


def test_notice_read_receipt(client, village):
    h = api_headers(client, village["cadre"])
    res = post_task(
        client,
        h,
        village["village"].id,
        kind="notice",
        subkind="",
        title="寻找走失儿童",
        deadline_minutes=None,
    )
    task_id = res.get_json()["id"]
    lead = api_headers(client, village["lead"])
    assert client.post(f"/api/v1/tasks/{task_id}/read", headers=lead).status_code == 200
    p = client.get(f"/api/v1/tasks/{task_id}/progress", headers=h).get_json()
    assert p["reads"]["read"] == 1 and p["total"] == 0


def test_the_escalation_queue_comes_a_page_at_a_time(client, village):
    h = api_headers(client, village["cadre"])
    task_id = post_task(client, h, village["village"].id).get_json()["id"]
    for household in village["households"][:5]:
        res = client.post(
            f"/api/v1/tasks/{task_id}/households/{household.id}/status",
            json={"status": "needs_help", "kind": "medical"},
            headers=h,
        )
        assert res.status_code == 200
    whole = client.get("/api/v1/escalations", headers=h).get_json()
    assert (whole["total"], whole["limit"], whole["offset"]) == (5, 200, 0)
    newest_first = [c["id"] for c in whole["escalations"]]
    assert newest_first == sorted(newest_first, reverse=True)
    pages = [
        client.get(f"/api/v1/escalations?limit=2&offset={offset}", headers=h).get_json()
        for offset in (0, 2, 4)
    ]
    assert [len(p["escalations"]) for p in pages] == [2, 2, 1]
    assert [c["id"] for p in pages for c in p["escalations"]] == newest_first
    assert {p["total"] for p in pages} == {5}
    for bad in ("limit=0", "limit=1001", "offset=-1", "limit=x"):
        res = client.get(f"/api/v1/escalations?{bad}", headers=h)
        assert res.status_code == 422, bad
        assert list(res.get_json()["error"]["fields"]) == [bad.split("=")[0]]


def test_a_tasks_households_come_a_page_at_a_time_in_the_askers_scope(client, village):
    cadre = api_headers(client, village["cadre"])
    task = post_task(client, cadre, village["village"].id).get_json()["id"]
    h = village["households"]
    client.post(
        f"/api/v1/tasks/{task}/households/{h[1].id}/status", json={"status": "safe"}, headers=cadre
    )
    url = f"/api/v1/tasks/{task}/households"
    first = client.get(f"{url}?limit=3", headers=cadre).get_json()
    rest = client.get(f"{url}?limit=3&offset=3", headers=cadre).get_json()
    last = client.get(f"{url}?limit=3&offset=6", headers=cadre).get_json()
    assert (first["total"], first["limit"], first["offset"]) == (8, 3, 0)
    ids = [r["household_id"] for page in (first, rest, last) for r in page["households"]]
    assert ids == [x.id for x in h]  # tree order, each once
    pending = client.get(f"{url}?status=pending", headers=cadre).get_json()
    assert pending["total"] == 7 and h[1].id not in {
        r["household_id"] for r in pending["households"]
    }
    safe = client.get(f"{url}?status=safe", headers=cadre).get_json()
    assert [r["household_id"] for r in safe["households"]] == [h[1].id] and safe["total"] == 1
    grid_b = village["grids"][1]
    narrowed = client.get(f"{url}?unit_id={grid_b.id}", headers=cadre).get_json()
    assert [r["household_id"] for r in narrowed["households"]] == [x.id for x in h[4:]]
    # The grid member sees their grid only, and not a unit outside it.
    gm = api_headers(client, village["gm"])
    mine = client.get(url, headers=gm).get_json()
    assert mine["total"] == 4 and [r["household_id"] for r in mine["households"]] == [
        x.id for x in h[:4]
    ]
    assert client.get(f"{url}?unit_id={grid_b.id}", headers=gm).status_code == 404
    # Bad input is a 422 naming the field.
    for query, field in (("status=bogus", "status"), ("limit=0", "limit"), ("offset=-1", "offset")):
        res = client.get(f"{url}?{query}", headers=cadre)
        assert res.status_code == 422 and field in res.get_json()["error"]["fields"], query
