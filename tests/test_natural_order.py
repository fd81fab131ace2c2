"""One natural order of units everywhere: 第1网格, 第2网格 … 第10网格; 1小队 … 10小队.

The grids and teams are made out of order (第10网格 first, then 第2网格, then 第1网格;
in each, 10小队, 2小队, 1小队), so ids, codes and text all give another order than
the one people count in: every list below must come back 1, 2, 10."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.factories import (
    api_headers,
    create_household,
    create_task,
    create_unit,
    create_user,
    login,
)
from village_grid.extensions import db
from village_grid.hierarchy import ordering
from village_grid.hierarchy.units import update_unit
from village_grid.models import Unit

GRIDS = ("第10网格", "第2网格", "第1网格")
TEAMS = ("10小队", "2小队", "1小队")
GRIDS_IN_ORDER = ["第1网格", "第2网格", "第10网格"]
TEAMS_IN_ORDER = ["1小队", "2小队", "10小队"]


@pytest.fixture
def village():
    township = create_unit("township", "甘蔗街道")
    village = create_unit("village", "侯官村", township, code="HG")
    grids, households = {}, {}
    for g in GRIDS:
        grid = grids[g] = create_unit("grid", g, village)
        for t in TEAMS:
            team = create_unit("team", t, grid)
            households[(g, t)] = create_household(team, head_name=f"{g}{t}户主")
    cadre = create_user("cadre", village, name="李书记", phone="13900000001")
    return {"village": village, "grids": grids, "households": households, "cadre": cadre}


def in_order(text: str, names: list[str]) -> list[str]:
    """``names`` in the order they first appear in ``text``."""
    found = [(text.find(n), n) for n in names if n in text]
    return [n for _i, n in sorted(found)]


def heads_in(text: str) -> list[str]:
    """The households' heads ("第1网格1小队户主") in the order they appear."""
    return re.findall(r"第\d+网格\d+小队户主", text)


HEADS_IN_ORDER = [f"{g}{t}户主" for g in GRIDS_IN_ORDER for t in TEAMS_IN_ORDER]


def test_natural_key_compares_numbers_as_numbers():
    names = ["第10网格", "第2网格", "第1网格", "第1网格东", "第03网格", "A10", "A9"]
    ordered = sorted(names, key=ordering.natural_key)
    assert ordered == ["A9", "A10", "第1网格", "第1网格东", "第2网格", "第03网格", "第10网格"]
    # A subtree stays together: 第1网格's teams all come before 第1网格东.
    one = ordering.sort_path(None, "第1网格", 7)
    assert ordering.sort_path(one, "99小队", 8) < ordering.sort_path(None, "第1网格东", 3)


def test_tree_and_unit_pages_list_units_in_natural_order(client, village):
    login(client, village["cadre"])
    tree = client.get("/units").get_data(as_text=True)
    assert in_order(tree, GRIDS_IN_ORDER) == GRIDS_IN_ORDER
    unit = client.get(f"/units/{village['village'].id}").get_data(as_text=True)
    assert in_order(unit, GRIDS_IN_ORDER) == GRIDS_IN_ORDER
    grid = client.get(f"/units/{village['grids']['第1网格'].id}").get_data(as_text=True)
    assert in_order(grid, TEAMS_IN_ORDER) == TEAMS_IN_ORDER


def test_team_picker_lists_teams_in_natural_order(client, village, monkeypatch):
    from village_grid.tasks import routes

    monkeypatch.setattr(routes, "TEAM_VIEW_LIMIT", 2)  # nine households: the picker
    task = create_task(village["village"], village["cadre"], title="防汛排查")
    login(client, village["cadre"])
    html = client.get(f"/tasks/{task.id}/team").get_data(as_text=True)
    labels = re.findall(r"第\d+网格 \d+小队", html)
    assert labels == [f"{g} {t}" for g in GRIDS_IN_ORDER for t in TEAMS_IN_ORDER]


def test_plates_pages_and_sheet_in_natural_order(client, village):
    login(client, village["cadre"])
    html = client.get(f"/units/{village['village'].id}/plates").get_data(as_text=True)
    teams = re.findall(r"第\d+网格 \d+小队", html)
    assert teams and list(dict.fromkeys(teams)) == [
        f"{g} {t}" for g in GRIDS_IN_ORDER for t in TEAMS_IN_ORDER
    ]
    sheet = client.get(f"/units/{village['village'].id}/plates/sheet").get_data(as_text=True)
    codes = re.findall(r"HG-\d+-\d+-\d+", sheet)
    by_code = {h.code: key for key, h in village["households"].items()}
    seen = [by_code[c] for c in dict.fromkeys(codes) if c in by_code]
    assert seen == [(g, t) for g in GRIDS_IN_ORDER for t in TEAMS_IN_ORDER]


def test_exports_list_households_in_natural_order(client, village):
    task = create_task(village["village"], village["cadre"], title="防汛排查")
    login(client, village["cadre"])
    result = client.get(f"/tasks/{task.id}/export.csv").get_data(as_text=True)
    assert heads_in(result) == HEADS_IN_ORDER
    registry = client.get(f"/registry/export?unit_id={village['village'].id}&fmt=csv").get_data(
        as_text=True
    )
    assert heads_in(registry) == HEADS_IN_ORDER
    rows = list(csv.reader(io.StringIO(registry.lstrip("\ufeff"))))
    assert len(rows) > 9


def test_api_lists_in_natural_order(client, village):
    headers = api_headers(client, village["cadre"])
    units = client.get(
        f"/api/v1/units?parent_id={village['village'].id}", headers=headers
    ).get_json()["units"]
    assert [u["name"] for u in units] == GRIDS_IN_ORDER
    task = create_task(village["village"], village["cadre"], title="防汛排查")
    level = client.get(f"/api/v1/tasks/{task.id}/progress", headers=headers).get_json()
    assert [c["name"] for c in level["children"]] == GRIDS_IN_ORDER
    grid = village["grids"]["第1网格"]
    level = client.get(
        f"/api/v1/tasks/{task.id}/progress?unit_id={grid.id}", headers=headers
    ).get_json()
    assert [c["name"] for c in level["children"]] == TEAMS_IN_ORDER
    rows = client.get(f"/api/v1/tasks/{task.id}/households", headers=headers).get_json()
    assert [r["head_name"] for r in rows["households"]] == HEADS_IN_ORDER


def test_progress_page_lists_children_in_natural_order(client, village):
    task = create_task(village["village"], village["cadre"], title="防汛排查")
    login(client, village["cadre"])
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert in_order(html, GRIDS_IN_ORDER) == GRIDS_IN_ORDER


def test_a_rename_moves_the_unit_and_its_subtree(village):
    grid = village["grids"]["第1网格"]
    update_unit(db.session, None, grid.id, name="第20网格")
    db.session.commit()
    grids = db.session.query(Unit).filter(Unit.kind == "grid").order_by(Unit.sort_path).all()
    assert [g.name for g in grids] == ["第2网格", "第10网格", "第20网格"]
    teams = db.session.query(Unit).filter(Unit.kind == "team").order_by(Unit.sort_path).all()
    assert [(t.parent.name, t.name) for t in teams][-3:] == [
        ("第20网格", "1小队"),
        ("第20网格", "2小队"),
        ("第20网格", "10小队"),
    ]
    for t in teams:
        assert t.sort_path == ordering.sort_path(t.parent.sort_path, t.name, t.id)


def test_dispatch_picker_and_my_teams_in_natural_order(client, village):
    login(client, village["cadre"])
    html = client.get("/tasks/new").get_data(as_text=True)
    picker = html.split('id="unit_id"')[1].split("</select>")[0]
    assert in_order(picker, GRIDS_IN_ORDER) == GRIDS_IN_ORDER
    teams = client.get("/field").get_data(as_text=True)
    labels = re.findall(r"第\d+网格 \d+小队", teams)
    assert list(dict.fromkeys(labels)) == [
        f"{g} {t}" for g in GRIDS_IN_ORDER for t in TEAMS_IN_ORDER
    ]


def test_an_import_places_its_units_in_natural_order(village):
    """The registry import writes each new unit's key, under units already there too."""
    from tests.test_import_export import csv_bytes, row
    from village_grid.hierarchy.registry import import_registry

    data = csv_bytes(
        [
            row(grid="第11网格", team="10小队", head_name="甲"),
            row(grid="第11网格", team="3小队", head_name="乙"),
            row(grid="第3网格", team="1小队", head_name="丙"),
        ]
    )
    import_registry(db.session, None, filename="r.csv", data=data)
    db.session.commit()
    grids = db.session.query(Unit).filter(Unit.kind == "grid").order_by(Unit.sort_path).all()
    assert [g.name for g in grids] == ["第1网格", "第2网格", "第3网格", "第10网格", "第11网格"]
    for unit in db.session.query(Unit).all():
        parent = unit.parent.sort_path if unit.parent is not None else None
        assert unit.sort_path == ordering.sort_path(parent, unit.name, unit.id)
