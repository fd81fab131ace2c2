"""Which households a task reaches when no row is written per household at dispatch
(tasks/membership.py): each team of a task counts its households' statuses, and
those counts always agree with the households pages, exports and the door plate
show — through reports, households registered, moved or flagged mid-sweep, the
deadline and closing."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import (
    create_household,
    create_report,
    create_task,
    create_village,
    login,
    task_member,
    task_members,
)
from village_grid.extensions import db
from village_grid.hierarchy import service as registry
from village_grid.models import Assignment, Escalation, Task, TaskTeam
from village_grid.qr.public import open_tasks
from village_grid.tasks.dispatch import close_task
from village_grid.tasks.escalation import run_escalations
from village_grid.tasks.labels import STATUSES
from village_grid.tasks.progress import count_rows, household_rows, progress


@pytest.fixture
def village():
    """2 grids × 2 teams × 3 households; a lead on team 1-1."""
    return create_village(grids=2, teams=2, households=3)


def counts(task: Task) -> dict[int, dict[str, int]]:
    """Each team's counts as stored: team id → {"households", and one per status}."""
    db.session.expire_all()
    out = {}
    for tt in db.session.scalars(select(TaskTeam).where(TaskTeam.task_id == task.id)):
        out[tt.team_id] = {"households": tt.households, **{s: getattr(tt, s) for s in STATUSES}}
    return out


def assert_counts_agree(task: Task) -> None:
    """The stored counts are what the households listed say, team by team."""
    listed: dict[int, Counter] = {}
    for row in task_members(task).values():
        listed.setdefault(row["team_id"], Counter())[row["status"]] += 1
    stored = counts(task)
    for team_id, c in stored.items():
        assert c["households"] == sum(c[s] for s in STATUSES), (team_id, c)
        assert {s: c[s] for s in STATUSES if c[s]} == dict(listed.get(team_id, {})), team_id
    assert set(listed) <= set(stored)
    db.session.expire_all()
    task = db.session.get(Task, task.id)
    assert task.households_total == sum(c["households"] for c in stored.values())
    total = progress(db.session, task.id)
    assert total["total"] == len(task_members(task)) == count_rows(db.session, task.id)


def report(task, household, status, actor=None, **kw):
    return create_report(actor, task, household, status, **kw)


def test_reports_move_the_counts_and_only_reported_households_get_rows(village):
    task = create_task(village["village"], village["cadre"], subkind="flood")
    h = village["households"]
    assert db.session.scalar(select(func.count(Assignment.id))) == 0
    report(task, h[0], "safe", village["cadre"])
    report(task, h[1], "needs_help", village["cadre"], help_kind="medical")
    report(task, h[1], "safe", village["cadre"])  # helped: counted once, as safe
    report(task, h[3], "not_home", village["cadre"])
    report(task, h[4], "safe")  # from the door plate
    report(
        task,
        h[0],
        "unreachable",
        village["cadre"],
        client_op_id="op-1",
        client_time=task.created_at,
    )
    assert task_member(task, h[0])["status"] == "safe"  # older, synced late: an event only
    assert db.session.scalar(select(func.count(Assignment.id))) == 4
    first, second = village["teams"][:2]
    assert counts(task)[first.id] == {
        "households": 3,
        "pending": 1,
        "safe": 2,
        "needs_help": 0,
        "not_home": 0,
        "unreachable": 0,
    }
    assert counts(task)[second.id]["not_home"] == 1 and counts(task)[second.id]["safe"] == 1
    assert_counts_agree(task)
    totals = progress(db.session, task.id)
    assert (totals["total"], totals["pending"], totals["safe"]) == (12, 8, 3)


def test_a_household_registered_during_an_open_sweep_is_reached_as_pending(village, client):
    task = create_task(village["village"], village["cadre"], subkind="flood")
    team = village["teams"][0]
    newcomer = create_household(team, "新来户")
    row = task_member(task, newcomer)
    assert row is not None and row["status"] == "pending" and row["team_id"] == team.id
    assert counts(task)[team.id]["households"] == 4
    assert_counts_agree(task)
    # Its door plate offers the sweep, and its lead's page lists it.
    assert [t.id for t in open_tasks(db.session, newcomer)] == [task.id]
    login(client, village["lead"])
    assert "新来户" in client.get(f"/tasks/{task.id}/team").get_data(as_text=True)
    report(task, newcomer, "safe")
    assert counts(task)[team.id]["safe"] == 1
    assert_counts_agree(task)


def test_a_household_moved_away_stays_where_the_sweep_found_it(village):
    sweep = create_task(village["grids"][0], village["cadre"], subkind="flood")
    first, second, third = village["teams"][:3]  # third is in the other grid
    h = village["households"][0]
    registry.move_household(db.session, None, h.id, second.id)  # within the sweep
    db.session.commit()
    assert task_member(sweep, h)["team_id"] == first.id
    assert (
        counts(sweep)[first.id]["households"] == 3 and counts(sweep)[second.id]["households"] == 3
    )
    assert_counts_agree(sweep)
    # A sweep of the other grid sent now reaches it there after a second move.
    other = create_task(village["grids"][1], village["cadre"], subkind="flood")
    registry.move_household(db.session, None, h.id, third.id)
    db.session.commit()
    assert task_member(sweep, h)["team_id"] == first.id
    assert task_member(other, h)["team_id"] == third.id
    assert counts(other)[third.id]["households"] == 4
    assert_counts_agree(sweep)
    assert_counts_agree(other)
    # Reported on in the old team's sweep, it counts there.
    report(sweep, h, "safe", village["cadre"])
    assert counts(sweep)[first.id]["safe"] == 1
    assert_counts_agree(sweep)


def test_a_closed_or_overdue_task_does_not_grow(village):
    closed = create_task(village["village"], village["cadre"], subkind="flood")
    due = create_task(village["village"], village["cadre"], subkind="flood", deadline_minutes=1)
    close_task(db.session, village["cadre"], closed.id)
    db.session.get(Task, due.id).deadline = due.created_at - timedelta(minutes=1)  # overdue
    db.session.commit()
    team = village["teams"][0]
    newcomer = create_household(team, "后来户")
    for task in (closed, due):
        assert task_member(task, newcomer) is None
        assert counts(task)[team.id]["households"] == 3
        assert_counts_agree(task)
    assert open_tasks(db.session, newcomer) == []


@pytest.mark.parametrize("ids_per_query", [None, 1])
def test_the_deadline_gives_the_pending_their_rows_and_their_cases(
    village, monkeypatch, ids_per_query
):
    # A million households' sweep is a hundred thousand teams, more ids than one
    # statement may carry (PostgreSQL refuses past 65,535 parameters): the teams are
    # frozen a chunk at a time; with one team per chunk, none is left out.
    if ids_per_query:
        import village_grid.database as database

        monkeypatch.setattr(database, "IDS_PER_QUERY", ids_per_query)
    task = create_task(village["village"], village["cadre"], subkind="flood")
    h = village["households"]
    report(task, h[0], "safe", village["cadre"])
    run_escalations(db.session, now=task.deadline + timedelta(minutes=1))
    db.session.commit()
    assert db.session.scalar(select(func.count(Assignment.id))) == 12
    assert all(tt.frozen for tt in db.session.scalars(select(TaskTeam)))
    overdue = db.session.scalars(select(Escalation).where(Escalation.reason == "overdue")).all()
    # One case per team with households still pending (all four teams), not per household.
    assert sorted(e.team_id for e in overdue) == sorted(t.id for t in village["teams"])
    assert all(e.household_id is None for e in overdue)
    assert_counts_agree(task)
    # Reached after the deadline: the counts move; the team's last one ends its case.
    report(task, h[1], "safe", village["cadre"])
    assert counts(task)[village["teams"][0].id]["safe"] == 2
    assert_counts_agree(task)
    first_team = lambda: db.session.scalar(  # noqa: E731
        select(Escalation.status).where(Escalation.team_id == village["teams"][0].id)
    )
    assert first_team() == "open"
    report(task, h[2], "not_home", village["cadre"])
    db.session.expire_all()
    assert first_team() == "resolved"


def test_a_sweep_of_flagged_households_follows_the_flags_until_its_deadline(village):
    h = village["households"]
    registry.update_household(db.session, None, h[0].id, {"flags": ["elderly_alone"]})
    db.session.commit()
    task = create_task(
        village["village"], village["cadre"], subkind="flood", filter={"flags": ["elderly_alone"]}
    )
    assert set(task_members(task)) == {h[0].id}
    # Newly flagged in a team the sweep reached: reached. In a team it did not reach (no
    # lead was told): not. Flag taken off: stays, as the sweep found it.
    for household in (h[1], h[4]):
        registry.update_household(db.session, None, household.id, {"flags": ["elderly_alone"]})
    registry.update_household(db.session, None, h[0].id, {"flags": []})
    db.session.commit()
    assert set(task_members(task)) == {h[0].id, h[1].id}
    assert_counts_agree(task)
    # A change of another field changes nothing.
    registry.update_household(db.session, None, h[1].id, {"door_no": "9号"})
    db.session.commit()
    assert set(task_members(task)) == {h[0].id, h[1].id}
    assert_counts_agree(task)


def test_lists_and_counts_agree_in_a_scope_and_for_a_status(village):
    task = create_task(village["village"], village["cadre"], subkind="flood")
    h = village["households"]
    report(task, h[0], "needs_help", village["cadre"])
    report(task, h[7], "needs_help", village["cadre"])
    paths = [village["grids"][0].path]
    for statuses in (None, ("pending",), ("needs_help",), ("pending", "safe")):
        rows = household_rows(db.session, task.id, paths=paths, statuses=statuses)
        assert len(rows) == count_rows(db.session, task.id, paths=paths, statuses=statuses)
    assert [
        r["household_id"]
        for r in household_rows(db.session, task.id, statuses=("needs_help",), latest_first=True)
    ] == [h[7].id, h[0].id]
