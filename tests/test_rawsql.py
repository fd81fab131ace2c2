"""rawsql.Prepared writes and reads exactly what SQLAlchemy's Core path does
(dates, JSON, NULLs, literal values in the statement), on the engine under test."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert, select

from tests.factories import create_task, create_tree, create_user
from village_grid.extensions import db
from village_grid.models import Assignment, StatusEvent
from village_grid.rawsql import prepared

_events = StatusEvent.__table__
_KEYS = [c.key for c in _events.c if c.key != "id"]


@pytest.fixture
def survey():
    tree = create_tree(grids=1, teams=1, households=1)
    cadre = create_user("cadre", tree["village"])
    return create_task(
        tree["village"],
        cadre,
        kind="survey",
        title="问卷",
        questions=[{"id": "q1", "type": "text", "text": "几口人?"}],
    )


def _event(task, household_id, assignment_id, **extra) -> dict:
    row = dict.fromkeys(_KEYS)
    row.update(
        task_id=task.id,
        assignment_id=assignment_id,
        household_id=household_id,
        status="safe",
        help_kind="",
        note="第一户 ✓",
        answers={"q1": "四口", "n": 4},
        via="household_qr",
        client_addr="10.0.0.1",
        created_at=datetime(
            2026, 11, 22, 8, 30, 0
        ),  # no microseconds: SQLite's text keeps ".000000"
        client_time=datetime(2026, 11, 22, 8, 29, 59, 123456),
    )
    row.update(extra)
    return row


def _ids(task):
    """The household and assignment of the one household the survey reached."""
    a = db.session.scalars(select(Assignment).where(Assignment.task_id == task.id)).one()
    return a.household_id, a.id


def test_a_prepared_insert_stores_what_core_stores(app, survey):
    task = survey
    household_id, assignment_id = _ids(task)
    with db.engine.begin() as conn:
        core_id = conn.execute(
            insert(_events).returning(_events.c.id), _event(task, household_id, assignment_id)
        ).scalar_one()
    statement = insert(_events).returning(_events.c.id)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        raw_id = prepared(statement, db.engine.dialect, _KEYS).first(
            cursor, _event(task, household_id, assignment_id, answers=None)
        )[0]
        raw_id2 = prepared(statement, db.engine.dialect, _KEYS).first(
            cursor, _event(task, household_id, assignment_id)
        )[0]
        raw.commit()
    finally:
        raw.close()
    db.session.expire_all()
    core, none, full = (db.session.get(StatusEvent, i) for i in (core_id, raw_id, raw_id2))
    columns = [c for c in _KEYS if c != "answers"]
    assert [getattr(full, c) for c in columns] == [getattr(core, c) for c in columns]
    assert full.answers == core.answers == {"q1": "四口", "n": 4}
    assert none.answers is None
    assert full.created_at == datetime(2026, 11, 22, 8, 30, 0)
    assert full.client_time == datetime(2026, 11, 22, 8, 29, 59, 123456)


def test_a_prepared_select_reads_what_core_reads(app, survey):
    task = survey
    household_id, assignment_id = _ids(task)
    with db.engine.begin() as conn:
        conn.execute(insert(_events), _event(task, household_id, assignment_id))
    statement = select(
        _events.c.created_at, _events.c.answers, _events.c.actor_id, _events.c.status
    ).where(_events.c.via == "household_qr", _events.c.task_id == task.id)
    with db.engine.connect() as conn:
        core = tuple(conn.execute(statement).first())
    raw = db.engine.raw_connection()
    try:
        row = prepared(statement, db.engine.dialect).first(raw.cursor(), {})
        nothing = prepared(statement, db.engine.dialect).first(
            raw.cursor(), {"task_id_1": task.id + 1}
        )
    finally:
        raw.close()
    assert row == core
    assert row[0] == datetime(2026, 11, 22, 8, 30, 0) and row[1] == {"q1": "四口", "n": 4}
    assert nothing is None


def test_a_missing_parameter_is_an_error_not_a_null():
    statement = select(_events.c.id).where(_events.c.task_id == db.bindparam("task_id"))
    with pytest.raises(KeyError):
        prepared(statement, db.engine.dialect).parameters({})
