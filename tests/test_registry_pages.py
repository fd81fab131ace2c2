"""The household-registry pages: tree, unit, household, create/edit/move, split,
add unit, members, people and roles — as each role, with bad input, out-of-scope
ids and CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.factories import create_household, create_tree, create_unit, create_user, login
from village_grid.extensions import db
from village_grid.models import Household, Member, RoleAssignment, Unit, User

HOUSEHOLD_FORM = {
    "head_name": "林秀英",
    "phone": "138 0013 8001",
    "door_no": "侯官路12号",
    "address": "侯官村东片",
    "latitude": "26.0312",
    "longitude": "119.2101",
    "elderly_alone": "y",
    "flood_prone": "y",
}


def text(res) -> str:
    return res.get_data(as_text=True)


def count_households(team: Unit | None = None) -> int:
    q = select(func.count(Household.id))
    if team is not None:
        q = q.where(Household.team_id == team.id)
    return db.session.scalar(q)


class World(dict):
    """The tree, plus one person per role made on first use (password hashing is slow)."""

    PEOPLE = {
        "cadre": lambda w: create_user("cadre", w["village"], phone="13900000001", name="陈书记"),
        "grid_member": lambda w: create_user("grid_member", w["grids"][0], name="王网格"),
        "lead": lambda w: create_user(
            "team_lead", w["teams"][0], phone="13900000003", name="李队长"
        ),
    }

    def __missing__(self, key):
        if key not in self.PEOPLE:
            raise KeyError(key)
        self[key] = self.PEOPLE[key](self)
        return self[key]


@pytest.fixture
def world():
    """Village 侯官村 with two grids of two teams, 3 households per team; a cadre, a
    grid member of grid 1 and the team lead of team 1-1 (made when first used)."""
    world = World(create_tree(grids=2, teams=2, households=3))
    world["lead"]  # the team pages show their lead
    return world


# --- reading ------------------------------------------------------------------


def test_tree_shows_counts_and_marks_full_teams(client, world):
    full_team = world["teams"][1]
    for _ in range(7):
        create_household(full_team)
    login(client, world["cadre"])
    html = text(client.get("/units"))
    assert "侯官村" in html and "19 户" in html and "13 户" in html  # village, grid 1
    assert "3/10" in html
    assert re.search(r"10/10\s*已满", html), "a full team is marked"
    assert "小队" in html and "网格" in html  # kind labels are Chinese


def test_team_page_lists_households_with_call_links_flags_and_lead(client, world):
    team = world["teams"][0]
    create_household(team, "张阿婆", phone="13700000009", flags=["elderly_alone"])
    login(client, world["cadre"])
    html = text(client.get(f"/units/{team.id}"))
    assert "张阿婆" in html
    assert 'href="tel:13700000009"' in html
    assert "独居老人" in html
    assert "李队长" in html and 'href="tel:13900000003"' in html and "小队长" in html
    assert "4/10" in html
    assert '<span class="kind">小队</span>' in html, "the unit kind speaks Chinese"
    # breadcrumb up to the village, actions for a cadre
    assert "侯官村" in html and "第1网格" in html
    assert f"/units/{team.id}/households/new" in html and f"/units/{team.id}/split" in html
    assert f"/units/{team.id}/plates" in html and "门牌二维码" in html, (
        "the team's door plates are a tap away"
    )


def test_grid_page_lists_teams_with_fill_and_add_unit(client, world):
    grid = world["grids"][0]
    login(client, world["grid_member"])
    html = text(client.get(f"/units/{grid.id}"))
    assert "1-1小队" in html and "1-2小队" in html and "3/10" in html
    assert f"/units/{grid.id}/units/new" in html
    # the grid member sees the village in the breadcrumb but cannot open it
    assert "侯官村" in html and f'href="/units/{world["village"].id}"' not in html


def test_household_page_shows_everything(client, world):
    h = create_household(
        world["teams"][0],
        "黄大伯",
        phone="0591-87654321",
        latitude=26.5,
        longitude=119.25,
        flags=["veteran"],
        members=[{"name": "黄小明", "relation": "child", "sex": "M", "birth_year": 2015}],
    )
    login(client, world["cadre"])
    html = text(client.get(f"/households/{h.id}"))
    for expected in (h.code, "黄大伯", 'href="tel:0591-87654321"', "26.500000", "119.250000"):
        assert expected in html
    assert "退役军人" in html and "黄小明" in html and "子女" in html and "2015" in html
    assert f"/households/{h.id}/edit" in html and f"/households/{h.id}/move" in html


def test_team_lead_views_own_team_but_cannot_edit(client, world):
    team = world["teams"][0]
    h = world["households"][0]
    login(client, world["lead"])
    res = client.get("/", follow_redirects=False)
    assert res.headers["Location"].endswith("/field")  # "my team" is a lead's home
    html = text(client.get(f"/units/{team.id}"))
    assert h.head_name in html
    assert "/households/new" not in html and "/split" not in html
    html = text(client.get(f"/households/{h.id}"))
    assert h.code in html and "/edit" not in html and "/move" not in html
    for url in (
        f"/households/{h.id}/edit",
        f"/households/{h.id}/move",
        f"/units/{team.id}/households/new",
        f"/units/{team.id}/split",
    ):
        assert client.get(url).status_code == 403, url
    res = client.post(f"/households/{h.id}/edit", data={**HOUSEHOLD_FORM, "head_name": "改名"})
    assert res.status_code == 403
    assert db.session.get(Household, h.id).head_name != "改名"
    res = client.post(f"/units/{team.id}/households/new", data=HOUSEHOLD_FORM)
    assert res.status_code == 403 and count_households(team) == 3


def test_out_of_scope_ids_are_404_for_every_registry_page(client, world):
    """A team lead of team A gets 404 for team B's things whatever id they try."""
    other_team = world["teams"][3]
    theirs = world["households"][-1]
    member = Member(household_id=theirs.id, name="某人")
    db.session.add(member)
    db.session.commit()
    login(client, world["lead"])
    gets = [
        f"/units/{other_team.id}",
        f"/units/{world['grids'][1].id}",
        f"/units/{world['village'].id}",
        f"/units/{other_team.id}/households/new",
        f"/units/{other_team.id}/split",
        f"/units/{world['grids'][1].id}/units/new",
        f"/households/{theirs.id}",
        f"/households/{theirs.id}/edit",
        f"/households/{theirs.id}/move",
        "/units/999999",
        "/households/999999",
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    assert "没有这户" in text(client.get(f"/households/{theirs.id}")), "the 404 speaks Chinese"
    own = world["households"][0]
    assert "无权" in text(client.get(f"/households/{own.id}/edit")), "so does the 403"
    posts = [
        (f"/households/{theirs.id}/edit", HOUSEHOLD_FORM),
        (f"/households/{theirs.id}/move", {"team_id": world["teams"][0].id}),
        (f"/households/{theirs.id}/members", {"name": "闯入者"}),
        (f"/households/{theirs.id}/members/{member.id}/remove", {}),
        (f"/units/{other_team.id}/households/new", HOUSEHOLD_FORM),
        (f"/units/{other_team.id}/split", {"new_name": "x"}),
    ]
    for url, data in posts:
        assert client.post(url, data=data).status_code == 404, url
    assert db.session.get(Member, member.id) is not None
    # and a grid member of grid 1 cannot reach grid 2 either
    client2 = client.application.test_client()
    login(client2, world["grid_member"])
    assert client2.get(f"/households/{theirs.id}").status_code == 404
    assert client2.get(f"/units/{other_team.id}").status_code == 404


def test_anonymous_is_sent_to_login(client, world):
    h = world["households"][0]
    for url in (f"/units/{world['teams'][0].id}", f"/households/{h.id}"):
        res = client.get(url)
        assert res.status_code == 302 and "/login" in res.headers["Location"]


def test_english_on_request_sticks(client, world):
    login(client, world["cadre"])
    team = world["teams"][0]
    assert "Households" in text(client.get(f"/units/{team.id}?lang=en"))
    html = text(client.get(f"/households/{world['households'][0].id}"))
    assert "<dt>Head of household</dt>" in html and "<dt>户主</dt>" not in html


# --- create / edit --------------------------------------------------------------


def test_cadre_adds_a_household_with_flags_and_members(client, world):
    team = world["teams"][0]
    login(client, world["cadre"])
    page = text(client.get(f"/units/{team.id}/households/new"))
    assert "独居老人" in page and "退役军人" in page and "members-0-name" in page
    data = {
        **HOUSEHOLD_FORM,
        "members-0-name": "林小妹",
        "members-0-relation": "child",
        "members-0-sex": "F",
        "members-0-birth_year": "2019",
        "members-1-name": "",
    }
    res = client.post(f"/units/{team.id}/households/new", data=data, follow_redirects=True)
    assert res.status_code == 200
    html = text(res)
    assert "林秀英" in html and "已新增住户" in html
    h = db.session.scalars(select(Household).where(Household.head_name == "林秀英")).one()
    assert h.team_id == team.id and h.phone == "13800138001"
    assert h.flags == ["elderly_alone", "flood_prone"]
    assert (h.latitude, h.longitude) == (26.0312, 119.2101)
    assert [(m.name, m.relation, m.sex, m.birth_year) for m in h.members] == [
        ("林小妹", "child", "F", 2019)
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12345", "不是有效的电话号码"),
        ("head_name", "  ", "户主"),
        ("latitude", "north", "纬度"),
        ("longitude", "500", "经度"),
        ("members-0-phone", "999", "不是有效的电话号码"),
        ("members-0-birth_year", "1800", None),
    ],
)
def test_bad_household_input_is_shown_with_the_form(client, world, field, value, message):
    team = world["teams"][0]
    login(client, world["cadre"])
    data = {**HOUSEHOLD_FORM, "members-0-name": "某成员", field: value}
    res = client.post(f"/units/{team.id}/households/new", data=data)
    assert res.status_code == 422
    html = text(res)
    assert "flash-error" in html
    if message:
        assert message in html
    assert 'value="侯官路12号"' in html, "the form is re-shown with what was typed"
    assert count_households(team) == 3


def test_adding_to_a_full_team_names_teams_with_room(client, world):
    team = world["teams"][0]
    for _ in range(7):
        create_household(team)
    login(client, world["cadre"])
    page = text(client.get(f"/units/{team.id}/households/new"))
    assert "已有10户" in page or "10 户" in page or "10/10" in page
    assert "1-2小队" in page, "a sibling team with room is suggested"
    res = client.post(f"/units/{team.id}/households/new", data=HOUSEHOLD_FORM)
    assert res.status_code == 409
    assert "1-1小队" in text(res) and "1-2小队 (3/10)" in text(res)
    assert count_households(team) == 10


def test_edit_household(client, world):
    h = world["households"][0]
    login(client, world["grid_member"])
    page = text(client.get(f"/households/{h.id}/edit"))
    assert f'value="{h.head_name}"' in page
    data = {**HOUSEHOLD_FORM, "head_name": "新户主", "phone": "0591-1234567", "veteran": "y"}
    res = client.post(f"/households/{h.id}/edit", data=data, follow_redirects=True)
    assert "新户主" in text(res)
    h = db.session.get(Household, h.id)
    db.session.refresh(h)
    assert h.head_name == "新户主" and h.phone == "0591-1234567"
    assert h.flags == ["elderly_alone", "flood_prone", "veteran"]
    # bad phone: message, nothing saved
    res = client.post(f"/households/{h.id}/edit", data={**data, "phone": "abc"})
    assert res.status_code == 422 and "不是有效的电话号码" in text(res)
    db.session.refresh(h)
    assert h.phone == "0591-1234567"
    # unticking a flag clears it
    client.post(f"/households/{h.id}/edit", data={"head_name": "新户主"})
    db.session.refresh(h)
    assert h.flags == [] and h.phone == ""


def test_add_and_remove_members(client, world):
    h = world["households"][0]
    other = world["households"][1]
    login(client, world["cadre"])
    res = client.post(
        f"/households/{h.id}/members",
        data={"name": "陈小红", "relation": "spouse", "sex": "F", "birth_year": "1980"},
        follow_redirects=True,
    )
    assert "陈小红" in text(res) and "配偶" in text(res)
    member_id = db.session.scalars(select(Member.id).where(Member.name == "陈小红")).one()
    # bad input: message, form kept
    res = client.post(f"/households/{h.id}/members", data={"name": "", "phone": "12"})
    assert res.status_code == 422 and "flash-error" in text(res)
    res = client.post(f"/households/{h.id}/members", data={"name": "某", "birth_year": "abc"})
    assert res.status_code == 422 and "出生年份" in text(res)
    # a member id of another household through this household's URL: 404
    assert client.post(f"/households/{other.id}/members/{member_id}/remove").status_code == 404
    res = client.post(f"/households/{h.id}/members/{member_id}/remove", follow_redirects=True)
    assert res.status_code == 200 and "已移除陈小红" in text(res)
    db.session.expire_all()
    assert db.session.get(Member, member_id) is None


# --- move -------------------------------------------------------------------------


def test_move_lists_teams_by_grid_with_fill(client, world):
    h = world["households"][0]
    login(client, world["cadre"])
    html = text(client.get(f"/households/{h.id}/move"))
    assert '<optgroup label="第1网格">' in html and '<optgroup label="第2网格">' in html
    assert "1-2小队 (3/10)" in html and "2-1小队 (3/10)" in html
    assert "1-1小队 (" not in html, "the current team is not offered"
    # a grid member is offered only the teams of their grid
    client2 = client.application.test_client()
    login(client2, world["grid_member"])
    html = text(client2.get(f"/households/{h.id}/move"))
    assert "1-2小队" in html and "2-1小队" not in html


def test_move_into_a_team_with_room(client, world):
    h = world["households"][0]
    target = world["teams"][2]
    login(client, world["cadre"])
    res = client.post(
        f"/households/{h.id}/move", data={"team_id": target.id}, follow_redirects=True
    )
    assert res.status_code == 200
    # The message names both teams with their grids.
    assert "住户已从第1网格 1-1小队调入第2网格 2-1小队" in text(res)
    h = db.session.get(Household, h.id)
    db.session.refresh(h)
    assert h.team_id == target.id and h.code.startswith("HG-02-01-")


def test_move_into_a_full_team_refuses_and_suggests_teams_with_room(client, world):
    h = world["households"][0]
    full = world["teams"][1]
    for _ in range(7):
        create_household(full)
    login(client, world["cadre"])
    res = client.post(f"/households/{h.id}/move", data={"team_id": full.id})
    assert res.status_code == 409
    html = text(res)
    assert "flash-error" in html and "1-2小队" in html and "10" in html
    assert "1-1小队 (3/10)" in html.split("flash-error")[1].split("</div>")[0]
    db.session.expire_all()
    assert db.session.get(Household, h.id).team_id == world["teams"][0].id
    # choosing nothing
    res = client.post(f"/households/{h.id}/move", data={"team_id": "0"})
    assert res.status_code == 422 and "请选择一个小队" in text(res)
    res = client.post(f"/households/{h.id}/move", data={"team_id": "nonsense"})
    assert res.status_code == 422


def test_move_into_an_out_of_scope_team_is_refused(client, world):
    h = world["households"][0]
    login(client, world["grid_member"])
    res = client.post(f"/households/{h.id}/move", data={"team_id": world["teams"][3].id})
    assert res.status_code in (404, 422)
    db.session.expire_all()
    assert db.session.get(Household, h.id).team_id == world["teams"][0].id


# --- split and units -------------------------------------------------------------


def test_split_team(client, world):
    team = world["teams"][0]
    for _ in range(5):
        create_household(team)
    households = list(
        db.session.scalars(
            select(Household).where(Household.team_id == team.id).order_by(Household.seq)
        )
    )
    login(client, world["cadre"])
    page = text(client.get(f"/units/{team.id}/split"))
    checked = re.findall(
        r'<input checked[^>]*value="(\d+)"|<input[^>]*value="(\d+)"[^>]*checked', page
    )
    checked_ids = sorted(int(a or b) for a, b in checked)
    assert checked_ids == sorted(h.id for h in households[4:]), "second half ticked by default"
    # no households chosen / empty name: messages
    res = client.post(f"/units/{team.id}/split", data={"new_name": "1-3小队"})
    assert res.status_code == 422 and "flash-error" in text(res)
    res = client.post(
        f"/units/{team.id}/split", data={"new_name": "", "household_ids": [households[0].id]}
    )
    assert res.status_code == 422
    res = client.post(
        f"/units/{team.id}/split",
        data={"new_name": "1-2小队", "household_ids": [households[0].id]},
    )
    assert res.status_code == 409 and "1-2小队" in text(res)
    moving = [h.id for h in households[:3]]
    res = client.post(
        f"/units/{team.id}/split",
        data={"new_name": "1-3小队", "household_ids": moving},
        follow_redirects=True,
    )
    assert res.status_code == 200 and "1-3小队" in text(res)
    new_team = db.session.scalars(select(Unit).where(Unit.name == "1-3小队")).one()
    assert new_team.parent_id == team.parent_id
    assert count_households(new_team) == 3 and count_households(team) == 5


def test_add_units(client, world):
    grid = world["grids"][0]
    login(client, world["cadre"])
    page = text(client.get(f"/units/{world['village'].id}/units/new"))
    assert "网格" in page
    res = client.post(
        f"/units/{world['village'].id}/units/new",
        data={"kind": "grid", "name": "第3网格", "code": ""},
        follow_redirects=True,
    )
    assert res.status_code == 200 and "第3网格" in text(res)
    res = client.post(f"/units/{grid.id}/units/new", data={"kind": "team", "name": "1-1小队"})
    assert res.status_code == 409 and "1-1小队" in text(res)
    res = client.post(f"/units/{grid.id}/units/new", data={"kind": "team", "name": ""})
    assert res.status_code == 422
    res = client.post(
        f"/units/{grid.id}/units/new", data={"kind": "team", "name": "x", "code": "a b"}
    )
    assert res.status_code == 422
    res = client.post(f"/units/{grid.id}/units/new", data={"kind": "spaceship", "name": "x"})
    assert res.status_code == 422
    # never under a team
    res = client.get(f"/units/{world['teams'][0].id}/units/new", follow_redirects=True)
    assert "小队只能包含住户" in text(res) or "flash-error" in text(res)
    assert db.session.scalar(select(func.count(Unit.id)).where(Unit.name == "x")) == 0


# --- CSRF -------------------------------------------------------------------------


def _csrf_token(html: str) -> str:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert m, "the form carries a CSRF token"
    return m.group(1)


def test_csrf_is_enforced_on_registry_forms(app, client, world):
    team = world["teams"][0]
    h = world["households"][0]
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client.get("/login")
        token = _csrf_token(text(client.get("/login")))
        client.post(
            "/login",
            data={"login": world["cadre"].username, "password": "secret123", "csrf_token": token},
        )
        for url, data in [
            (f"/units/{team.id}/households/new", HOUSEHOLD_FORM),
            (f"/households/{h.id}/edit", HOUSEHOLD_FORM),
            (f"/households/{h.id}/move", {"team_id": world["teams"][1].id}),
            (f"/households/{h.id}/members", {"name": "某"}),
            (f"/units/{team.id}/split", {"new_name": "x", "household_ids": [h.id]}),
            (f"/units/{team.id}/units/new", {"kind": "team", "name": "x"}),
            ("/people", {"add-submit": "1"}),
        ]:
            res = client.post(url, data=data)
            assert res.status_code == 400, url
        assert count_households(team) == 3
        # with the page's token the same form goes through
        token = _csrf_token(text(client.get(f"/units/{team.id}/households/new")))
        res = client.post(
            f"/units/{team.id}/households/new", data={**HOUSEHOLD_FORM, "csrf_token": token}
        )
        assert res.status_code == 302
        assert count_households(team) == 4
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


# --- people and roles --------------------------------------------------------------


def test_cadre_assigns_a_team_lead_who_can_then_log_in(app, client, world):
    team = world["teams"][1]
    login(client, world["cadre"])
    page = text(client.get("/people"))
    assert "陈书记" in page and "李队长" in page
    # units are found by searching, not listed
    found = client.get("/people/units?for=assign&q=1-2").get_json()["units"]
    assert [u["id"] for u in found] == [team.id]
    res = client.post(
        "/people",
        data={
            "new-name": "周队长",
            "new-phone": "13912345678",
            "new-username": "zhou",
            "new-password": "zhou-pass-1",
            "new-role": "team_lead",
            "new-unit_id": team.id,
            "new-submit": "1",
        },
        follow_redirects=True,
    )
    assert res.status_code == 200 and "周队长" in text(res)
    lead = db.session.scalars(select(User).where(User.username == "zhou")).one()
    assert [(r.role, r.unit_id) for r in lead.roles] == [("team_lead", team.id)]
    # the new lead logs in by phone and lands on "my team"
    other = app.test_client()
    res = other.post("/login", data={"login": "13912345678", "password": "zhou-pass-1"})
    assert res.status_code == 302
    assert other.get("/").headers["Location"].endswith("/field")
    # their name and phone show on the team page
    assert "周队长" in text(client.get(f"/units/{team.id}"))


def test_people_page_shows_mistakes(client, world):
    login(client, world["cadre"])
    base = {
        "new-name": "某人",
        "new-username": "someone",
        "new-password": "longenough",
        "new-role": "team_lead",
        "new-unit_id": world["teams"][0].id,
        "new-submit": "1",
    }
    cases = [
        ({"new-phone": "12"}, "不是有效的电话号码"),
        ({"new-password": "123"}, None),
        ({"new-role": "grid_member"}, None),  # grid member on a team: wrong kind
        ({"new-unit_id": "0"}, None),
        ({"new-username": world["lead"].username}, None),
        ({"new-role": "admin", "new-unit_id": "0"}, None),
    ]
    for change, message in cases:
        res = client.post("/people", data={**base, **change})
        html = text(res)
        assert res.status_code in (200, 403, 409, 422), change
        assert "flash-error" in html or "field-error" in html, change
        if message:
            assert message in html
        assert db.session.scalar(select(func.count(User.id)).where(User.name == "某人")) == 0
    # a wrong-kind message speaks Chinese, not role codes
    html = text(client.post("/people", data={**base, "new-role": "grid_member"}))
    assert "grid_member" not in html.split("flash-error")[1].split("</div>")[0]


def test_cadre_adds_and_removes_a_role(client, world):
    grid_member = world["grid_member"]
    login(client, world["cadre"])
    res = client.post(
        "/people",
        data={
            "add-user_id": grid_member.id,
            "add-role": "team_lead",
            "add-unit_id": world["teams"][2].id,
            "add-submit": "1",
        },
        follow_redirects=True,
    )
    assert res.status_code == 200 and "flash-success" in text(res)
    ra_id = db.session.scalars(
        select(RoleAssignment.id).where(
            RoleAssignment.user_id == grid_member.id, RoleAssignment.role == "team_lead"
        )
    ).one()
    res = client.post("/people", data={"remove_role": ra_id}, follow_redirects=True)
    assert "flash-success" in text(res)
    db.session.expire_all()
    assert db.session.get(RoleAssignment, ra_id) is None
    res = client.post("/people", data={"remove_role": "abc"})
    assert "flash-error" in text(res)


def test_people_page_is_scoped(client, world):
    other_village = create_unit("village", "颜岐村", world["township"], code="YQ")
    outsider = create_user("cadre", other_village, name="外村干部")
    login(client, world["cadre"])
    html = text(client.get("/people"))
    assert "外村干部" not in html and "颜岐村" not in html
    # giving a role on a unit outside the scope fails without a 500
    res = client.post(
        "/people",
        data={
            "add-user_id": world["lead"].id,
            "add-role": "cadre",
            "add-unit_id": other_village.id,
            "add-submit": "1",
        },
    )
    assert res.status_code in (200, 404) and "flash-error" in text(res)
    assert not any(r.role == "cadre" for r in db.session.get(User, world["lead"].id).roles)
    outsider_role = outsider.roles[0]
    res = client.post("/people", data={"remove_role": outsider_role.id})
    assert res.status_code in (200, 404)
    assert db.session.get(RoleAssignment, outsider_role.id) is not None
    # a team lead has no people page; a grid member sees their grid's people only,
    # and gives no roles
    c = client.application.test_client()
    login(c, world["lead"])
    assert c.get("/people").status_code == 404
    c = client.application.test_client()
    login(c, world["grid_member"])
    html = text(c.get("/people"))
    assert "外村干部" not in html and "陈书记" not in html and "Add a person" not in html
    assert "添加人员" not in html
    assert c.post("/people", data={"remove_role": outsider_role.id}).status_code == 404
