"""The migrant-worker station over JSON: newcomers (registered, read masked, corrected),
their housing, departures and returns, job referrals, trainings and attendance.

The same services as the station's pages. Scope is the station's (``station``
action): a team lead, or anyone outside the newcomer's village, gets 404 before
the body is read. No answer carries a full ID number — only its mask.
"""

from __future__ import annotations

from datetime import date

from flask import jsonify, url_for
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import document, json_body
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.errors import OutOfScope
from village_grid.extensions import db
from village_grid.hierarchy.queries import team_household_count
from village_grid.models import Household, JobReferral, Newcomer, Placement, Training
from village_grid.station import (
    departures,
    placement,
    queries,
    referrals,
    registration,
    trainings,
)
from village_grid.station.schemas import (
    ATTENDANCE,
    DEPARTURE,
    NEWCOMER_CREATE,
    NEWCOMER_OUT,
    NEWCOMER_UPDATE,
    PLACEMENT,
    PLACEMENT_OUT,
    REFERRAL_CREATE,
    REFERRAL_OUT,
    REFERRAL_UPDATE,
    RETURN,
    TRAINING_CREATE,
    TRAINING_OUT,
)

TAGS = ["station"]
INVALID = (
    "invalid_input: fields names each bad field and why — id_number wrong_length, bad_format, "
    "bad_checksum, bad_birth_date, birth_year_too_early, future_birth_date, bad_document (its check digit and date "
    "no schema can state); a date in_future; village_id not_a_village or required (you run "
    "several stations)"
)
NOT_FOUND = "not_found: no such newcomer at a station you work for"


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _household_brief(household: Household | None) -> dict | None:
    if household is None:
        return None
    return {
        "id": household.id,
        "code": household.code,
        "team_id": household.team_id,
        "team_name": household.team.name,
        "door_no": household.door_no or "",
    }


def newcomer_json(n: Newcomer) -> dict:
    """The one serializer of a newcomer: the ID number only as its mask."""
    current = queries.current_placement(db.session, n.id)
    return {
        "id": n.id,
        "village_id": n.village_id,
        "name": n.name,
        "sex": n.sex,
        "id_type": n.id_type,
        "id_number_masked": n.id_mask,
        "id_erased": n.id_cipher is None,
        "phone": n.phone,
        "home_province": n.home_province,
        "home_county": n.home_county,
        "arrived_on": _day(n.arrived_on),
        "skills": n.skills,
        "wants_work": n.wants_work,
        "employer": n.employer,
        "emergency_name": n.emergency_name,
        "emergency_phone": n.emergency_phone,
        "present": n.present,
        "departed_on": _day(n.departed_on),
        "departure_reason": n.departure_reason,
        "departure_to": n.departure_to,
        "household": _household_brief(current.household if current is not None else None),
    }


def placement_json(row: Placement) -> dict:
    household = row.household
    team = household.team
    grid = team.parent
    return {
        "newcomer_id": row.newcomer_id,
        "kind": row.kind,
        "household": _household_brief(household),
        "team": {
            "id": team.id,
            "name": team.name,
            "households": team_household_count(db.session, team.id),
        },
        "grid": {"id": grid.id, "name": grid.name} if grid is not None else None,
    }


def referral_json(r: JobReferral) -> dict:
    return {
        "id": r.id,
        "newcomer_id": r.newcomer_id,
        "employer": r.employer,
        "position": r.position,
        "referred_on": _day(r.referred_on),
        "outcome": r.outcome,
        "outcome_on": _day(r.outcome_on),
        "note": r.note,
    }


def training_json(t: Training, added: int | None = None) -> dict:
    out = {
        "id": t.id,
        "village_id": t.village_id,
        "subject": t.subject,
        "title": t.title,
        "held_on": _day(t.held_on),
        "place": t.place,
        "attendees": [{"id": n.id, "name": n.name} for n in queries.attendees(db.session, t.id)],
    }
    if added is not None:
        out["added"] = added
    return out


def _require_station() -> None:
    if not scope.may_somewhere(current_user, queries.ACTION):
        raise OutOfScope("Not found.")


def _newcomer(newcomer_id: int) -> Newcomer:
    _require_station()
    return queries.get_newcomer(db.session, current_user, newcomer_id)


def _created(body: dict, location: str):
    res = jsonify(body)
    res.status_code = 201
    res.headers["Location"] = location
    return res


# --- newcomers -------------------------------------------------------------------------------


@bp.route("/newcomers", methods=["POST"])
@login_required
@document(
    "Register a newcomer at a station (ID number checked, stored encrypted, answered masked)",
    body=NEWCOMER_CREATE,
    responses={
        "201": ("The newcomer, ID number masked", NEWCOMER_OUT),
        "404": "not_found: you work for no station (or not for village_id's)",
        "409": "duplicate_id_number: this document is registered in this village; "
        "error.existing_id is the record",
        "422": INVALID,
        "503": "id_key_missing / id_key_mismatch: this server cannot encrypt ID numbers",
    },
    tags=TAGS,
)
def newcomer_create():
    _require_station()
    data = dict(json_body(NEWCOMER_CREATE))
    village_id = data.pop("village_id", None)
    n = registration.register(db.session, current_user, village_id=village_id, data=data)
    db.session.commit()
    return _created(newcomer_json(n), url_for("api.newcomer", newcomer_id=n.id))


@bp.route("/newcomers/<id:newcomer_id>")
@login_required
@document(
    "One newcomer, ID number masked",
    responses={"200": ("The newcomer", NEWCOMER_OUT), "404": NOT_FOUND},
    tags=TAGS,
)
def newcomer(newcomer_id: int):
    return jsonify(newcomer_json(_newcomer(newcomer_id)))


@bp.route("/newcomers/<id:newcomer_id>", methods=["PATCH"])
@login_required
@document(
    "Correct some fields of a newcomer (a new ID number is checked and looked up again)",
    body=NEWCOMER_UPDATE,
    responses={
        "200": ("The newcomer", NEWCOMER_OUT),
        "404": NOT_FOUND,
        "409": "duplicate_id_number",
        "422": INVALID,
        "503": "id_key_missing / id_key_mismatch",
    },
    tags=TAGS,
)
def newcomer_update(newcomer_id: int):
    person = _newcomer(newcomer_id)
    data = json_body(NEWCOMER_UPDATE)
    person = registration.update(db.session, current_user, person.id, data)
    db.session.commit()
    return jsonify(newcomer_json(person))


@bp.route("/newcomers/<id:newcomer_id>/placement", methods=["POST"])
@login_required
@document(
    "House a newcomer: join household_id, or a new rental household in team_id, in the best "
    "team of grid_id, or of the grid with most room (at most TEAM_MAX_HOUSEHOLDS a team)",
    body=PLACEMENT,
    responses={
        "201": ("Where they live now", PLACEMENT_OUT),
        "404": NOT_FOUND,
        "409": "grid_full: no team of the grid has room (fields.new_team_under: open a team "
        "there on the station's page); team_full; departed: record their return first",
        "422": "invalid_input: household_id outside_village, grid_id not_a_grid, "
        "team_id not_a_team (not a team of the station's village)",
    },
    tags=TAGS,
)
def newcomer_placement(newcomer_id: int):
    person = _newcomer(newcomer_id)
    data = json_body(PLACEMENT)
    row = placement.place(
        db.session,
        current_user,
        person.id,
        household_id=data.get("household_id"),
        team_id=data.get("team_id"),
        grid_id=data.get("grid_id"),
        door_no=data.get("door_no", ""),
        address=data.get("address", ""),
    )
    db.session.commit()
    return _created(placement_json(row), url_for("api.newcomer", newcomer_id=person.id))


@bp.route("/newcomers/<id:newcomer_id>/departure", methods=["POST"])
@login_required
@document(
    "A newcomer left (date, reason, where to): their place in the household is freed",
    body=DEPARTURE,
    responses={
        "200": ("The newcomer", NEWCOMER_OUT),
        "404": NOT_FOUND,
        "409": "already_departed",
        "422": "invalid_input: departed_on in_future or before_arrival",
    },
    tags=TAGS,
)
def newcomer_departure(newcomer_id: int):
    person = _newcomer(newcomer_id)
    data = json_body(DEPARTURE)
    person = departures.depart(
        db.session,
        current_user,
        person.id,
        departed_on=data.get("departed_on", ""),
        reason=data.get("reason", ""),
        to=data.get("to", ""),
    )
    db.session.commit()
    return jsonify(newcomer_json(person))


@bp.route("/newcomers/<id:newcomer_id>/return", methods=["POST"])
@login_required
@document(
    "A newcomer who had left is back (their earlier stay is kept)",
    body=RETURN,
    responses={
        "200": ("The newcomer", NEWCOMER_OUT),
        "404": NOT_FOUND,
        "409": "not_departed",
        "422": "invalid_input: arrived_on in_future or before_departure",
    },
    tags=TAGS,
)
def newcomer_return(newcomer_id: int):
    person = _newcomer(newcomer_id)
    data = json_body(RETURN)
    person = departures.come_back(
        db.session, current_user, person.id, arrived_on=data.get("arrived_on", "")
    )
    db.session.commit()
    return jsonify(newcomer_json(person))


# --- job referrals ----------------------------------------------------------------------------


@bp.route("/newcomers/<id:newcomer_id>/referrals", methods=["POST"])
@login_required
@document(
    "Refer a newcomer to a job (outcome pending unless given)",
    body=REFERRAL_CREATE,
    responses={
        "201": ("The referral", REFERRAL_OUT),
        "404": NOT_FOUND,
        "409": "departed",
    },
    tags=TAGS,
)
def referral_create(newcomer_id: int):
    person = _newcomer(newcomer_id)
    data = json_body(REFERRAL_CREATE)
    referral = referrals.refer(db.session, current_user, person.id, data)
    db.session.commit()
    return _created(referral_json(referral), url_for("api.newcomer", newcomer_id=person.id))


@bp.route("/referrals/<id:referral_id>", methods=["PATCH"])
@login_required
@document(
    "What came of a referral: hired (the employer becomes theirs), not hired, pending",
    body=REFERRAL_UPDATE,
    responses={"200": ("The referral", REFERRAL_OUT), "404": "not_found: no such referral"},
    tags=TAGS,
)
def referral_update(referral_id: int):
    _require_station()
    referral = queries.get_referral(db.session, current_user, referral_id)
    data = json_body(REFERRAL_UPDATE)
    referral = referrals.set_outcome(db.session, current_user, referral.id, data)
    db.session.commit()
    return jsonify(referral_json(referral))


# --- trainings ----------------------------------------------------------------------------------


@bp.route("/trainings", methods=["POST"])
@login_required
@document(
    "A training session: fire safety, job skills, legal knowledge or public security",
    body=TRAINING_CREATE,
    responses={
        "201": ("The session", TRAINING_OUT),
        "404": "not_found: you work for no station (or not for village_id's)",
        "422": "invalid_input: village_id not_a_village or required (you run several stations)",
    },
    tags=TAGS,
)
def training_create():
    _require_station()
    data = dict(json_body(TRAINING_CREATE))
    village_id = data.pop("village_id", None)
    training = trainings.create_training(db.session, current_user, village_id=village_id, data=data)
    db.session.commit()
    return _created(training_json(training), url_for("api.training", training_id=training.id))


@bp.route("/trainings/<id:training_id>")
@login_required
@document(
    "A training session and who attended",
    responses={"200": ("The session", TRAINING_OUT), "404": "not_found: no such training"},
    tags=TAGS,
)
def training(training_id: int):
    _require_station()
    return jsonify(training_json(queries.get_training(db.session, current_user, training_id)))


@bp.route("/trainings/<id:training_id>/attendance", methods=["POST"])
@login_required
@document(
    "These newcomers attended (recording one twice changes nothing)",
    body=ATTENDANCE,
    responses={
        "200": ("The session, with how many were new", TRAINING_OUT),
        "404": "not_found: no such training",
        "422": "invalid_input: newcomer_ids unknown (not newcomers of the training's village)",
    },
    tags=TAGS,
)
def training_attendance(training_id: int):
    _require_station()
    session_ = queries.get_training(db.session, current_user, training_id)
    data = json_body(ATTENDANCE)
    added = trainings.record_attendance(db.session, current_user, session_.id, data["newcomer_ids"])
    db.session.commit()
    return jsonify(training_json(session_, added))
