"""Routing over the unit tree: who answers for each team, why, and the
escalation chain — first on a hand-built graph (pure), then through the
cached graph of the real tree."""

import pytest

from tests.factories import create_household, create_task, create_tree, create_unit, create_user
from village_grid.auth import service as auth_service
from village_grid.extensions import db
from village_grid.hierarchy import service as hierarchy
from village_grid.models import TaskTeam
from village_grid.tasks import routing
from village_grid.tasks.dispatch import preview_dispatch
from village_grid.tasks.graph import get_graph

# township 1 → village 2 → grid 3 → teams 4, 5; grid 6 → team 7
UNITS = [
    (1, None, "township", "甘蔗街道", "01", "/1/"),
    (2, 1, "village", "侯官村", "HG", "/1/2/"),
    (3, 2, "grid", "第1网格", "01", "/1/2/3/"),
    (4, 3, "team", "第1小队", "01", "/1/2/3/4/"),
    (5, 3, "team", "第3小队", "03", "/1/2/3/5/"),
    (6, 2, "grid", "第2网格", "02", "/1/2/6/"),
    (7, 6, "team", "第7小队", "01", "/1/2/6/7/"),
]


def people(*extra):
    base = [
        (1, "cadre", 100, "镇干部", "13900000100", True, True),
        (2, "cadre", 101, "李书记", "13900000101", True, True),
        (3, "grid_member", 102, "王芳", "13900000102", True, True),
        (4, "team_lead", 103, "张三", "13900000103", True, True),
    ]
    return base + list(extra)


def test_team_lead_answers_for_their_team():
    g = routing.build_graph(UNITS, people())
    d = routing.responsible(g, 4)
    assert (d.assignee.id, d.role, d.unit_id, d.skipped) == (103, "team_lead", 4, ())
    assert routing.describe(d) == "team lead 张三 (第1小队)"


def test_no_lead_falls_back_to_grid_member_and_says_why():
    g = routing.build_graph(UNITS, people())
    d = routing.responsible(g, 5)
    assert (d.assignee.name, d.role, d.unit_id) == ("王芳", "grid_member", 3)
    assert routing.describe(d) == "第3小队 has no team lead → grid member 王芳 (第1网格)"


def test_unavailable_lead_falls_back_to_grid_member():
    g = routing.build_graph(UNITS, people((5, "team_lead", 104, "赵六", "", False, True)))
    d = routing.responsible(g, 5)
    assert d.assignee.id == 102 and d.role == "grid_member"
    assert "赵六" in routing.describe(d) and "is away" in routing.describe(d)


def test_deactivated_lead_is_skipped_too():
    g = routing.build_graph(UNITS, people((5, "team_lead", 104, "赵六", "", True, False)))
    assert routing.responsible(g, 5).assignee.id == 102


def test_second_lead_on_duty_takes_over_before_the_grid_member():
    g = routing.build_graph(
        UNITS,
        people(
            (5, "team_lead", 104, "赵六", "", False, True),
            (5, "team_lead", 105, "孙七", "", True, True),
        ),
    )
    assert routing.responsible(g, 5).assignee.id == 105


def test_no_grid_member_falls_back_to_village_cadre_then_township():
    g = routing.build_graph(UNITS, people())
    d = routing.responsible(g, 7)
    assert (d.assignee.id, d.role) == (101, "cadre")
    assert [s.unit_id for s in d.skipped] == [7, 6]
    g = routing.build_graph(UNITS, [p for p in people() if p[2] != 101])
    d = routing.responsible(g, 7)
    assert (d.assignee.id, d.role) == (100, "township")
    g = routing.build_graph(UNITS, [])
    d = routing.responsible(g, 7)
    assert d.assignee is None and d.role == ""
    assert routing.describe(d).endswith("nobody on duty anywhere above")


def test_escalation_chain_walks_up():
    g = routing.build_graph(UNITS, people())
    chain = routing.escalation_chain(g, 4)
    assert [(s.role, s.person.id) for s in chain] == [
        ("team_lead", 103),
        ("grid_member", 102),
        ("cadre", 101),
        ("township", 100),
    ]
    assert routing.escalation_stop(g, 4, 1).person.id == 102
    assert routing.escalation_stop(g, 4, 3).person.id == 100
    assert routing.escalation_stop(g, 4, 4) is None
    # Team 7 has neither lead nor grid member: level 1 is the village cadre.
    assert routing.escalation_stop(g, 7, 1).person.id == 101


def test_rollup_and_filter_paths():
    g = routing.build_graph(UNITS, [])
    totals = routing.rollup(g, {4: {"total": 3}, 5: {"total": 2}, 7: {"total": 1}}, ["total"])
    assert {u: t["total"] for u, t in totals.items()} == {1: 6, 2: 6, 3: 5, 4: 3, 5: 2, 6: 1, 7: 1}
    assert routing.filter_paths(g, 2, [3, 4, 7]) == ["/1/2/3/", "/1/2/6/7/"]
    with pytest.raises(ValueError):
        routing.filter_paths(g, 3, [7])
    with pytest.raises(ValueError):
        routing.filter_paths(g, 3, [999])
    assert routing.tree_order(g, 2, lambda u: True) == [2, 3, 4, 5, 6, 7]


# --- through the database and the cached graph ----------------------------------


def test_dispatch_records_whom_and_why_per_team():
    tree = create_tree(grids=2, teams=2, households=1)
    team_a1, team_a2, team_b1, team_b2 = tree["teams"]
    cadre = create_user("cadre", tree["village"], name="李书记")
    create_user("grid_member", tree["grids"][0], name="王芳")
    create_user("team_lead", team_a1, name="张三")
    away = create_user("team_lead", team_b1, name="赵六")
    auth_service.set_available(db.session, None, away.id, False)
    db.session.commit()

    task = create_task(tree["village"], cadre, title="防汛")
    rows = {
        t.team_id: t
        for t in db.session.scalars(db.select(TaskTeam).where(TaskTeam.task_id == task.id))
    }
    assert rows[team_a1.id].assignee_role == "team_lead"
    assert rows[team_a2.id].assignee_role == "grid_member"
    assert "没有小队长" in rows[team_a2.id].reason and "王芳" in rows[team_a2.id].reason
    assert rows[team_b1.id].assignee_role == "cadre"
    assert "赵六" in rows[team_b1.id].reason and "李书记" in rows[team_b1.id].reason
    assert rows[team_b2.id].assignee_role == "cadre"
    assert all(r.households == 1 for r in rows.values())


def test_role_and_availability_changes_rebuild_the_cached_graph():
    tree = create_tree(grids=1, teams=1)
    team = tree["teams"][0]
    create_user("grid_member", tree["grids"][0], name="王芳")
    g1 = get_graph(db.session)
    assert get_graph(db.session) is g1  # nothing changed: same graph
    assert routing.responsible(g1, team.id).role == "grid_member"

    lead = create_user("team_lead", team, name="张三")
    g2 = get_graph(db.session)
    assert g2 is not g1 and routing.responsible(g2, team.id).assignee.id == lead.id

    auth_service.set_available(db.session, None, lead.id, False)
    db.session.commit()
    assert routing.responsible(get_graph(db.session), team.id).role == "grid_member"

    auth_service.set_available(db.session, None, lead.id, True)
    role = lead.roles[0]
    auth_service.remove_role(db.session, create_user("admin"), role.id)
    db.session.commit()
    assert routing.responsible(get_graph(db.session), team.id).role == "grid_member"


def test_new_units_and_moved_households_are_seen_at_once():
    tree = create_tree(grids=1, teams=1, households=1)
    get_graph(db.session)
    new_team = create_unit("team", "新小队", tree["grids"][0])
    assert new_team.id in get_graph(db.session)
    hierarchy.move_household(db.session, None, tree["households"][0].id, new_team.id)
    db.session.commit()
    create_household(tree["teams"][0])
    res = preview_dispatch(db.session, None, unit_id=new_team.id)
    assert res == {"households": 1, "teams": 1}


def test_filter_by_flags_and_grids():
    tree = create_tree(grids=2, teams=1)
    team_a, team_b = tree["teams"]
    create_household(team_a, flags=["elderly_alone"])
    create_household(team_a, flags=["flood_prone", "disabled"])
    create_household(team_a)
    create_household(team_b, flags=["elderly_alone"])
    village = tree["village"].id

    def reach(flt):
        return preview_dispatch(db.session, None, unit_id=village, filter=flt)

    assert reach(None) == {"households": 4, "teams": 2}
    assert reach({"flags": ["elderly_alone"]}) == {"households": 2, "teams": 2}
    # Any of the flags.
    assert reach({"flags": ["elderly_alone", "flood_prone"]}) == {"households": 3, "teams": 2}
    assert reach({"unit_ids": [tree["grids"][0].id]}) == {"households": 3, "teams": 1}
    assert reach({"flags": ["elderly_alone"], "unit_ids": [tree["grids"][1].id]}) == {
        "households": 1,
        "teams": 1,
    }
    assert reach({"flags": ["veteran"]}) == {"households": 0, "teams": 0}


def test_preloaded_graph_is_shared_by_forked_workers_and_rebuilt_on_a_tree_change(app):
    """gunicorn loads the tree in the master before it forks (gunicorn.conf.py's
    when_ready): a worker's first request builds nothing; a change to the tree makes
    each process build it again."""
    import os
    import runpy
    from pathlib import Path
    from types import SimpleNamespace

    from sqlalchemy import event

    from village_grid.tasks.graph import forget_graph

    tree = create_tree(grids=1, teams=2)
    db.session.commit()
    forget_graph()
    conf = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    assert conf["preload_app"] is True
    conf["when_ready"](SimpleNamespace(app=SimpleNamespace(wsgi=lambda: app)))

    builds = []

    def count_builds(_conn, _cursor, statement, *_args):
        if statement.rstrip().endswith("FROM units"):  # the graph's whole tree
            builds.append(statement)

    event.listen(db.engine, "before_cursor_execute", count_builds)
    try:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # a worker: its first request
            try:
                g = get_graph(db.session)
                os.write(write, bytes([len(builds) == 0 and tree["teams"][0].id in g]))
            finally:
                os._exit(0)
        os.close(write)
        assert os.read(read, 1) == b"\x01", "the forked worker built the graph again"
        os.waitpid(pid, 0)
        os.close(read)
        loaded = get_graph(db.session)
        assert builds == [] and tree["teams"][1].id in loaded

        create_unit("team", "新小队", tree["grids"][0])
        builds.clear()  # what making the unit read
        rebuilt = get_graph(db.session)
        assert len(builds) == 1 and rebuilt is not loaded
        assert rebuilt.graph["version"] > loaded.graph["version"]
        assert get_graph(db.session) is rebuilt and len(builds) == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", count_builds)
