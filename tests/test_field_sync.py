"""POST /api/v1/field/sync: a phone's queued taps, each applied once, through the one
status service; duplicates, late and early phone clocks, out-of-scope and malformed
operations in one batch, and the 200-operation limit."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.factories import api_headers, create_task, create_village, login, task_member
from village_grid.extensions import db
from village_grid.models import Escalation, FieldSign, StatusEvent
from village_grid.models.base import utcnow

URL = "/api/v1/field/sync"


@pytest.fixture
def world():
    v = create_village(grids=2, teams=2, households=3, leads=2)
    sent = utcnow() - timedelta(minutes=30)
    v["task"] = create_task(v["village"], v["cadre"], kind="sweep", title="防汛排查", now=sent)
    # The lead's team is the first: its households are the first three.
    v["mine"] = v["households"][:3]
    v["theirs"] = v["households"][3:6]  # the second team, led by someone else
    return v


def op(task, household, status="safe", **extra) -> dict:
    body = {
        "op_id": str(uuid.uuid4()),
        "task_id": task.id,
        "household_id": household.id,
        "status": status,
        "at": (utcnow() + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S") + "+08:00",
    }
    body.update(extra)
    return body


def events() -> int:
    return db.session.scalar(select(func.count()).select_from(StatusEvent))


def assignment(task, household) -> SimpleNamespace:
    """The household's place in the task as pages read it (status, note, updated_at …)."""
    db.session.expire_all()
    return SimpleNamespace(**task_member(task, household))


def test_a_batch_applies_each_op_once_and_a_replay_changes_nothing(client, world):
    headers = api_headers(client, world["lead"])
    task, (a, b, c) = world["task"], world["mine"]
    ops = [
        op(task, a),
        op(task, b, "not_home"),
        op(task, c, "needs_help", kind="medical", note="老人摔倒"),
    ]
    res = client.post(URL, json={"ops": ops}, headers=headers)
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert [r["result"] for r in body["results"]] == ["applied"] * 3
    assert [r["op_id"] for r in body["results"]] == [o["op_id"] for o in ops]
    assert (body["applied"], body["duplicate"], body["rejected"]) == (3, 0, 0)
    assert events() == 3
    assert assignment(task, c).status == "needs_help" and assignment(task, c).help_kind == "medical"
    # Recorded as the lead's, through the phone's queue.
    recorded = db.session.scalars(select(StatusEvent)).all()
    assert {e.via for e in recorded} == {"sync"}
    assert {e.actor_id for e in recorded} == {world["lead"].id}
    # The call for help climbs the tree like any other.
    assert db.session.scalar(select(func.count()).select_from(Escalation)) >= 1

    again = client.post(URL, json={"ops": ops}, headers=headers).get_json()
    assert [r["result"] for r in again["results"]] == ["duplicate"] * 3
    assert events() == 3
    # The same op twice in one batch: applied once.
    twice = op(task, a, "unreachable")
    res = client.post(URL, json={"ops": [twice, twice]}, headers=headers).get_json()
    assert [r["result"] for r in res["results"]] == ["applied", "duplicate"]
    assert events() == 4


def test_an_older_op_synced_late_is_kept_but_does_not_overwrite(client, world):
    headers = api_headers(client, world["lead"])
    task, a = world["task"], world["mine"][0]
    now = utcnow()
    newer = op(task, a, "not_home", at=(now - timedelta(minutes=1)).isoformat() + "Z")
    older = op(task, a, "safe", at=(now - timedelta(minutes=5)).isoformat() + "Z")
    res = client.post(URL, json={"ops": [newer, older]}, headers=headers).get_json()
    assert [r["result"] for r in res["results"]] == ["applied", "applied"]
    assert events() == 2
    assert assignment(task, a).status == "not_home"


def test_phone_times_in_the_future_or_before_dispatch_are_clamped_and_said(client, world):
    headers = api_headers(client, world["lead"])
    task, (a, b, c) = world["task"], world["mine"]
    future = op(task, a, at="2099-01-01T08:00:00+08:00")
    before = op(task, b, at="2001-01-01T08:00:00+08:00")
    fine = op(task, c)
    res = client.post(URL, json={"ops": [future, before, fine]}, headers=headers).get_json()
    assert [r.get("clamped") for r in res["results"]] == ["future", "before_dispatch", None]
    stored = {e.client_op_id: e for e in db.session.scalars(select(StatusEvent))}
    # The event keeps the phone's time as sent; the assignment's time is clamped.
    assert stored[future["op_id"]].client_time.year == 2099
    assert assignment(task, a).updated_at <= utcnow()
    assert assignment(task, b).updated_at >= task.created_at


def test_out_of_scope_and_malformed_ops_are_rejected_alone(client, world):
    headers = api_headers(client, world["lead"])
    task, mine, theirs = world["task"], world["mine"], world["theirs"]
    good = [op(task, mine[0]), op(task, mine[1], "unreachable")]
    ops = [
        good[0],
        op(task, theirs[0]),  # another lead's household
        {"op_id": "x1", "task_id": task.id},  # no household, no status
        op(task, mine[2], "exploded"),  # no such status
        op(task, mine[2], at="yesterday"),
        op(task, mine[2], at="2026-07-25T18:00:00"),  # no offset
        op(task, mine[2], note="长" * 501),
        op(task, mine[2], colour="red"),
        op(task, mine[2], task_id=2**31),  # out of range
        op(task, mine[2], task_id=999_999),  # no such task
        op(task, mine[2], "needs_help", kind="aliens"),
        good[1],
    ]
    res = client.post(URL, json={"ops": ops}, headers=headers)
    assert res.status_code == 200, res.get_json()
    results = res.get_json()["results"]
    assert [r["result"] for r in results] == ["applied"] + ["rejected"] * 10 + ["applied"]
    for r in results[1:-1]:
        assert r["error"]["code"] and r["error"]["message"], r
    assert results[1]["error"]["code"] == "not_found"
    assert results[2]["error"]["fields"] == {"household_id": "required", "status": "required"}
    assert results[3]["error"]["fields"] == {"status": "unknown"}
    assert results[4]["error"]["fields"] == {"at": "invalid"}
    assert results[5]["error"]["fields"] == {"at": "no_offset"}
    assert results[6]["error"]["fields"] == {"note": "too_long"}
    assert results[7]["error"]["fields"] == {"colour": "not_allowed"}
    assert results[8]["error"]["fields"] == {"task_id": "out_of_range"}
    assert results[9]["error"]["code"] == "not_found"
    assert results[10]["error"]["fields"] == {"kind": "unknown"}
    # Only the good ones were written, nothing of the others.
    assert events() == 2
    assert assignment(task, world["theirs"][0]).status == "pending"
    assert assignment(task, mine[2]).status == "pending"


def test_an_op_id_reused_for_another_household_is_rejected(client, world):
    headers = api_headers(client, world["lead"])
    task, (a, b, _c) = world["task"], world["mine"]
    first = op(task, a)
    client.post(URL, json={"ops": [first]}, headers=headers)
    res = client.post(URL, json={"ops": [{**first, "household_id": b.id}]}, headers=headers)
    result = res.get_json()["results"][0]
    assert result["result"] == "rejected" and result["error"]["code"] == "client_op_id_reused"
    assert events() == 1


def test_a_closed_task_rejects_late_ops(client, world):
    from village_grid.tasks.dispatch import close_task

    headers = api_headers(client, world["lead"])
    task = world["task"]
    close_task(db.session, None, task.id)
    db.session.commit()
    res = client.post(URL, json={"ops": [op(task, world["mine"][0])]}, headers=headers)
    result = res.get_json()["results"][0]
    assert result["result"] == "rejected" and result["error"]["code"] == "task_closed"


def test_at_most_200_ops_a_batch(client, world):
    headers = api_headers(client, world["lead"])
    task, a = world["task"], world["mine"][0]
    res = client.post(URL, json={"ops": [op(task, a) for _ in range(201)]}, headers=headers)
    assert res.status_code == 422
    assert res.get_json()["error"]["fields"] == {"ops": "too_many"}
    assert events() == 0
    res = client.post(URL, json={"ops": [op(task, a) for _ in range(200)]}, headers=headers)
    body = res.get_json()
    assert res.status_code == 200 and body["rejected"] == 0
    # The same report made 200 times at once: one is kept, the rest repeat it.
    assert (body["applied"], body["duplicate"], events()) == (1, 199, 1)
    for bad in ({}, {"ops": "all"}, {"ops": [1]}, {"ops": [], "more": 1}):
        assert client.post(URL, json=bad, headers=headers).status_code == 422, bad


def test_a_grid_member_acts_for_the_lead_and_it_is_theirs(client, world):
    headers = api_headers(client, world["gm"])
    task, a = world["task"], world["mine"][0]
    res = client.post(URL, json={"ops": [op(task, a)]}, headers=headers).get_json()
    assert res["results"][0]["result"] == "applied"
    event = db.session.scalars(select(StatusEvent)).one()
    assert event.actor_id == world["gm"].id and event.via == "sync"


def test_a_sync_is_a_sign_of_life_and_the_page_too(client, world):
    headers = api_headers(client, world["lead"])
    task = world["task"]
    client.post(URL, json={"ops": [op(task, world["mine"][0])]}, headers=headers)
    sign = db.session.scalars(select(FieldSign)).one()
    assert (sign.user_id, sign.task_id, sign.last_kind) == (world["lead"].id, task.id, "sync")
    assert sign.synced_at is not None


def test_the_page_session_needs_its_csrf_token(app, client, world):
    login(client, world["lead"])
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        res = client.post(URL, json={"ops": [op(world["task"], world["mine"][0])]})
        assert res.status_code == 400 and res.get_json()["error"]["code"] == "csrf"
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert events() == 0


def test_anonymous_is_refused(client, world):
    assert client.post(URL, json={"ops": []}).status_code == 401


def test_a_batch_locks_its_teams_in_order_then_writes_and_answers_in_its_own(client, world):
    """Two phones' batches over the same teams in different orders must not each hold a
    lock the other waits for (on PostgreSQL a deadlock, a 500; scripts/load found it):
    every batch locks the task teams its households count under in (task, team) order
    before it writes anything, then writes the households in order, the same household's
    operations in the order sent; it answers in the batch's order."""
    from sqlalchemy import event as sa_event

    from village_grid.models import Assignment

    task = world["task"]
    (a, b, c), (d, e, _f) = world["mine"], world["theirs"]  # two teams of the grid member's
    malformed = {"op_id": str(uuid.uuid4()), "task_id": task.id}  # no household: rejected alone
    ops = [
        op(task, e),
        op(task, c),
        op(task, a, "not_home"),
        malformed,
        op(task, d),
        op(task, b),
        op(task, a),
    ]
    seen: list[tuple[str, list[dict]]] = []

    def watch(conn, cursor, statement, params, context, executemany):
        for kind in ("UPDATE task_teams SET frozen", "INSERT INTO", "UPDATE assignments"):
            if statement.startswith(kind):
                seen.append((kind, [dict(p) for p in context.compiled_parameters]))

    headers = api_headers(client, world["gm"])
    sa_event.listen(db.engine, "before_cursor_execute", watch)
    try:
        res = client.post(URL, json={"ops": ops}, headers=headers)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", watch)
    assert res.status_code == 200, res.get_json()
    kinds = [k for k, _ in seen]
    locks = [p[0]["team"] for k, p in seen if k == "UPDATE task_teams SET frozen"]
    assert locks == [a.team_id, d.team_id] and a.team_id < d.team_id
    assert kinds[:2] == ["UPDATE task_teams SET frozen"] * 2  # before any write
    written = db.session.scalars(select(StatusEvent.household_id).order_by(StatusEvent.id)).all()
    assert written == [a.id, a.id, b.id, c.id, d.id, e.id]
    rows = dict(db.session.execute(select(Assignment.id, Assignment.household_id)).all())
    updated = [rows[p["b_id"]] for k, ps in seen if k == "UPDATE assignments" for p in ps]
    assert updated == sorted(updated) == [a.id, b.id, c.id, d.id, e.id]  # each household once
    results = res.get_json()["results"]
    assert [r["result"] for r in results] == ["applied"] * 3 + ["rejected"] + ["applied"] * 3
    assert [r["op_id"] for r in results] == [o["op_id"] for o in ops]
    # The same household's ops kept their order: the later tap is the latest status.
    assert assignment(task, a).status == "safe"


def test_a_batchs_team_counts_agree_with_its_households(client, world):
    """Each team's counts move once for the batch, by where its households ended: a
    first report, a change, the same status again, an older report and a repeat."""
    from collections import Counter

    from village_grid.models import Assignment, TaskTeam
    from village_grid.tasks.labels import PENDING, STATUSES

    headers = api_headers(client, world["gm"])
    task, (a, b, c), (d, e, _f) = world["task"], world["mine"], world["theirs"]
    now = utcnow()
    at = lambda minutes: (now - timedelta(minutes=minutes)).isoformat() + "Z"  # noqa: E731
    client.post(
        URL, json={"ops": [op(task, a, at=at(20)), op(task, d, at=at(20))]}, headers=headers
    )
    ops = [
        op(task, a, "safe", at=at(10)),  # the same status again
        op(task, b, "not_home", at=at(10)),  # a first report
        op(task, b, "safe", at=at(5)),  # then a change
        op(task, d, "unreachable", at=at(10)),  # a change on the other team
        op(task, d, "safe", at=at(15)),  # older: kept as an event only
        op(task, e, "needs_help", at=at(10)),
    ]
    res = client.post(URL, json={"ops": ops}, headers=headers).get_json()
    assert [r["result"] for r in res["results"]] == ["applied"] * 6
    assert res["results"][4]["older"] is True
    db.session.expire_all()
    rows = Counter(
        (team, status)
        for team, status in db.session.execute(
            select(Assignment.team_id, Assignment.status).where(Assignment.task_id == task.id)
        )
    )
    for tt in db.session.scalars(select(TaskTeam).where(TaskTeam.task_id == task.id)):
        stored = {s: getattr(tt, s) for s in STATUSES}
        answered = {s: rows[(tt.team_id, s)] for s in STATUSES if s != PENDING}
        assert stored == {**answered, PENDING: tt.households - sum(answered.values())}, tt.team_id
    assert assignment(task, b).status == "safe" and assignment(task, d).status == "unreachable"
    assert assignment(task, c).status == "pending" and assignment(task, e).status == "needs_help"


def test_a_batch_is_decided_in_one_pass_not_one_report_at_a_time(client, world):
    """Five operations cost little more than one: the op ids, households, task and rows
    are read once for the batch, each team locked once; only each household's own
    writes (its assignment, and its event on SQLite) come once per household. (One
    report at a time took about a dozen statements each.)"""
    from sqlalchemy import event as sa_event

    task, headers = world["task"], api_headers(client, world["gm"])
    households = world["mine"] + world["theirs"]  # two teams
    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    def sync(ops) -> int:
        statements.clear()
        sa_event.listen(db.engine, "before_cursor_execute", count)
        try:
            res = client.post(URL, json={"ops": ops}, headers=headers).get_json()
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", count)
        assert res["applied"] == len(ops), res
        return len(statements)

    sync([op(task, h) for h in households])  # every household has its row
    one = sync([op(task, households[0], "not_home")])
    five = sync([op(task, h, "not_home") for h in households[1:]])
    # Four more households: their assignments (and events on SQLite); one more team: its
    # lock and counts, and the read of which team each household counts under.
    assert five - one <= 4 + 4 + 3, (one, five)
