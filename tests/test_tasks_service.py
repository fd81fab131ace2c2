"""Dispatch, statuses as append-only events, progress roll-ups, closing, notices."""

from datetime import timedelta

import pytest

from tests.factories import create_task, create_village, task_members
from village_grid.errors import Conflict, Forbidden, InvalidInput, NotFound, OutOfScope
from village_grid.extensions import db
from village_grid.models import Assignment, OutboxMessage, StatusEvent, Task, TaskTeam
from village_grid.models.base import utcnow
from village_grid.tasks.dispatch import close_task, preview_dispatch
from village_grid.tasks.progress import (
    coverage_timeline,
    needs_help_cases,
    notice_reads,
    pending_households,
    progress,
)
from village_grid.tasks.queries import get_task, open_tasks_for_household, visible_tasks
from village_grid.tasks.statuses import mark_notice_read, record_status


@pytest.fixture
def village():
    """2 grids × 2 teams × 2 households; a grid member on each grid, a lead on team 1-1 only."""
    return create_village(grids=2, teams=2, households=2)


def sweep(tree, actor=None, unit=None, **kw):
    kw.setdefault("subkind", "flood")
    kw.setdefault("title", "防汛排查")
    return create_task(unit or tree["village"], actor or tree["cadre"], **kw)


def test_dispatch_reaches_every_household_as_pending_and_sends_messages(village):
    task = sweep(village)
    assert (task.households_total, task.teams_total) == (8, 4)
    rows = task_members(task)
    assert sorted(rows) == sorted(h.id for h in village["households"])
    assert {r["status"] for r in rows.values()} == {"pending"}
    assert {r["team_id"] for r in rows.values()} == {t.id for t in village["teams"]}
    # No row per household is written: each team counts its households.
    assert db.session.scalar(db.select(db.func.count(Assignment.id))) == 0
    counts = db.session.execute(
        db.select(TaskTeam.households, TaskTeam.pending).where(TaskTeam.task_id == task.id)
    ).all()
    assert counts == [(2, 2)] * 4
    assert task.deadline == task.created_at + timedelta(minutes=60)
    # One message per person told: lead (team 1), grid member (team 2), grid member B (grid 2).
    keys = set(db.session.scalars(db.select(OutboxMessage.event_key)))
    assert keys == {
        f"dispatch:{task.id}:user:{village['lead'].id}",
        f"dispatch:{task.id}:user:{village['gm'].id}",
        f"dispatch:{task.id}:user:{village['gm_b'].id}",
    }
    body = db.session.scalar(
        db.select(OutboxMessage.body).where(OutboxMessage.recipient_id == village["gm_b"].id)
    )
    assert "防汛排查" in body and "2 个小队" in body and "4 户" in body


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"kind": "party"}, "kind"),
        ({"subkind": "earthquake"}, "subkind"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"deadline_minutes": 0}, "deadline_minutes"),
        ({"deadline_minutes": 10**7}, "deadline_minutes"),
        ({"filter": {"flags": ["rich"]}}, "filter.flags"),
        ({"filter": {"colour": "red"}}, "filter"),
        ({"filter": {"flags": ["veteran"]}}, "filter"),
        ({"kind": "survey", "subkind": "", "questions": []}, "questions"),
        (
            {"kind": "survey", "subkind": "", "questions": [{"type": "choice", "text": "?"}]},
            "questions.0",
        ),
    ],
)
def test_bad_dispatch_is_refused_naming_the_field(village, kw, field):
    with pytest.raises(InvalidInput) as err:
        sweep(village, **kw)
    assert field in err.value.fields
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Assignment.id))) == 0


def test_filter_unit_outside_target_is_refused(village):
    with pytest.raises(InvalidInput) as err:
        sweep(village, unit=village["grids"][0], filter={"unit_ids": [village["teams"][2].id]})
    assert err.value.fields == {"filter.unit_ids": "outside_target"}


def test_grid_member_dispatches_only_within_their_grid(village):
    gm = village["gm"]
    task = sweep(village, actor=gm, unit=village["grids"][0])
    assert task.households_total == 4
    with pytest.raises(OutOfScope):
        sweep(village, actor=gm, unit=village["grids"][1])
    with pytest.raises(OutOfScope):
        sweep(village, actor=gm, unit=village["village"])
    with pytest.raises(Forbidden):  # a lead sees their team but may not dispatch
        sweep(village, actor=village["lead"], unit=village["teams"][0])
    with pytest.raises(OutOfScope):
        preview_dispatch(db.session, gm, unit_id=village["grids"][1].id)


def test_statuses_are_append_only_and_latest_wins(village):
    task = sweep(village)
    h = village["households"][0]
    lead = village["lead"]
    e1 = record_status(
        db.session, lead, task_id=task.id, household_id=h.id, status="not_home"
    ).event
    e2 = record_status(
        db.session,
        lead,
        task_id=task.id,
        household_id=h.id,
        status="safe",
        note="回来了",
    ).event
    db.session.commit()
    events = db.session.scalars(
        db.select(StatusEvent).where(StatusEvent.household_id == h.id).order_by(StatusEvent.id)
    ).all()
    assert [(e.id, e.status) for e in events] == [(e1.id, "not_home"), (e2.id, "safe")]
    assert events[0].actor_id == lead.id and events[0].via == "team_lead"
    a = db.session.scalar(db.select(Assignment).where(Assignment.household_id == h.id))
    assert (a.status, a.note, a.updated_via, a.updated_by_id) == (
        "safe",
        "回来了",
        "team_lead",
        lead.id,
    )


def test_replayed_client_op_id_changes_nothing(village):
    task = sweep(village)
    h = village["households"][0]
    kw = dict(task_id=task.id, household_id=h.id, client_op_id="phone1-0001")
    first = record_status(db.session, village["lead"], status="safe", **kw)
    db.session.commit()
    again = record_status(db.session, village["lead"], status="needs_help", **kw)
    db.session.commit()
    assert (first.result, again.result) == ("applied", "duplicate")
    assert again.event.id == first.event.id and again.event.status == "safe"
    assert db.session.scalar(db.select(db.func.count(StatusEvent.id))) == 1
    a = db.session.scalar(db.select(Assignment).where(Assignment.household_id == h.id))
    assert a.status == "safe"
    # The same id for another household is a client bug, not a silent success.
    with pytest.raises(Conflict):
        record_status(
            db.session,
            village["lead"],
            status="safe",
            task_id=task.id,
            household_id=village["households"][1].id,
            client_op_id="phone1-0001",
        )


def test_a_late_sync_of_an_older_report_is_kept_but_does_not_win(village):
    task = sweep(village)
    h = village["households"][0]
    now = utcnow()
    record_status(
        db.session,
        None,
        task_id=task.id,
        household_id=h.id,
        status="safe",
        now=now,
    )
    # The lead pressed "not home" offline five minutes earlier; it syncs now.
    old = record_status(
        db.session,
        village["lead"],
        task_id=task.id,
        household_id=h.id,
        status="not_home",
        client_op_id="op-1",
        client_time=now - timedelta(minutes=5),
        now=now + timedelta(seconds=1),
    )
    db.session.commit()
    assert old.result == "older" and old.event.id and old.event.status == "not_home"
    a = db.session.scalar(db.select(Assignment).where(Assignment.household_id == h.id))
    assert a.status == "safe" and a.updated_via == "household_qr"
    assert db.session.scalar(db.select(db.func.count(StatusEvent.id))) == 2


def test_status_checks_scope_values_and_membership(village):
    task = sweep(village, unit=village["grids"][0])
    lead = village["lead"]
    mine = village["households"][0]
    other_team = village["households"][2]  # team 1-2, same grid, not the lead's
    outside = village["households"][4]  # grid 2: not in this task
    kw = dict(task_id=task.id)
    with pytest.raises(OutOfScope):
        record_status(db.session, lead, household_id=other_team.id, status="safe", **kw)
    with pytest.raises(NotFound):
        record_status(db.session, village["cadre"], household_id=outside.id, status="safe", **kw)
    with pytest.raises(InvalidInput):
        record_status(db.session, lead, household_id=mine.id, status="pending", **kw)
    with pytest.raises(InvalidInput):
        record_status(
            db.session, lead, household_id=mine.id, status="needs_help", help_kind="money", **kw
        )
    # Without a login it is the household at its door plate: only its own answers.
    with pytest.raises(InvalidInput):
        record_status(db.session, None, household_id=mine.id, status="not_home", **kw)
    with pytest.raises(NotFound):
        record_status(db.session, None, household_id=outside.id, status="safe", **kw)
    with pytest.raises(OutOfScope):
        record_status(db.session, lead, task_id=999999, household_id=mine.id, status="safe")
    ev = record_status(db.session, lead, household_id=mine.id, status="needs_help", **kw)
    assert ev.event.help_kind == "other"  # a call for help without a kind is still a call for help


def test_closing_freezes_the_task(village):
    task = sweep(village)
    h = village["households"][0]
    record_status(
        db.session,
        village["lead"],
        task_id=task.id,
        household_id=h.id,
        status="safe",
        client_op_id="op-before",
    )
    with pytest.raises(Forbidden):
        close_task(db.session, village["lead"], task.id)
    close_task(db.session, village["cadre"], task.id)
    db.session.commit()
    with pytest.raises(Conflict) as err:
        record_status(
            db.session,
            village["lead"],
            task_id=task.id,
            household_id=h.id,
            status="needs_help",
        )
    assert err.value.code == "task_closed"
    # A replay of something recorded before closing still answers the same.
    again = record_status(
        db.session,
        village["lead"],
        task_id=task.id,
        household_id=h.id,
        status="safe",
        client_op_id="op-before",
    )
    assert again.result == "duplicate" and again.event.status == "safe"
    assert open_tasks_for_household(db.session, h.id) == []
    assert progress(db.session, task.id)["closed"] is True


def test_progress_rolls_up_every_level(village):
    task = sweep(village)
    hs = village["households"]
    for h, status in zip(hs[:4], ["safe", "needs_help", "not_home", "unreachable"], strict=True):
        record_status(
            db.session,
            village["cadre"],
            task_id=task.id,
            household_id=h.id,
            status=status,
        )
    db.session.commit()
    p = progress(db.session, task.id)
    assert {
        k: p[k] for k in ("total", "pending", "safe", "needs_help", "not_home", "unreachable")
    } == {
        "total": 8,
        "pending": 4,
        "safe": 1,
        "needs_help": 1,
        "not_home": 1,
        "unreachable": 1,
    }
    units = {u["id"]: u for u in p["units"]}
    assert [u["kind"] for u in p["units"]] == [
        "village",
        "grid",
        "team",
        "team",
        "grid",
        "team",
        "team",
    ]
    grid_a, grid_b = village["grids"]
    assert (units[grid_a.id]["total"], units[grid_a.id]["pending"]) == (4, 0)
    assert (units[grid_b.id]["total"], units[grid_b.id]["pending"]) == (4, 4)
    t1 = village["teams"][0]
    assert (units[t1.id]["safe"], units[t1.id]["needs_help"], units[t1.id]["parent_id"]) == (
        1,
        1,
        grid_a.id,
    )
    cases = needs_help_cases(db.session, task.id)
    assert [c["household_id"] for c in cases] == [hs[1].id]
    assert cases[0]["responsible_name"] == "张三"
    # The grid member of grid B sees only grid B.
    mine = progress(db.session, task.id, actor=village["gm_b"])
    assert mine["total"] == 4 and mine["pending"] == 4
    assert {u["id"] for u in mine["units"]} == {grid_b.id, *(t.id for t in village["teams"][2:])}
    assert needs_help_cases(db.session, task.id, actor=village["gm_b"]) == []
    pending = pending_households(db.session, task.id, actor=village["gm_b"])
    assert len(pending) == 4 and pending[0]["responsible_name"] == "陈刚"
    timeline = coverage_timeline(db.session, task.id, points=4)
    assert timeline["covered"] == 4 and timeline["points"][-1]["covered"] == 4


def test_visibility_of_tasks(village):
    task = sweep(village)
    grid_task = sweep(village, actor=village["gm"], unit=village["grids"][0])
    b_task = sweep(village, actor=village["gm_b"], unit=village["grids"][1])
    ids = lambda user: {t.id for t in visible_tasks(db.session, user)}  # noqa: E731
    assert ids(village["cadre"]) == {task.id, grid_task.id, b_task.id}
    assert ids(village["gm"]) == {task.id, grid_task.id}
    assert ids(village["lead"]) == {task.id, grid_task.id}  # both reached the lead's team
    with pytest.raises(OutOfScope):
        get_task(db.session, village["gm"], b_task.id)
    assert [
        t.id for t, _a in open_tasks_for_household(db.session, village["households"][0].id)
    ] == [
        grid_task.id,
        task.id,
    ]


def test_survey_answers_are_checked_and_kept(village):
    task = sweep(
        village,
        kind="survey",
        subkind="",
        title="垃圾分类满意度",
        questions=[
            {"text": "是否分类?", "type": "choice", "choices": ["是", "否"]},
            {"id": "n", "text": "几口人?", "type": "number"},
        ],
    )
    h = village["households"][0]
    kw = dict(task_id=task.id, household_id=h.id, status="safe")
    with pytest.raises(InvalidInput):
        record_status(db.session, None, answers={"q1": "也许"}, **kw)
    with pytest.raises(InvalidInput):
        record_status(db.session, None, answers={"n": "many"}, **kw)
    with pytest.raises(InvalidInput):
        record_status(db.session, None, answers={"zzz": "1"}, **kw)
    record_status(db.session, None, answers={"q1": "是", "n": "4"}, **kw)
    db.session.commit()
    a = db.session.scalar(db.select(Assignment).where(Assignment.household_id == h.id))
    assert a.answers == {"q1": "是", "n": 4}


def test_notice_reaches_team_leads_with_read_receipts(village):
    task = sweep(village, kind="notice", subkind="", title="寻找走失儿童", deadline_minutes=None)
    assert task.teams_total == 4
    assert db.session.scalar(db.select(db.func.count(Assignment.id))) == 0
    r1 = mark_notice_read(db.session, village["lead"], task.id)
    r2 = mark_notice_read(db.session, village["lead"], task.id)
    db.session.commit()
    assert r1.id == r2.id
    reads = notice_reads(db.session, task.id)
    assert reads["told"] == 3 and reads["read"] == 1


def test_a_task_of_more_teams_than_a_township_is_told_by_the_worker(village, monkeypatch):
    """Past TELL_INLINE_TEAMS the dispatch commits the teams and their counts, and the
    worker routes them and queues the same messages a moment later."""
    from village_grid.tasks import labels
    from village_grid.tasks.telling import tell_pending

    def told(task):
        return sorted(
            db.session.scalars(
                db.select(OutboxMessage.recipient_id).where(
                    OutboxMessage.event_key.like(f"dispatch:{task.id}:%")
                )
            )
        )

    def routed(task):
        return sorted(
            db.session.execute(
                db.select(TaskTeam.team_id, TaskTeam.assignee_id, TaskTeam.assignee_role).where(
                    TaskTeam.task_id == task.id
                )
            ).all()
        )

    small = sweep(village)
    monkeypatch.setattr(labels, "TELL_INLINE_TEAMS", 0)
    big = sweep(village)
    assert big.told_at is None and told(big) == []
    assert progress(db.session, big.id)["pending"] == 8  # counted at once
    assert {r[1] for r in routed(big)} == {None}
    assert tell_pending(db.session) == 1
    db.session.commit()
    assert told(big) == told(small) and len(told(big)) == 3
    assert [r[1:] for r in routed(big)] == [r[1:] for r in routed(small)]
    assert db.session.get(Task, big.id).told_at is not None
    assert tell_pending(db.session) == 0


def test_telling_in_batches_stopped_midway_resumes_without_telling_a_team_twice(
    village, monkeypatch
):
    """The worker commits a batch of teams at a time: stopped after the first, the next
    worker tells only the teams left; a person whose teams the batches share hears of
    each team once, in one message per batch."""
    import re

    from village_grid.tasks import labels
    from village_grid.tasks.telling import tell_batches, tell_pending

    monkeypatch.setattr(labels, "TELL_INLINE_TEAMS", 0)
    task = sweep(village)
    batches = tell_batches(db.session, batch=3)  # tree order: teams 1-1, 1-2, 2-1 | 2-2
    assert next(batches) == 3
    db.session.commit()
    batches.close()  # the worker is killed before the second batch
    reasons = dict(
        db.session.execute(
            db.select(TaskTeam.team_id, TaskTeam.reason).where(TaskTeam.task_id == task.id)
        ).all()
    )
    assert [bool(reasons[t.id]) for t in village["teams"]] == [True, True, True, False]
    assert db.session.get(Task, task.id).told_at is None

    assert tell_pending(db.session) == 1  # a worker started again
    db.session.commit()
    assert db.session.get(Task, task.id).told_at is not None
    told = db.session.execute(
        db.select(OutboxMessage.recipient_id, OutboxMessage.body).where(
            OutboxMessage.event_key.like(f"dispatch:{task.id}:%")
        )
    ).all()
    teams_told = {}
    for recipient, body in told:
        n = int(re.search(r"(\d+) 个小队", body).group(1))
        teams_told[recipient] = teams_told.get(recipient, 0) + n
    assert teams_told == {village["lead"].id: 1, village["gm"].id: 1, village["gm_b"].id: 2}
    assert sum(1 for r, _b in told if r == village["gm_b"].id) == 2  # one per batch
    assert tell_pending(db.session) == 0


def test_a_task_told_in_one_batch_keeps_one_message_per_person(village, monkeypatch):
    """Batches as large as the task: the same messages, under the same keys, as a
    township's dispatch tells at once."""
    from village_grid.tasks import labels
    from village_grid.tasks.telling import tell_batches

    small = sweep(village)
    monkeypatch.setattr(labels, "TELL_INLINE_TEAMS", 0)
    big = sweep(village)
    assert list(tell_batches(db.session, batch=4)) == [3]
    db.session.commit()

    def keys(task):
        return sorted(
            k.replace(f":{task.id}:", ":")
            for k in db.session.scalars(
                db.select(OutboxMessage.event_key).where(
                    OutboxMessage.event_key.like(f"dispatch:{task.id}:%")
                )
            )
        )

    assert keys(big) == keys(small) and len(keys(big)) == 3
