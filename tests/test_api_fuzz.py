"""Schemathesis over the whole JSON API, in process (WSGI), on the test engine.

Every operation of ``/api/v1/openapi.json`` gets generated requests — the
documented shape (positive) and broken ones (negative), from the examples,
coverage and fuzzing phases — sent with the bearer token of an administrator
and of a team lead, against a small village (``create_village``) whose ids,
plate tokens and tasks the generator draws from half of the time, so requests
reach real rows. Each answer is checked:

- no server error (``not_a_server_error``);
- a documented status, the documented content type, a body that matches the
  documented schema (``status_code_conformance``, ``content_type_conformance``,
  ``response_schema_conformance``);
- what the schema forbids is refused (``negative_data_rejection``), and what it
  allows is accepted (:func:`schema_valid_is_accepted`: Schemathesis's
  ``positive_data_acceptance``, except for the refusals no schema can state,
  listed in :data:`CHECKED_AGAINST_STORED_DATA` and documented on their 422).

The document is fuzzed as served. Its every pattern is one a generator can draw
from (``tests/test_api_openapi.py`` fails otherwise), the text rule's too: a NUL
is what the negative cases put into otherwise good strings, and must be refused.

Bounded and repeatable: a fixed seed, generation deterministic, no example
database, ``VG_FUZZ_EXAMPLES`` (default 4) examples per operation and phase.
Rate limits are off for the run: they would answer 429 to a generator long
before it had said anything interesting.

Uses Schemathesis's engine (what its command line runs) rather than its pytest
plugin, whose lazy fixture loader does not work with pytest 9.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
import schemathesis
from flask import Flask
from schemathesis.engine import events, from_schema

from tests.factories import (
    PASSWORD,
    create_newcomer,
    create_task,
    create_user,
    create_village,
    resident_id,
)
from village_grid.extensions import db, limiter
from village_grid.hierarchy import robots
from village_grid.models import Escalation, Unit
from village_grid.qr import mailbox
from village_grid.station.placement import place
from village_grid.station.referrals import refer
from village_grid.station.trainings import create_training
from village_grid.tasks.statuses import record_status

FUZZ_EXAMPLES = int(os.environ.get("VG_FUZZ_EXAMPLES", "4"))
SEED = 20240725  # typhoon Gaemi's landfall in Fujian

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "schema_valid_is_accepted",
)

# A 422 to a request its schema allows is right only for a rule about stored
# data, which a schema cannot state (each one is named in the operation's
# documented 422): field → the codes it may carry; "*" any code.
CHECKED_AGAINST_STORED_DATA = {
    "team_id": {"not_a_team"},  # the unit is not a team
    # a team holds no units; only an administrator adds a root (parent_id null)
    "parent_id": {"is_team", "required"},
    "filter.unit_ids": {"outside_target"},  # not under the unit the task goes to
    "filter": {"no_households"},  # nobody matches
    "status": {"not_allowed"},  # the task's kind does not offer this answer
    "answers": {"*"},  # answers are checked against the task's questions
    # The station: an ID number's check digit, its date of birth and its length for its
    # document type; a day after today; a newcomer who came back before they left; ids
    # of units and households that are not of the station's village.
    "id_number": {
        "wrong_length", "bad_format", "bad_checksum", "bad_birth_date", "birth_year_too_early",
        "future_birth_date", "bad_document",
    },
    "arrived_on": {"in_future", "before_departure"},
    "departed_on": {"in_future", "before_arrival"},
    "village_id": {"not_a_village", "required"},
    "grid_id": {"not_a_grid"},
    "household_id": {"outside_village"},
    "newcomer_ids": {"unknown"},
    # A warning is an XML document checked against the CAP 1.2 schema: JSON Schema cannot
    # say what a CAP alert is.
    "cap": {"*"},
    # A WeCom group robot's address (its path) without its key: no pattern says so simply.
    "url": {"wecom_key"},
}  # fmt: skip
CHECKED_AGAINST_THE_BODY = {"duplicate_id"}  # two questions with one id: no schema says so
# An upload's content is a file format (docs/import-format.md), not a schema.
FILE_REFUSED = "import_rejected"

pytestmark = pytest.mark.slow


def _stored_data_rule(field: str, code: str) -> bool:
    name = field.split(".", 1)[0] if field.startswith("answers") else field
    codes = CHECKED_AGAINST_STORED_DATA.get(name, set())
    return "*" in codes or code in codes or code in CHECKED_AGAINST_THE_BODY


@schemathesis.check
def schema_valid_is_accepted(ctx, response, case):
    """Schemathesis's ``positive_data_acceptance`` (2xx, 401, 403, 404, 409, 429 to
    schema-valid data), with the 422s of :data:`CHECKED_AGAINST_STORED_DATA`."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    status = response.status_code
    if 200 <= status < 400 or status in (401, 403, 404, 409, 429):
        return None
    if status == 422:
        error = (response.json() or {}).get("error") or {}
        fields = error.get("fields") or {}
        if error.get("code") == FILE_REFUSED or (
            fields and all(_stored_data_rule(f, str(c)) for f, c in fields.items())
        ):
            return None
    raise AssertionError(
        f"A request its schema allows was refused with {status}: {response.text[:300]}"
    )


def fuzz_data() -> dict:
    """A village with people, tasks of every kind, a call for help and a mailbox note."""
    v = create_village(grids=2, teams=2, households=3, leads=2)
    v["admin"] = create_user("admin")
    cadre = v["cadre"]
    v["tasks"] = [
        create_task(v["village"], cadre, kind="sweep", title="防汛排查"),
        create_task(v["village"], cadre, kind="notice", title="寻人启事", deadline_minutes=None),
        create_task(
            v["village"],
            cadre,
            kind="survey",
            title="用水调查",
            questions=[
                {"id": "q1", "type": "choice", "text": "水质", "choices": ["好", "差"]},
                {"id": "q2", "type": "number", "text": "人数"},
            ],
        ),
        create_task(v["village"], cadre, kind="campaign", title="垃圾分类"),
    ]
    household = v["households"][0]
    record_status(
        db.session, None, task_id=v["tasks"][0].id, household_id=household.id,
        status="needs_help", help_kind="medical", note="老人摔倒",
    )  # fmt: skip
    mailbox.create_message(db.session, household, category="facilities", text="路灯坏了")
    db.session.commit()
    # The station: two newcomers (one housed, with a job referral) and a training.
    v["newcomers"] = [
        create_newcomer(v["village"], "王小明", id_number=resident_id("35012119900101123")),
        create_newcomer(v["village"], "李小红", id_number=resident_id("51010219950505246")),
    ]
    place(db.session, None, v["newcomers"][0].id, grid_id=v["grids"][0].id, door_no="港口路8号")
    v["referrals"] = [refer(db.session, None, v["newcomers"][0].id, {"employer": "港务公司"})]
    v["trainings"] = [
        create_training(
            db.session, None, village_id=v["village"].id,
            data={"subject": "fire_safety", "title": "消防安全"},
        )
    ]  # fmt: skip
    db.session.commit()
    return v


def token_for(app: Flask, username: str) -> str:
    res = app.test_client().post(
        "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
    )
    assert res.status_code == 200, res.get_json()
    return res.get_json()["token"]


def config_for(v: dict, bearer: str) -> schemathesis.Config:
    """Generation bounded and repeatable; ids and tokens half of the time those of real rows."""
    units = list(db.session.scalars(db.select(Unit.id)))
    escalations = list(db.session.scalars(db.select(Escalation.id)))
    dictionaries = {
        "units": {"values": units},
        "teams": {"values": [t.id for t in v["teams"]]},
        "households": {"values": [h.id for h in v["households"]]},
        "tasks": {"values": [t.id for t in v["tasks"]]},
        "escalations": {"values": escalations},
        "tokens": {"values": [h.qr_token for h in v["households"]]},
        "newcomers": {"values": [n.id for n in v["newcomers"]]},
        "referrals": {"values": [r.id for r in v["referrals"]]},
        "trainings": {"values": [t.id for t in v["trainings"]]},
    }
    often = {"probability": 0.5}
    parameters = {
        "path.unit_id": {"dictionary": "units", **often},
        "path.household_id": {"dictionary": "households", **often},
        "path.task_id": {"dictionary": "tasks", **often},
        "path.escalation_id": {"dictionary": "escalations", **often},
        "path.token": {"dictionary": "tokens", "probability": 0.8},
        "path.newcomer_id": {"dictionary": "newcomers", **often},
        "path.referral_id": {"dictionary": "referrals", **often},
        "path.training_id": {"dictionary": "trainings", **often},
        "body.household_id": {"dictionary": "households", **often},
        "body.grid_id": {"dictionary": "units", **often},
        "body.village_id": {"dictionary": "units", **often},
        "query.parent_id": {"dictionary": "units", **often},
        "query.unit_id": {"dictionary": "units", **often},
        "body.unit_id": {"dictionary": "units", **often},
        "body.parent_id": {"dictionary": "units", **often},
        "body.team_id": {"dictionary": "teams", **often},
        "body.task_id": {"dictionary": "tasks", **often},
    }
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "dictionaries": dictionaries,
            "parameters": parameters,
            "generation": {
                "mode": "all",
                "max-examples": FUZZ_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            # Answers uncompressed: the fuzzer reads the bodies as they are sent.
            "headers": {"Authorization": f"Bearer {bearer}", "Accept-Encoding": "identity"},
            "phases": {"stateful": {"enabled": False}},
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        }
    )


def run(app: Flask, config: schemathesis.Config) -> tuple[list[str], Counter, int]:
    """Run every phase over every operation; the failures, statuses seen, operations."""
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(doc, config=config)
    schema.app = app
    failures: list[str] = []
    statuses: Counter = Counter()
    operations = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            operations.add(recorder.label)
            for case_id, interaction in recorder.interactions.items():
                if interaction.response is not None:
                    statuses[(recorder.label, interaction.response.status_code)] += 1
                for check in recorder.checks.get(case_id, []):
                    if check.failure_info is None:
                        continue
                    request = interaction.request
                    body = (request.body or b"")[:300]
                    response = interaction.response
                    answer = (
                        f"{response.status_code} {response.content[:200]!r}" if response else ""
                    )
                    failures.append(
                        f"{recorder.label} [{check.name}] {check.failure_info.failure.title}: "
                        f"{request.method} {request.uri} {body!r} → {answer}"
                    )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error: {getattr(event, 'value', getattr(event, 'exception', ''))}")
    return failures, statuses, len(operations)


@pytest.mark.parametrize("role", ["admin", "team_lead"])
def test_api_answers_as_documented(app, monkeypatch, role):
    monkeypatch.setattr(limiter, "enabled", False)
    # The robots the fuzzer sets are far ends of its own making: their test message is
    # taken (the robot's refusals are tests/test_notify_robots.py's).
    monkeypatch.setattr(robots, "post", lambda *args, **kwargs: None)
    v = fuzz_data()
    user = v["admin"] if role == "admin" else v["lead"]
    started = time.monotonic()
    failures, statuses, operations = run(app, config_for(v, token_for(app, user.username)))
    requests = sum(statuses.values())
    print(
        f"\n{role}: {operations} operations, {requests} requests, {time.monotonic() - started:.0f} s"
    )
    documented = len(app.test_client().get("/api/v1/openapi.json").get_json()["paths"])
    assert operations >= documented, "every operation ran"
    assert requests > operations * FUZZ_EXAMPLES, "each operation got examples"
    # Real rows were reached: success answers on reads of ids and of plates.
    assert sum(n for (label, status), n in statuses.items() if status < 300) > operations
    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} kinds of failure:\n" + "\n".join(unique[:40])
