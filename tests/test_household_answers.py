"""Door-plate answers written in groups (tasks/answers.py): every answer is
committed before it is acknowledged, answers arriving together share one
commit, and one bad answer does not sink the others."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import event, func, select, text

from tests.factories import create_task, create_tree, create_user
from village_grid.errors import InvalidInput
from village_grid.extensions import db
from village_grid.models import Assignment, StatusEvent
from village_grid.qr.service import open_task_for_plate, plate_task
from village_grid.tasks import answers


@pytest.fixture
def sweep():
    tree = create_tree(grids=1, teams=2, households=5)
    cadre = create_user("cadre", tree["village"])
    task = create_task(tree["village"], cadre, subkind="flood", title="防汛排查")
    return task, tree["households"]


@pytest.fixture
def writer():
    """A writer of the test's own, which gives its connection back at the end."""
    writer = answers.AnswerWriter(db.engine)
    yield writer
    writer.close()


def checked(task_id, household, status="safe", note=""):
    found = open_task_for_plate(db.session, household.qr_token, task_id)
    return answers.household_answer(
        found.task, found.assignment, status=status, note=note, client_addr="10.0.0.9"
    )


def test_answers_arriving_together_are_written_in_one_group(app, sweep, writer, monkeypatch):
    task, households = sweep
    prepared = [checked(task.id, h, note=f"第{i}户") for i, h in enumerate(households)]
    db.session.commit()
    groups: list[int] = []
    first_in = threading.Event()
    release = threading.Event()
    write_answers = answers.write_answers

    def slow_write(reader, group):
        groups.append(len(group))
        if len(groups) == 1:  # hold the first write until everyone else is waiting
            first_in.set()
            release.wait(5)
        return write_answers(reader, group)

    monkeypatch.setattr(answers, "write_answers", slow_write)
    receipts: dict[int, object] = {}

    def answer(i):
        with app.app_context():
            receipts[i] = writer.write(lambda _reader, i=i: prepared[i])

    threads = [threading.Thread(target=answer, args=(0,))]
    threads[0].start()
    assert first_in.wait(5)
    threads += [threading.Thread(target=answer, args=(i,)) for i in range(1, len(prepared))]
    for t in threads[1:]:
        t.start()
    while len(writer._waiting) < len(prepared) - 1:  # all nine queued behind the first
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(10)

    assert groups == [1, len(prepared) - 1]
    assert len(receipts) == len(prepared)
    assert len({r.event_id for r in receipts.values()}) == len(prepared)
    db.session.expire_all()
    events = db.session.scalars(select(StatusEvent).order_by(StatusEvent.id)).all()
    assert sorted(e.note for e in events) == sorted(f"第{i}户" for i in range(len(households)))
    assert {e.via for e in events} == {"household_qr"}
    assert {e.client_addr for e in events} == {"10.0.0.9"}
    for i, receipt in receipts.items():
        event = db.session.get(StatusEvent, receipt.event_id)
        assert event.household_id == households[i].id and event.status == "safe"
    done = db.session.scalar(
        select(func.count()).where(Assignment.task_id == task.id, Assignment.status == "safe")
    )
    assert done == len(households)


def test_one_bad_answer_does_not_sink_the_rest_of_its_group(app, sweep, writer):
    task, households = sweep
    good = [checked(task.id, h) for h in households[:3]]
    db.session.commit()
    bad_event = dict(good[1].event, assignment_id=10**9, household_id=10**9)  # no such rows
    group = [good[0], good[1]._replace(event=bad_event), good[2]]
    waiting = [answers._Waiting(lambda _reader, a=a: a) for a in group]
    writer._write_group(waiting)

    assert waiting[0].receipt is not None and waiting[2].receipt is not None
    assert waiting[1].receipt is None and waiting[1].error is not None
    db.session.expire_all()
    stored = db.session.scalars(select(StatusEvent.household_id)).all()
    assert sorted(stored) == sorted([households[0].id, households[2].id])


def test_a_lone_answer_is_written_at_once_and_its_error_reaches_the_caller(app, sweep):
    task, households = sweep
    one = checked(task.id, households[0])
    db.session.commit()
    writer = answers.answer_writer(db.engine)
    assert answers.answer_writer(db.engine) is writer
    receipt = writer.write(lambda _reader: one)
    assert receipt.task_id == task.id and receipt.status == "safe"
    broken = one._replace(event=dict(one.event, task_id=10**9))
    with pytest.raises(Exception):  # noqa: B017 - the engine's own integrity error
        writer.write(lambda _reader: broken)
    assert db.session.scalar(select(func.count()).select_from(StatusEvent)) == 1
    assert not writer._writing and writer._waiting == []


def test_needs_help_is_not_written_here(sweep):
    task, households = sweep
    found = open_task_for_plate(db.session, households[0].qr_token, task.id)
    with pytest.raises(ValueError):
        answers.household_answer(found.task, found.assignment, status="needs_help")


def test_the_writer_reads_on_its_own_connection_and_refusals_reach_their_caller(app, sweep, writer):
    task, households = sweep
    db.session.commit()
    seen = {}

    def prepare(reader):
        found = plate_task(reader.first, households[0].qr_token, task.id)
        seen["found"] = found
        return answers.household_answer(found.task, found.assignment, status="safe")

    receipt = writer.write(prepare)
    assert seen["found"].assignment.household_id == households[0].id
    assert seen["found"].task == (task.id, "sweep", None, task.questions)
    # Nothing to write: None, and nothing written.
    assert writer.write(lambda reader: plate_task(reader.first, "x" * 32, task.id)) is None
    # A refusal is raised to the caller whose answer it was; the others are written.
    refused = InvalidInput("不行", fields={"note": "too_long"})

    def refuse(_reader):
        raise refused

    with pytest.raises(InvalidInput) as caught:
        writer.write(refuse)
    assert caught.value is refused
    stored = db.session.scalars(select(StatusEvent.id)).all()
    assert stored == [receipt.event_id]


def test_an_older_answer_does_not_overwrite_a_newer_status(app, sweep, writer):
    """Latest wins in the UPDATE itself: a team lead's tap committed after the
    household's answer was read but before it was written is kept."""
    task, households = sweep
    found = open_task_for_plate(db.session, households[0].qr_token, task.id)
    answer = answers.household_answer(
        found.task, found.assignment, status="safe", now=datetime(2026, 1, 1, 8, 0)
    )
    db.session.commit()
    assignment = db.session.get(Assignment, found.assignment.id)
    assignment.status, assignment.updated_at = "not_home", datetime(2026, 1, 1, 8, 5)
    db.session.commit()

    writer.write(lambda _reader: answer)

    db.session.expire_all()
    assignment = db.session.get(Assignment, found.assignment.id)
    assert assignment.status == "not_home"  # the newer tap
    assert db.session.scalar(select(func.count()).select_from(StatusEvent)) == 1  # still recorded


def test_the_writer_keeps_its_connection_between_groups(sweep, writer):
    task, households = sweep
    prepared = [checked(task.id, h) for h in households[:4]]
    db.session.commit()
    checkouts = []

    def count(*_args):
        checkouts.append(1)

    event.listen(db.engine, "checkout", count)
    try:
        for answer in prepared:
            writer.write(lambda _reader, a=answer: a)
    finally:
        event.remove(db.engine, "checkout", count)
    assert len(checkouts) == 1
    assert db.session.scalar(select(func.count()).select_from(StatusEvent)) == 4


def _lose(connection) -> None:
    """What a database restart does to a connection kept idle."""
    if db.engine.dialect.name == "postgresql":
        pid = connection.dbapi_connection.info.backend_pid
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    else:
        connection.dbapi_connection.close()


def test_a_kept_connection_that_was_lost_is_replaced_and_the_answer_written(sweep, writer):
    task, households = sweep
    first, second = (checked(task.id, h) for h in households[:2])
    db.session.commit()
    writer.write(lambda _reader: first)
    lost = writer._idle
    _lose(lost)
    receipt = writer.write(lambda _reader: second)
    assert receipt is not None
    db.session.expire_all()
    stored = db.session.scalars(select(StatusEvent.household_id)).all()
    assert sorted(stored) == sorted([households[0].id, households[1].id])
    # The lost connection was thrown away; a working one is kept instead.
    assert lost.dbapi_connection is None
    assert writer._idle is not None and writer._idle is not lost


def test_disposing_the_engine_lets_the_writers_connection_go(app, sweep):
    task, households = sweep
    one = checked(task.id, households[0])
    db.session.commit()
    shared = answers.answer_writer(db.engine)
    shared.write(lambda _reader: one)
    kept = shared._idle
    assert kept is not None
    db.session.remove()
    db.engine.dispose()
    assert shared._idle is None and kept.dbapi_connection is None
    assert answers.answer_writer(db.engine) is not shared
