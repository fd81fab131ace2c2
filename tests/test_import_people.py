"""The roster's people in the registry file: leads and grid members matched by phone,
made without a password and given their role; every bad row named; re-importing
changes nothing."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from tests.factories import create_tree, create_user
from village_grid.extensions import db
from village_grid.hierarchy.registry import ImportRejected, export_registry, import_registry
from village_grid.models import AuditEvent, Household, RoleAssignment, Unit, User

HEADER = [
    "村",
    "网格",
    "小队",
    "户编码",
    "户主",
    "电话",
    "小队长",
    "小队长电话",
    "网格员",
    "网格员电话",
]


def line(
    team="1小队",
    head="林建华",
    code="",
    lead="张三",
    lead_phone="13911110001",
    gm="王芳",
    gm_phone="13922220001",
    grid="第1网格",
):
    return ["侯官村", grid, team, code, head, "", lead, lead_phone, gm, gm_phone]


def csv_bytes(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def counts():
    return tuple(
        db.session.scalar(select(func.count(m.id))) for m in (Unit, Household, User, RoleAssignment)
    )


def rejected(data: bytes, actor=None) -> list[tuple[int, str, str]]:
    before = counts()
    with pytest.raises(ImportRejected) as info:
        import_registry(db.session, actor, filename="r.csv", data=data)
    db.session.rollback()
    assert counts() == before, "a rejected import changed the database"
    assert all(r["reason"] for r in info.value.rows)
    return [(r["line"], r["code"], r["field"]) for r in info.value.rows]


def test_leads_and_grid_members_come_in_with_the_roster_without_a_password():
    create_tree(grids=0, teams=0)  # 甘蔗街道 / 侯官村
    data = csv_bytes(
        [line(head=f"户{i}") for i in range(3)]
        + [line(team="2小队", head="户9", lead="林队长", lead_phone="13911110002")]
        + [
            line(
                grid="第2网格",
                team="1小队",
                head="户10",
                lead="",
                lead_phone="",
                gm="陈刚",
                gm_phone="+86 139 2222 0002",
            )
        ]
    )
    result = import_registry(db.session, None, filename="r.csv", data=data)
    db.session.commit()
    assert (result.people_created, result.roles_assigned) == (4, 4)
    assert result.households_created == 5
    zhang = db.session.scalar(select(User).where(User.phone == "13911110001"))
    assert zhang.name == "张三" and not zhang.has_password
    assert [(r.role, r.unit.name) for r in zhang.roles] == [("team_lead", "1小队")]
    chen = db.session.scalar(select(User).where(User.phone == "13922220002"))
    assert [(r.role, r.unit.name) for r in chen.roles] == [("grid_member", "第2网格")]
    # no password logs them in: they sign in by one-time link
    from village_grid.auth.service import authenticate

    assert authenticate(db.session, "13911110001", "") is None
    actions = [a for (a,) in db.session.execute(select(AuditEvent.action))]
    assert actions.count("user.create") == 4 and actions.count("role.assign") == 4


def test_re_importing_the_same_file_changes_nothing():
    create_tree(grids=0, teams=0)
    data = csv_bytes([line(head="户1", code="HG-X-1"), line(head="户2")])
    import_registry(db.session, None, filename="r.csv", data=data)
    db.session.commit()
    before = counts()
    events = db.session.scalar(select(func.count(AuditEvent.id)))
    again = import_registry(db.session, None, filename="r.csv", data=data)
    db.session.commit()
    assert again.to_dict() | {"rows": 0} == {
        "units_created": 0,
        "households_created": 0,
        "members_created": 0,
        "people_created": 0,
        "roles_assigned": 0,
        "households_unchanged": 2,
        "rows": 0,
    }
    assert counts() == before
    # only the import's own note is added
    new = db.session.scalars(select(AuditEvent.action).where(AuditEvent.id > events)).all()
    assert set(new) == {"registry.import"}


def test_an_export_with_its_people_imports_again_unchanged(app):
    res = app.test_cli_runner().invoke(args=["demo", "--households", "60", "--seed", "2"])
    assert res.exit_code == 0, res.output
    data = export_registry(db.session, None, unit_id=None, fmt="csv")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].endswith("小队长,小队长电话,网格员,网格员电话")
    assert "13900000001" in text  # the demo lead's phone, in their team's rows
    before = counts()
    result = import_registry(db.session, None, filename="export.csv", data=data)
    db.session.commit()
    assert result.households_unchanged == 60
    assert (result.people_created, result.roles_assigned, result.households_created) == (0, 0, 0)
    assert counts() == before


BAD = {
    "bad_person_phone": ([line(lead_phone="12345")], (2, "bad_person_phone", "team_lead_phone")),
    "missing_person_phone": ([line(lead_phone="")], (2, "missing_person_phone", "team_lead_phone")),
    "missing_person_name": (
        [line(gm="", gm_phone="13922229999")],
        (2, "missing_person_name", "grid_member"),
    ),
    "person_two_names": (
        [line(), line(team="2小队", head="户2", lead="张四", lead_phone="13911110001")],
        (3, "person_two_names", "team_lead"),
    ),
    "team_two_leads": (
        [line(), line(head="户2", lead="林队长", lead_phone="13911110002")],
        (3, "team_two_leads", "team_lead"),
    ),
    "grid_two_members": (
        [line(), line(team="2小队", head="户2", gm="陈刚", gm_phone="13922220002")],
        (3, "grid_two_members", "grid_member"),
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_each_bad_people_row_is_named_and_nothing_changes(kind):
    create_tree(grids=0, teams=0)
    rows, expected = BAD[kind]
    assert rejected(csv_bytes(rows)) == [expected]


def test_a_phone_known_under_another_name_and_a_team_led_by_someone_else():
    tree = create_tree(grids=1, teams=1)
    create_user("team_lead", tree["teams"][0], phone="13911110001", name="李四")
    rows = rejected(csv_bytes([line(team="1-1小队", lead="张三")]))
    assert rows == [(2, "person_name_differs", "team_lead")]
    rows = rejected(csv_bytes([line(team="1-1小队", lead="林队长", lead_phone="13911110002")]))
    assert rows == [(2, "team_has_lead", "team_lead")]
    # naming who leads it already changes nothing; a name left out is taken from the phone
    ok = import_registry(
        db.session, None, filename="r.csv", data=csv_bytes([line(team="1-1小队", lead="")])
    )
    assert (ok.people_created, ok.roles_assigned) == (1, 1)  # only 王芳, the grid member


def test_a_person_named_on_a_row_with_no_team_is_a_bad_row():
    create_tree(grids=0, teams=0)
    data = csv_bytes([["侯官村", "第1网格", "", "", "", "", "张三", "13911110001", "", ""]])
    assert rejected(data) == [(2, "missing_team", "team")]
