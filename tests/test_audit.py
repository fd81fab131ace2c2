"""The audit log (issue 12, item 8): every change to units, households, members,
tasks, escalations, door plates and red-mailbox notes is written in the same
transaction as the change — who, what, the changed fields before and after, when,
from where — and nothing in the app ever updates or deletes an audit event."""

from __future__ import annotations

import ast
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from tests.factories import create_task, create_tree, create_user, create_village
from village_grid.audit.service import changes, record
from village_grid.extensions import db
from village_grid.hierarchy import service
from village_grid.hierarchy.registry import import_registry
from village_grid.models import AuditEvent, Household, StatusEvent
from village_grid.models.base import utcnow
from village_grid.qr import mailbox
from village_grid.qr import service as plates
from village_grid.tasks.case_queue import acknowledge_escalation, resolve_escalation
from village_grid.tasks.dispatch import close_task
from village_grid.tasks.escalation import run_escalations
from village_grid.tasks.statuses import record_status

ROOT = Path(__file__).resolve().parent.parent


def events(action: str | None = None) -> list[AuditEvent]:
    q = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        q = q.where(AuditEvent.action == action)
    return list(db.session.scalars(q))


def only(action: str) -> AuditEvent:
    found = events(action)
    assert len(found) == 1, [(e.action, e.after) for e in events()]
    return found[0]


def test_record_adds_to_the_callers_transaction_and_changes_keeps_what_differs():
    tree = create_tree(grids=1, teams=1)
    cadre = create_user("cadre", tree["village"], name="李书记")
    before = len(events())
    record(db.session, cadre, "unit.create", object_type="unit", object_id=1, unit_path="/1/")
    db.session.rollback()
    assert len(events()) == before
    record(db.session, cadre, "unit.create", object_type="unit", object_id=1, unit_path="/1/")
    db.session.commit()
    event_ = events()[-1]
    assert (event_.actor_id, event_.actor_label, event_.client_addr) == (cadre.id, "李书记", "")
    assert event_.at is not None
    assert changes({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": None}) == ({"b": 2}, {"b": 3})


def test_tree_and_registry_changes_are_recorded_with_who_and_before_after():
    tree = create_tree(grids=1, teams=2)
    team, other = tree["teams"]
    cadre = create_user("cadre", tree["village"], name="李书记")
    db.session.execute(db.delete(AuditEvent))  # the factories' own (no actor)
    db.session.commit()

    unit = service.create_unit(
        db.session, cadre, kind="team", name="3小队", parent_id=tree["grids"][0].id
    )
    household = service.create_household(
        db.session,
        cadre,
        team_id=team.id,
        data={"head_name": "林建华", "phone": "13800138000", "flags": ["elderly_alone"]},
        members=[{"name": "林秀英", "relation": "spouse"}],
    )
    db.session.commit()
    created = only("household.create")
    assert created.actor_id == cadre.id and created.actor_label == "李书记"
    assert created.object_type == "household" and created.object_id == household.id
    assert created.unit_path == team.path
    assert created.after["head_name"] == "林建华" and created.after["flags"] == ["elderly_alone"]
    assert created.after["members"] == ["林秀英"] and created.before is None
    assert only("unit.create").after == {
        "kind": "team",
        "name": "3小队",
        "code": unit.code,
        "parent": tree["grids"][0].name,
    }

    service.update_household(db.session, cadre, household.id, {"phone": "13900139000"})
    db.session.commit()
    updated = only("household.update")
    assert (updated.before, updated.after) == ({"phone": "13800138000"}, {"phone": "13900139000"})
    # Nothing changed: nothing recorded.
    service.update_household(db.session, cadre, household.id, {"phone": "13900139000"})
    db.session.commit()
    assert len(events("household.update")) == 1

    old_code = household.code
    service.move_household(db.session, cadre, household.id, other.id)
    member = service.add_member(db.session, cadre, household.id, {"name": "林小明"})
    db.session.commit()
    moved = only("household.move")
    assert moved.before == {"team": team.name, "code": old_code}
    assert moved.after == {"team": other.name, "code": household.code}
    assert moved.unit_path == other.path
    assert only("member.add").after["name"] == "林小明"
    service.remove_member(db.session, cadre, member.id)
    db.session.commit()
    removed = only("member.remove")
    assert removed.before["name"] == "林小明" and removed.after is None
    assert removed.object_type == "household" and removed.object_id == household.id


def test_a_split_is_one_event_naming_the_households_that_moved():
    tree = create_tree(grids=1, teams=1, households=4)
    team = tree["teams"][0]
    cadre = create_user("cadre", tree["village"])
    before = len(events())
    new_team = service.split_team(db.session, cadre, team.id, new_name="1-2小队")
    db.session.commit()
    split = only("team.split")
    moved = db.session.scalars(select(Household).where(Household.team_id == new_team.id)).all()
    assert split.after == {"new_team": "1-2小队", "households": [h.code for h in moved]}
    assert len(split.before["households"]) == 2 and split.unit_path == team.path
    # the split, and the new team: no household.move per household
    assert [e.action for e in events()[before:]] == ["unit.create", "team.split"]


def test_a_refused_change_leaves_no_audit_event():
    tree = create_tree(grids=1, teams=1, households=10)
    cadre = create_user("cadre", tree["village"])
    before = len(events())
    with pytest.raises(Exception):  # noqa: B017 - TeamFull
        service.create_household(
            db.session, cadre, team_id=tree["teams"][0].id, data={"head_name": "第十一户"}
        )
    db.session.rollback()
    assert len(events()) == before


def test_no_token_password_hash_or_id_number_is_ever_written():
    tree = create_village(grids=1, teams=1, households=2)
    household = tree["households"][0]
    old_token = household.qr_token
    plates.rotate_household(db.session, tree["cadre"], household.id)
    plates.rotate_team(db.session, tree["cadre"], tree["teams"][0].id)
    db.session.commit()
    rotated = events("plate.rotate")
    assert [e.object_type for e in rotated] == ["household", "unit"]
    assert rotated[1].after == {"households": [h.code for h in tree["households"]]}
    dump = json.dumps([(e.before, e.after) for e in events()], ensure_ascii=False)
    db.session.refresh(household)
    for secret in (old_token, household.qr_token, household.qr_token_hash):
        assert secret not in dump
    assert "password" not in dump and "pbkdf2" not in dump and "scrypt" not in dump


def test_an_import_records_each_household_and_one_summary_per_village():
    def line(village: str, grid: str, team: str, head: str) -> list[str]:
        return ["甘蔗街道", village, grid, team, head, "13800138000", "林秀英|配偶"]

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["镇", "村", "网格", "小队", "户主", "电话", "成员"])
    writer.writerows([line("侯官村", "第1网格", "1小队", f"户主{i}") for i in range(5)])
    writer.writerows([line("颜岐村", "第1网格", "1小队", f"户主{i}") for i in range(3)])
    data = out.getvalue().encode("utf-8")
    tree = create_tree(grids=0, teams=0)  # 甘蔗街道 and 侯官村 exist; 颜岐村 is new
    before = len(events())
    result = import_registry(db.session, None, filename="名册.csv", data=data)
    db.session.commit()
    assert result.households_created == 8
    new = events()[before:]
    # Each unit and household as if made on a page, and one summary per village.
    assert [e.action for e in new].count("household.create") == 8
    assert [e.action for e in new].count("unit.create") == 5
    assert {e.actor_id for e in new} == {None}
    houguan, yanqi = [e for e in new if e.action == "registry.import"]
    assert houguan.unit_path == tree["village"].path and houguan.object_id == tree["village"].id
    import hashlib

    assert houguan.after == {
        "file": "名册.csv",
        "sha256": hashlib.sha256(data).hexdigest(),
        "rows": 5,
        "units_created": 2,
        "households_created": 5,
        "members_created": 5,
    }
    assert yanqi.after["units_created"] == 3 and yanqi.after["households_created"] == 3
    assert houguan.actor_id is None and houguan.client_addr == ""


def test_a_dispatch_to_many_households_is_one_event(app):
    tree = create_village(grids=2, teams=3, households=4)
    before = len(events())
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "audit_events" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        task = create_task(tree["village"], tree["cadre"], title="防汛排查", filter={"flags": []})
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    sent = events()[before:]
    assert [e.action for e in sent] == ["task.dispatch"]
    assert len(statements) == 1  # one INSERT, whatever the number of households
    assert sent[0].after["households"] == 24 and sent[0].after["teams"] == 6
    assert sent[0].after["title"] == "防汛排查" and sent[0].after["kind"] == "sweep"
    assert sent[0].unit_path == tree["village"].path and sent[0].object_id == task.id


def test_task_close_and_escalations_open_climb_acknowledge_resolve():
    tree = create_village(grids=1, teams=1, households=3, township_cadre=True)
    start = utcnow() - timedelta(hours=3)
    task = create_task(tree["village"], tree["cadre"], title="台风排查", now=start)
    h1, h2, h3 = tree["households"]
    record_status(
        db.session,
        tree["lead"],
        task_id=task.id,
        household_id=h1.id,
        status="needs_help",
        help_kind="medical",
    )
    db.session.commit()
    opened = only("escalation.open")
    assert opened.actor_id is None and opened.unit_path == tree["teams"][0].path
    assert opened.after == {"status": "open", "reason": "needs_help", "help_kind": "medical"}
    # Asked again while open: nothing new.
    record_status(
        db.session, tree["lead"], task_id=task.id, household_id=h1.id, status="needs_help"
    )
    db.session.commit()
    assert len(events("escalation.open")) == 1
    # No second audit row per status: statuses are their own append-only record.
    assert db.session.scalar(select(func.count(StatusEvent.id))) == 2
    assert not [e for e in events() if e.action.startswith("status")]

    run_escalations(db.session, now=start + timedelta(hours=2))
    db.session.commit()
    overdue = [e for e in events("escalation.open") if e.object_type == "task"]
    # One case for the team (its two households not reached), not one per household.
    assert len(overdue) == 1 and overdue[0].after["overdue"] == 1
    assert overdue[0].object_id == task.id and overdue[0].unit_path == tree["village"].path
    # Cases, not levels: the team's case climbed (twice, in this one late run) once.
    assert only("escalation.climb").after["overdue_climbed"] == 1

    case = opened.object_id
    acknowledge_escalation(db.session, tree["cadre"], case)
    db.session.commit()
    ack = only("escalation.acknowledge")
    assert (ack.before, ack.after) == ({"status": "open"}, {"status": "acknowledged"})
    assert ack.actor_id == tree["cadre"].id and ack.unit_path == tree["teams"][0].path
    resolve_escalation(db.session, tree["cadre"], case, "已送医")
    db.session.commit()
    resolved = only("escalation.resolve")
    assert resolved.after == {"status": "resolved", "resolution_note": "已送医"}

    close_task(db.session, tree["cadre"], task.id)
    db.session.commit()
    closed = only("task.close")
    # the team's case about its two households not reached (and any other the deadline opened)
    assert closed.before == {"closed_at": None} and closed.after["cases_resolved"] >= 1
    assert closed.after["closed_at"].endswith("Z")
    close_task(db.session, tree["cadre"], task.id)  # already closed: nothing new
    db.session.commit()
    assert len(events("task.close")) == 1


def test_mailbox_reply_and_close():
    tree = create_village(grids=1, teams=1, households=1)
    note = mailbox.create_message(
        db.session, tree["households"][0], category="facilities", text="路灯坏了"
    )
    db.session.commit()
    mailbox.reply(db.session, tree["lead"], note.id, "明天修")
    mailbox.reply(db.session, tree["lead"], note.id, "已报修")
    mailbox.close(db.session, tree["cadre"], note.id)
    mailbox.close(db.session, tree["cadre"], note.id)
    db.session.commit()
    first, second = events("mailbox.reply")
    assert (first.before, first.after) == (
        {"status": "open", "reply": None},
        {"status": "replied", "reply": "明天修"},
    )
    assert (second.before, second.after) == ({"reply": "明天修"}, {"reply": "已报修"})
    closed = only("mailbox.close")
    assert closed.before == {"status": "replied"} and closed.object_id == note.id
    assert closed.unit_path == tree["teams"][0].path


def test_the_address_comes_from_the_request(app, client):
    from tests.factories import login

    tree = create_village(grids=1, teams=1, households=1)
    login(client, tree["cadre"])
    household = tree["households"][0]
    res = client.post(
        f"/households/{household.id}/edit",
        data={"head_name": "林新", "door_no": household.door_no, "phone": household.phone},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert res.status_code in (200, 302)
    updated = only("household.update")
    assert updated.client_addr == "10.1.2.3" and updated.after["head_name"] == "林新"


# --- nobody edits or deletes the log ---------------------------------------------------


def test_a_whole_scenario_only_ever_inserts_into_the_audit_log():
    """Listen to every statement while every audited action runs: each one that names
    audit_events is an INSERT."""
    tree = create_village(grids=1, teams=1, households=4, township_cadre=True)
    cadre, h1 = tree["cadre"], tree["households"][0]
    seen: list[str] = []

    def watch(conn, cursor, statement, *args):
        if "audit_events" in statement.lower():
            seen.append(statement.strip().split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", watch)
    try:
        service.update_household(db.session, cadre, h1.id, {"phone": "13900139000"})
        member = service.add_member(db.session, cadre, h1.id, {"name": "林小明"})
        service.remove_member(db.session, cadre, member.id)
        service.split_team(db.session, cadre, tree["teams"][0].id, new_name="1-9小队")
        plates.rotate_household(db.session, cadre, h1.id)
        start = utcnow() - timedelta(hours=3)
        task = create_task(tree["village"], cadre, now=start)
        record_status(
            db.session, tree["lead"], task_id=task.id, household_id=h1.id, status="needs_help"
        )
        run_escalations(db.session, now=start + timedelta(hours=2))
        case = events("escalation.open")[0].object_id
        acknowledge_escalation(db.session, cadre, case)
        resolve_escalation(db.session, cadre, case, "已处理")
        close_task(db.session, cadre, task.id)
        note = mailbox.create_message(db.session, h1, category="other", text="路灯坏了")
        mailbox.reply(db.session, cadre, note.id, "已报修")
        mailbox.close(db.session, cadre, note.id)
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", watch)
    writes = [s for s in seen if s != "SELECT"]
    assert writes and set(writes) == {"INSERT"}, seen
    assert len({e.action for e in events()}) >= 12


def _audit_writers(tree: ast.Module) -> list[int]:
    """Lines that update or delete audit events: update(AuditEvent), delete(AuditEvent),
    session.delete(<an AuditEvent>), or an assignment to an audit event's attribute."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            args = [ast.unparse(a) for a in node.args]
            if name in ("update", "delete") and any("AuditEvent" in a for a in args):
                found.append(node.lineno)
            if name == "delete" and any("audit" in a.lower() for a in args):
                found.append(node.lineno)
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and "audit" in ast.unparse(t.value).lower():
                    found.append(node.lineno)
    return found


def test_no_code_updates_or_deletes_an_audit_event():
    files = [p for p in (ROOT / "village_grid").rglob("*.py") if "migrations" not in p.parts]
    found = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in files
        for line in _audit_writers(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert not found, found
    assert _audit_writers(ast.parse("session.execute(update(AuditEvent).values(action='x'))"))
    assert _audit_writers(ast.parse("db.session.delete(audit_event)"))


def test_the_audit_page_only_reads(app):
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/audit")]
    assert [r.rule for r in rules] == ["/audit"]
    assert rules[0].methods - {"HEAD", "OPTIONS"} == {"GET"}
