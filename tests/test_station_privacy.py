"""ID numbers as the Personal Information Protection Law asks: no page, API answer,
export or log line carries a full number except the one answer station staff asked
for with a reason; the database holds none in clear; reveals and full exports are
in the audit log (who, whose, when, why); a departed worker's number is erased
``ID_RETENTION_DAYS`` after they left (an injected clock, no sleeping); team leads
see a newcomer's name, phone and household only."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import JSON, String, Text, select

from tests.factories import (
    api_headers,
    create_newcomer,
    create_user,
    create_village,
    login,
    resident_id,
)
from village_grid.extensions import db
from village_grid.models import AuditEvent, Newcomer, Placement
from village_grid.station import departures, placement, referrals, registration, trainings

GOOD = resident_id("35012119900101123")
NOON = datetime(2026, 3, 2, 4, 0)  # naive UTC: 12:00 in China


@pytest.fixture
def world():
    v = create_village(grids=1, teams=2, households=2, leads=1)
    v["staff"] = create_user("station_staff", v["village"], name="驿站小陈")
    return v


def number_in(text: str) -> bool:
    return GOOD in text.upper()


def registered(world, **data):
    """A newcomer with every field filled, housed in the lead's team, with a referral
    and a training."""
    person = create_newcomer(
        world["village"],
        "王小明",
        id_number=GOOD,
        employer="港务公司",
        emergency_name="王大明",
        emergency_phone="13711112222",
        skills="电焊",
        arrived_on="2023-06-01",
        **data,
    )
    placement.place(db.session, None, person.id, team_id=world["teams"][0].id, door_no="港口路8号")
    referrals.refer(db.session, None, person.id, {"employer": "港务公司", "position": "焊工"})
    training = trainings.create_training(
        db.session,
        None,
        village_id=world["village"].id,
        data={"subject": "fire_safety", "title": "消防第一课"},
    )
    trainings.record_attendance(db.session, None, training.id, [person.id])
    db.session.commit()
    return person


def station_urls(person) -> list[str]:
    return [
        "/station/",
        "/station/newcomers",
        "/station/newcomers?show=all",
        f"/station/newcomers/{person.id}",
        f"/station/newcomers/{person.id}/edit",
        f"/station/newcomers/{person.id}/placement",
        "/station/dashboard",
        "/station/trainings",
        "/station/broadcasts",
        "/station/export.csv",
    ]


def test_no_page_api_answer_export_or_log_line_shows_the_number(app, client, world, caplog):
    caplog.set_level(logging.DEBUG)
    # Every statement and its parameters, as a database log would hold them.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    login(client, world["staff"])
    res = client.post(
        "/station/newcomers/new",
        data={"name": "王小明", "id_number": GOOD.lower(), "phone": "13700137000"},
    )
    assert res.status_code == 302
    person = db.session.scalars(select(Newcomer)).one()
    placement.place(db.session, None, person.id, team_id=world["teams"][0].id)
    db.session.commit()
    for user in (world["staff"], world["cadre"]):
        c = app.test_client()
        login(c, user)
        for url in station_urls(person):
            res = c.get(url)
            assert res.status_code == 200, (url, res.status_code)
            assert not number_in(res.get_data(as_text=True)), url
            assert res.headers["Cache-Control"] == "no-store", url
        for q in (GOOD, GOOD[-4:], "王小明"):
            found = c.post("/station/search", data={"q": q}).get_data(as_text=True)
            assert f"/station/newcomers/{person.id}" in found and not number_in(found)
        xlsx = c.get("/station/export.xlsx").data
        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
        cells = [str(v) for row in sheet.iter_rows(values_only=True) for v in row]
        assert person.id_mask in cells and not any(number_in(v) for v in cells)
        headers = api_headers(c, user)
        for url in (f"/api/v1/newcomers/{person.id}",):
            assert not number_in(c.get(url, headers=headers).get_data(as_text=True))
        patched = c.patch(
            f"/api/v1/newcomers/{person.id}", json={"skills": "叉车"}, headers=headers
        )
        assert patched.status_code == 200 and not number_in(patched.get_data(as_text=True))
    # The worker's answer while typing (id-check) gives the mask, never the number.
    hint = client.post("/station/id-check", data={"id_number": GOOD}).get_json()
    assert hint["ok"] and not number_in(str(hint))
    lines = [r.getMessage() for r in caplog.records]
    assert lines and not any(number_in(line) for line in lines)
    assert GOOD not in caplog.text.upper()


def test_the_database_holds_no_number_in_clear(world):
    person = registered(world)
    registration.reveal(db.session, None, person.id, "核对身份")
    departures.depart(db.session, None, person.id, departed_on="", reason="job_ended")
    db.session.commit()
    checked = 0
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            if not columns:
                continue
            for row in conn.execute(select(*columns)):
                for value in row:
                    checked += 1
                    assert not number_in(str(value)), (table.name, value)
                    assert GOOD[:14] not in str(value), (table.name, value)
    assert checked > 50
    stored = db.session.get(Newcomer, person.id)
    assert stored.id_cipher and stored.id_lookup and stored.id_mask.startswith("350121****")


def test_a_reveal_shows_the_number_once_and_is_audited(app, client, world):
    person = registered(world)
    login(client, world["staff"])
    # No reason: refused, nothing shown.
    res = client.post(f"/station/newcomers/{person.id}/reveal", data={"reason": " "})
    assert res.status_code == 302
    assert not number_in(client.get(res.headers["Location"]).get_data(as_text=True))
    res = client.post(f"/station/newcomers/{person.id}/reveal", data={"reason": "社保登记核对"})
    assert res.status_code == 200 and number_in(res.get_data(as_text=True))
    assert res.headers["Cache-Control"] == "no-store"
    # The next page is masked again.
    assert not number_in(client.get(f"/station/newcomers/{person.id}").get_data(as_text=True))
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "newcomer.reveal")
    ).one()
    assert event.actor_id == world["staff"].id  # who
    assert (event.object_type, event.object_id) == ("newcomer", person.id)  # whose
    assert event.after["reason"] == "社保登记核对"  # why
    assert abs(event.at - datetime.utcnow()) < timedelta(minutes=5)  # when
    assert not number_in(str(event.after))
    # A cadre sees the station, yet never the number (no reveal form, refused if posted).
    cadre = app.test_client()
    login(cadre, world["cadre"])
    page = cadre.get(f"/station/newcomers/{person.id}").get_data(as_text=True)
    assert f"/station/newcomers/{person.id}/reveal" not in page
    res = cadre.post(f"/station/newcomers/{person.id}/reveal", data={"reason": "想看看"})
    assert res.status_code in (403, 404) and not number_in(res.get_data(as_text=True))
    assert (
        len(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "newcomer.reveal")
            ).all()
        )
        == 1
    )


def test_a_full_export_is_for_staff_with_a_reason_and_audited(app, client, world):
    registered(world)
    login(client, world["staff"])
    res = client.post("/station/export", data={"fmt": "csv", "reason": ""})
    assert res.status_code == 302 and not number_in(res.get_data(as_text=True))
    res = client.post("/station/export", data={"fmt": "csv", "reason": "报送派出所暂住登记"})
    assert res.status_code == 200 and number_in(res.data.decode("utf-8-sig"))
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "newcomer.export_full")
    ).one()
    assert event.actor_id == world["staff"].id
    assert event.after == {"newcomers": 1, "reason": "报送派出所暂住登记"}
    cadre = app.test_client()
    login(cadre, world["cadre"])
    res = cadre.post("/station/export", data={"fmt": "csv", "reason": "报送派出所"})
    assert res.status_code in (403, 404) and not number_in(res.get_data(as_text=True))


def test_retention_erases_the_number_on_time_and_keeps_the_history(app, client, world):
    person = registered(world)
    departures.depart(
        db.session, None, person.id, departed_on="2026-03-02", reason="job_ended", now=NOON
    )
    db.session.commit()
    days = app.config["ID_RETENTION_DAYS"]
    assert days == 365
    day_before = NOON + timedelta(days=days - 1)
    assert departures.erase_expired_ids(db.session, now=day_before) == 0
    db.session.commit()
    assert db.session.get(Newcomer, person.id).id_cipher is not None
    assert departures.erase_expired_ids(db.session, now=NOON + timedelta(days=days)) == 1
    db.session.commit()
    db.session.expire_all()
    erased = db.session.get(Newcomer, person.id)
    assert erased.id_cipher is None and erased.id_lookup is None
    assert erased.id_mask == "350121********" + GOOD[-4:] and erased.name == "王小明"
    assert db.session.scalar(
        select(Placement.household_id).where(Placement.newcomer_id == person.id)
    )
    assert len(referrals_of(person)) == 1
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "newcomer.erase_id")
    ).one()
    assert event.object_id == person.id and event.actor_id is None
    # Once is enough; a reveal says the number is gone.
    assert departures.erase_expired_ids(db.session, now=NOON + timedelta(days=days + 30)) == 0
    login(client, world["staff"])
    res = client.post(f"/station/newcomers/{person.id}/reveal", data={"reason": "核对身份"})
    assert "已删除" in client.get(res.headers["Location"]).get_data(as_text=True)
    headers = api_headers(client, world["staff"])
    assert client.get(f"/api/v1/newcomers/{person.id}", headers=headers).get_json()["id_erased"]
    # Someone still here keeps theirs.
    stayer = create_newcomer(world["village"], "留下")
    assert departures.erase_expired_ids(db.session, now=NOON + timedelta(days=3 * days)) == 0
    assert db.session.get(Newcomer, stayer.id).id_cipher is not None


def test_the_worker_tick_erases_expired_numbers(app, world, monkeypatch):
    person = registered(world)
    departures.depart(
        db.session, None, person.id, departed_on="2024-01-02", reason="job_ended", now=NOON
    )
    db.session.commit()
    from village_grid.jobs import work

    work.tick()
    db.session.expire_all()
    assert db.session.get(Newcomer, person.id).id_cipher is None


def referrals_of(person) -> list:
    from village_grid.station import queries

    return queries.referrals_of(db.session, person.id)


def test_team_leads_see_name_phone_and_household_only(app, client, world):
    person = registered(world)
    login(client, world["lead"])
    household_id = db.session.scalar(
        select(Placement.household_id).where(Placement.newcomer_id == person.id)
    )
    pages = [
        client.get("/field").get_data(as_text=True),
        client.get(f"/households/{household_id}").get_data(as_text=True),
    ]
    assert "王小明" in pages[0] and "13700137000" in pages[0]
    for page in pages:
        for private in (
            person.id_mask,
            GOOD[-4:],
            "港务公司",  # employer
            "王大明",  # emergency contact
            "13711112222",
            "电焊",  # skills
            "闽侯县",  # home county
            "消防",  # trainings
        ):
            assert private not in page, private
