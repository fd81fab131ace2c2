"""Door-plate answers take the same path as every other status (tasks/statuses.py):
each is committed before it is acknowledged, answers racing each other are all
kept, and an older answer never overwrites a newer status."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import create_engine, func, select, update

from tests.factories import create_task, create_tree, create_user
from village_grid.extensions import db
from village_grid.models import Assignment, StatusEvent, TaskTeam
from village_grid.tasks.membership import add_row
from village_grid.tasks.statuses import record_status


@pytest.fixture
def sweep():
    tree = create_tree(grids=1, teams=2, households=5)
    cadre = create_user("cadre", tree["village"])
    task = create_task(tree["village"], cadre, subkind="flood", title="防汛排查")
    return task, tree["households"]


def test_answers_sent_at_the_same_moment_are_all_acknowledged_and_kept(app, sweep):
    task, households = sweep
    task_id, tokens = task.id, [h.qr_token for h in households]
    db.session.commit()
    start = threading.Barrier(len(tokens))
    answers: dict[int, tuple[int, dict]] = {}

    def answer(i: int) -> None:
        client = app.test_client()
        start.wait(5)
        res = client.post(
            f"/api/v1/public/{tokens[i]}/reports",
            json={"task_id": task_id, "status": "safe", "note": f"第{i}户"},
        )
        answers[i] = (res.status_code, res.get_json())

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert sorted(code for code, _body in answers.values()) == [201] * len(tokens)
    db.session.expire_all()
    events = db.session.scalars(select(StatusEvent).order_by(StatusEvent.id)).all()
    assert sorted(e.note for e in events) == sorted(f"第{i}户" for i in range(len(tokens)))
    assert {e.via for e in events} == {"household_qr"} and {e.actor_id for e in events} == {None}
    done = db.session.scalar(
        select(func.count()).where(Assignment.task_id == task_id, Assignment.status == "safe")
    )
    assert done == len(tokens)
    # The teams' counts moved once per answer, however they raced.
    counts = db.session.execute(
        select(func.sum(TaskTeam.safe), func.sum(TaskTeam.pending)).where(
            TaskTeam.task_id == task_id
        )
    ).one()
    assert tuple(counts) == (len(tokens), 0)


def test_an_older_answer_does_not_overwrite_a_newer_status_committed_meanwhile(app, sweep):
    """Latest wins in the UPDATE itself: a team lead's tap committed after the
    household's assignment was read, but before its answer is written, is kept."""
    task, households = sweep
    household = households[0]
    # Its row, as a first report would have written it (``membership.add_row``).
    add_row(db.session, task.id, household.id, household.team_id)
    db.session.commit()
    assignment = db.session.scalar(
        select(Assignment).where(
            Assignment.task_id == task.id, Assignment.household_id == household.id
        )
    )
    assert assignment.updated_at is None  # what this session has read
    # Meanwhile, on another connection: the lead's tap, newer than the household's answer.
    other = create_engine(db.engine.url)
    with other.begin() as conn:
        conn.execute(
            update(Assignment)
            .where(Assignment.id == assignment.id)
            .values(status="not_home", updated_at=datetime(2026, 1, 1, 8, 5))
        )
    other.dispose()

    done = record_status(
        db.session,
        None,
        task_id=task.id,
        household_id=household.id,
        status="safe",
        now=datetime(2026, 1, 1, 8, 0),
    )
    db.session.commit()
    event = done.event
    assert done.result == "older"

    db.session.expire_all()
    assert db.session.get(Assignment, assignment.id).status == "not_home"  # the newer tap
    assert db.session.get(StatusEvent, event.id).status == "safe"  # still recorded


def test_a_refused_answer_leaves_nothing_behind(client, sweep):
    task, households = sweep
    res = client.post(
        f"/api/v1/public/{households[0].qr_token}/reports",
        json={"task_id": task.id, "status": "needs_help", "kind": "flooding", "note": "水" * 501},
    )
    assert res.status_code == 422 and res.get_json()["error"]["fields"] == {"note": "too_long"}
    assert db.session.scalar(select(func.count()).select_from(StatusEvent)) == 0
