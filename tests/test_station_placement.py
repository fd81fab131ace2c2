"""Housing a newcomer: a new rental household goes only into a team below the cap
(``hierarchy.service.lock_team_with_room``, the one rule), even when several clerks
place people into the last free place at once; a full grid says so and offers a
new team; the team's lead is told and sees the household on "my team" at once; the
door plate prints on the spot; joining a household and leaving free the place."""

from __future__ import annotations

import json
import threading

import pytest

from tests.factories import (
    api_headers,
    create_household,
    create_newcomer,
    create_user,
    create_village,
    login,
)
from village_grid.extensions import db
from village_grid.hierarchy import queries as registry_queries
from village_grid.hierarchy import service as registry
from village_grid.models import Household, OutboxMessage, Placement, Unit
from village_grid.station import departures, placement


@pytest.fixture
def world():
    """One grid: team 1-1 full (10 households), team 1-2 with one free place (9);
    a lead on each; two station clerks."""
    v = create_village(grids=1, teams=2, households=9, leads=2)
    create_household(v["teams"][0], "满员户")
    v["staff"] = create_user("station_staff", v["village"], name="驿站小陈")
    v["staff_b"] = create_user("station_staff", v["village"], name="驿站小林")
    return v


def households_in(team: Unit) -> int:
    return registry_queries.team_household_count(db.session, team.id)


def test_the_cap_is_the_registrys_one_function():
    """Placement proposes; the cap itself is checked by the registry's function only."""
    import inspect

    source = inspect.getsource(placement)
    assert "lock_team_with_room" in source and "create_household" in source
    assert "TEAM_MAX_HOUSEHOLDS" not in source  # read through registry.team_max_households
    assert ">= 10" not in source and "< 10" not in source


def test_the_grid_is_proposed_with_its_free_team_never_a_full_one(client, world):
    person = create_newcomer(world["village"], "王小明")
    login(client, world["staff"])
    page = client.get(f"/station/newcomers/{person.id}/placement").get_data(as_text=True)
    full, free = world["teams"]
    assert f'name="team_id" value="{free.id}"' in page
    assert f'name="team_id" value="{full.id}"' not in page
    assert "9/10" in page
    res = client.post(
        f"/station/newcomers/{person.id}/placement",
        data={"mode": "auto", "grid_id": world["grids"][0].id, "door_no": "侯官路23号"},
    )
    assert res.status_code == 302, res.get_data(as_text=True)[:1500]
    row = db.session.scalars(db.select(Placement)).one()
    assert row.team_id == free.id and row.household.rental
    assert row.household.head_name == "王小明" and row.household.door_no == "侯官路23号"
    assert (households_in(full), households_in(free)) == (10, 10)


def test_never_an_eleventh_household_in_a_team(client, world):
    a = create_newcomer(world["village"], "甲")
    b = create_newcomer(world["village"], "乙")
    headers = api_headers(client, world["staff"])
    full, free = world["teams"]
    # Naming a full team: refused by the registry's cap.
    res = client.post(
        f"/api/v1/newcomers/{a.id}/placement", json={"team_id": full.id}, headers=headers
    )
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "team_full"
    # The grid: the last free place is taken…
    res = client.post(
        f"/api/v1/newcomers/{a.id}/placement",
        json={"grid_id": world["grids"][0].id},
        headers=headers,
    )
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["team"] == {"id": free.id, "name": free.name, "households": 10}
    assert body["household"]["code"].startswith("HG-")
    # …and the next newcomer finds the grid full, with where to open a new team.
    res = client.post(
        f"/api/v1/newcomers/{b.id}/placement",
        json={"grid_id": world["grids"][0].id},
        headers=headers,
    )
    assert res.status_code == 409
    error = res.get_json()["error"]
    assert error["code"] == "grid_full"
    assert error["fields"]["new_team_under"] == world["grids"][0].id
    # Nor the whole village (no grid named): every team is full.
    res = client.post(f"/api/v1/newcomers/{b.id}/placement", json={}, headers=headers)
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "grid_full"
    assert (households_in(full), households_in(free)) == (10, 10)
    assert db.session.scalar(db.select(db.func.count(Placement.id))) == 1


def test_a_team_that_has_just_become_full_says_so_once(client, world):
    """The clerk's page offered the team; another clerk took its last place first."""
    person = create_newcomer(world["village"], "王小明")
    full, _free = world["teams"]
    login(client, world["staff"])
    res = client.post(
        f"/station/newcomers/{person.id}/placement",
        data={"mode": "team", "team_id": full.id, "grid_id": world["grids"][0].id},
    )
    assert res.status_code in (409, 422)
    page = res.get_data(as_text=True)
    message = f"小队 {full.name} 已满 10 户"
    assert page.count(message) == 1, page[page.find("flash-error") :][:600]


def test_clerks_racing_for_the_last_place_one_wins(app, client, world):
    """Four clerks place four newcomers into the grid's last free place at once."""
    urls = [
        f"/api/v1/newcomers/{create_newcomer(world['village'], f'抢位{i}').id}/placement"
        for i in range(4)
    ]
    staff = [world["staff"], world["staff_b"]]
    headers = [api_headers(client, staff[i % 2]) for i in range(4)]
    grid_id = world["grids"][0].id
    barrier = threading.Barrier(4)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def place(i: int) -> None:
        c = app.test_client()
        barrier.wait()
        res = c.post(urls[i], json={"grid_id": grid_id}, headers=headers[i])
        code = "" if res.status_code == 201 else json.loads(res.data)["error"]["code"]
        with lock:
            outcomes.append((res.status_code, code))

    threads = [threading.Thread(target=place, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == [(201, "")] + [(409, "grid_full")] * 3, outcomes
    db.session.expire_all()
    assert [households_in(t) for t in world["teams"]] == [10, 10]
    assert db.session.scalar(db.select(db.func.count(Placement.id))) == 1


def test_a_full_grid_offers_a_new_team_and_the_plate_prints_there(client, world):
    filler = create_newcomer(world["village"], "先到")
    placement.place(db.session, None, filler.id, team_id=world["teams"][1].id)
    db.session.commit()
    person = create_newcomer(world["village"], "后到")
    login(client, world["staff"])
    grid = world["grids"][0]
    res = client.post(
        f"/station/newcomers/{person.id}/placement",
        data={"mode": "auto", "grid_id": grid.id, "door_no": "港口路8号"},
    )
    assert res.status_code == 409
    page = res.get_data(as_text=True)
    assert "第1网格" in page and "新小队" in page  # says so and offers a new team
    assert f'action="/station/newcomers/{person.id}/placement/new-team"' in page
    assert 'name="name" value="3小队"' in page or 'value="Team 3"' not in page
    res = client.post(
        f"/station/newcomers/{person.id}/placement/new-team",
        data={"grid_id": grid.id, "door_no": "港口路8号", "name": ""},
    )
    assert res.status_code == 302, res.get_data(as_text=True)[:1500]
    row = db.session.scalars(db.select(Placement).where(Placement.newcomer_id == person.id)).one()
    team = row.household.team
    assert team.parent_id == grid.id and team.id not in [t.id for t in world["teams"]]
    assert households_in(team) == 1
    # The newcomer's page prints the new household's door plate on the spot.
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert row.household.code in page and "<svg" in page and "data-print" in page
    assert "/station/" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    # A grid with room refuses a new team (the proposals come first).
    departures.depart(db.session, None, filler.id, departed_on="", reason="job_ended")
    db.session.commit()
    other = create_newcomer(world["village"], "再来")
    res = client.post(
        f"/api/v1/newcomers/{other.id}/placement",
        json={"grid_id": grid.id},
        headers=api_headers(client, world["staff"]),
    )
    assert res.status_code == 201  # the new team has 9 free places


def test_the_team_lead_is_told_and_sees_the_household_at_once(app, client, world):
    person = create_newcomer(world["village"], "赵新来", phone="13655556666")
    login(client, world["staff"])
    res = client.post(
        f"/station/newcomers/{person.id}/placement",
        data={"mode": "team", "team_id": world["teams"][1].id, "door_no": "侯官路5号"},
    )
    assert res.status_code == 302
    lead = world["lead_b"]
    message = db.session.scalars(
        db.select(OutboxMessage).where(OutboxMessage.event_key.like("station:placed:%"))
    ).one()
    assert message.recipient_id == lead.id
    assert "赵新来" in message.body and "13655556666" in message.body
    assert f"/field/teams/{world['teams'][1].id}" in message.body
    assert person.id_mask not in message.body and person.id_last4 not in message.body
    lead_client = app.test_client()
    login(lead_client, lead)
    page = lead_client.get("/field").get_data(as_text=True)
    assert "赵新来" in page and "tel:13655556666" in page
    assert person.id_mask not in page and "身份证" not in page


def test_joining_a_household_and_leaving_frees_the_place_and_keeps_history(client, world):
    household = world["households"][9]  # team 1-2's first
    person = create_newcomer(world["village"], "钱同住")
    headers = api_headers(client, world["staff"])
    res = client.post(
        f"/api/v1/newcomers/{person.id}/placement",
        json={"household_id": household.id},
        headers=headers,
    )
    assert res.status_code == 201 and res.get_json()["kind"] == "joined"
    db.session.expire_all()
    names = [m.name for m in db.session.get(Household, household.id).members]
    assert "钱同住" in names
    res = client.post(
        f"/api/v1/newcomers/{person.id}/departure",
        json={"reason": "job_ended", "to": "江西赣州"},
        headers=headers,
    )
    assert res.status_code == 200, res.get_json()
    db.session.expire_all()
    assert "钱同住" not in [m.name for m in db.session.get(Household, household.id).members]
    row = db.session.scalars(db.select(Placement)).one()
    assert row.ended_at is not None and row.end_reason == "departed"
    got = client.get(f"/api/v1/newcomers/{person.id}", headers=headers).get_json()
    assert got["present"] is False and got["household"] is None
    assert got["departure_to"] == "江西赣州"
    # A departed worker is not placed again until they come back.
    res = client.post(
        f"/api/v1/newcomers/{person.id}/placement",
        json={"household_id": household.id},
        headers=headers,
    )
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "departed"


def test_a_rental_left_empty_frees_its_place_for_the_next(client, world):
    """The worker heading a new rental leaves: the household stays (vacant, phone
    cleared) and the next newcomer can move in; the team stays at 10."""
    person = create_newcomer(world["village"], "孙租户")
    row = placement.place(db.session, None, person.id, team_id=world["teams"][1].id)
    db.session.commit()
    household_id = row.household_id
    departures.depart(db.session, None, person.id, departed_on="", reason="job_ended")
    db.session.commit()
    db.session.expire_all()
    household = db.session.get(Household, household_id)
    assert household.phone == "" and household.head_name != "孙租户"
    nxt = create_newcomer(world["village"], "周接租")
    res = client.post(
        f"/api/v1/newcomers/{nxt.id}/placement",
        json={"household_id": household_id},
        headers=api_headers(client, world["staff"]),
    )
    assert res.status_code == 201
    db.session.expire_all()
    assert db.session.get(Household, household_id).head_name == "周接租"
    assert households_in(world["teams"][1]) == 10


def test_bad_placement_input_is_refused_per_field(client, world):
    person = create_newcomer(world["village"], "错误")
    headers = api_headers(client, world["staff"])
    url = f"/api/v1/newcomers/{person.id}/placement"
    res = client.post(url, json={"grid_id": world["teams"][1].id}, headers=headers)
    assert res.status_code == 422 and res.get_json()["error"]["fields"]["grid_id"] == "not_a_grid"
    res = client.post(url, json={"team_id": world["grids"][0].id}, headers=headers)
    assert res.status_code == 422 and res.get_json()["error"]["fields"]["team_id"] == "not_a_team"
    res = client.post(url, json={"household_id": "x"}, headers=headers)
    assert res.status_code == 422
    res = client.post(url, json={"household_id": 99999999}, headers=headers)
    assert res.status_code == 404
    assert db.session.scalar(db.select(db.func.count(Placement.id))) == 0
    assert registry.team_max_households() == 10
