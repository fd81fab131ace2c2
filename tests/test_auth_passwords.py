"""The password rule (issue 12, item 4) and the audit lines of people and roles."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.factories import PASSWORD, create_tree, create_user, login
from village_grid.auth import passwords
from village_grid.auth import service as auth_service
from village_grid.errors import InvalidInput
from village_grid.extensions import db
from village_grid.hierarchy.demo import DEMO_PASSWORD
from village_grid.models import AuditEvent, User

CHINESE_FAVOURITES = [
    "123456",
    "888888",
    "5201314",
    "123123",
    "a1b2c3d4",
    "woaini",
    "11111111",
    "12345678",
    "qwertyui",
    "password",
    "iloveyou",
]


@pytest.mark.parametrize(
    "password",
    [
        *CHINESE_FAVOURITES,
        "aaaaaa",
        "PASSWORD",
        "Password1",
        "woaini1314",
        "88888888",
        "1qaz2wsx",
        "aaaaaaaa",  # one character repeated
        "12121212",  # a short group repeated
        "abcabcabc",
        "abcdefgh",  # straight runs
        "87654321",
        "23456789",
        "short",
    ],
)
def test_weak_passwords_are_refused(password):
    with pytest.raises(InvalidInput) as err:
        passwords.check_password_rule(password)
    assert err.value.fields["password"] in ("too_short", "too_common")


@pytest.mark.parametrize("password", [DEMO_PASSWORD, PASSWORD, "river-bank-27", "侯官村防汛2024"])
def test_ordinary_passwords_pass(password):
    passwords.check_password_rule(password, username="lead", phone="13911112222")


def test_the_demo_and_test_passwords_stay_valid():
    assert DEMO_PASSWORD == "demo1234" and not passwords.too_easy(DEMO_PASSWORD)
    assert not passwords.too_easy(PASSWORD)


def test_the_list_is_a_data_file_read_once():
    common = passwords.common_passwords()
    assert passwords.common_passwords() is common  # cached
    assert len(common) >= 300
    assert set(CHINESE_FAVOURITES) <= common
    assert DEMO_PASSWORD not in common and PASSWORD not in common
    assert passwords.COMMON_PASSWORDS_FILE.name == "common_passwords.txt"


def test_a_password_may_not_be_the_login_itself():
    for same in ("zhou.wei", "ZHOU.WEI", "13912345678"):
        with pytest.raises(InvalidInput) as err:
            passwords.check_password_rule(same, username="zhou.wei", phone="13912345678")
        assert err.value.fields["password"] == "same_as_login"


def test_generated_passwords_follow_the_rule():
    made = {passwords.generate_password() for _ in range(50)}
    assert len(made) == 50
    for p in made:
        passwords.check_password_rule(p)
        assert p.isdigit() and len(p) == passwords.GENERATED_LENGTH


@pytest.fixture
def world():
    tree = create_tree(grids=1, teams=2)
    cadre = create_user("cadre", tree["village"], name="陈书记")
    return {**tree, "cadre": cadre}


def new_person(team, password, username="zhou"):
    return {
        "new-name": "周队长",
        "new-phone": "13912345678",
        "new-username": username,
        "new-password": password,
        "new-role": "team_lead",
        "new-unit_id": team.id,
        "new-submit": "1",
    }


@pytest.mark.parametrize(
    "password, message",
    [
        ("123456", "密码至少8位"),
        ("5201314520", "太容易被猜到"),
        ("qwertyuiop", "太容易被猜到"),
        ("13912345678", "不能和用户名或手机号相同"),
    ],
)
def test_the_people_page_refuses_a_weak_password_in_chinese(client, world, password, message):
    login(client, world["cadre"])
    res = client.post("/people", data=new_person(world["teams"][0], password))
    assert message in res.get_data(as_text=True)
    assert db.session.scalar(select(func.count(User.id)).where(User.username == "zhou")) == 0


def test_creating_a_person_writes_the_audit_log_without_the_password(app, client, world):
    login(client, world["cadre"])
    team = world["teams"][0]
    res = client.post("/people", data=new_person(team, "zhou-pass-1"))
    assert res.status_code == 302
    zhou = db.session.scalars(select(User).where(User.username == "zhou")).one()
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.actor_id == world["cadre"].id).order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["user.create", "role.assign"]
    create, assign = events
    assert create.object_type == "user" and create.object_id == zhou.id
    assert create.after == {"username": "zhou", "name": "周队长", "phone": "13912345678"}
    assert assign.object_type == "role" and assign.unit_path == team.path
    assert assign.after == {
        "user_id": zhou.id,
        "username": "zhou",
        "role": "team_lead",
        "unit_id": team.id,
    }
    everything = json.dumps([[e.before, e.after] for e in events], ensure_ascii=False)
    assert "zhou-pass-1" not in everything and zhou.password_hash not in everything
    assert "password" not in everything

    role_id = zhou.roles[0].id
    assert client.post("/people", data={"remove_role": str(role_id)}).status_code == 302
    removed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "role.remove")).one()
    assert removed.object_id == role_id and removed.unit_path == team.path
    assert removed.before["role"] == "team_lead" and removed.after is None


def test_availability_and_admin_roles_are_audited(world):
    lead = create_user("team_lead", world["teams"][1])
    auth_service.set_available(db.session, world["cadre"], lead.id, False)
    admin = create_user("admin")
    db.session.commit()
    away = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.available")).one()
    assert away.actor_id == world["cadre"].id and away.object_id == lead.id
    assert away.unit_path == world["teams"][1].path
    assert (away.before, away.after) == ({"available": True}, {"available": False})
    admin_role = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "role.assign", AuditEvent.object_id == admin.roles[0].id
        )
    ).one()
    assert admin_role.unit_path is None and admin_role.actor_id is None


def test_the_command_line_keeps_the_rule(app):
    runner = app.test_cli_runner()
    res = runner.invoke(
        args=["user", "create", "wang", "--password", "12345678", "--role", "admin"]
    )
    assert res.exit_code != 0 and db.session.scalar(select(func.count(User.id))) == 0
    res = runner.invoke(
        args=["user", "create", "wang", "--password", "wang-2024-x", "--role", "admin"]
    )
    assert res.exit_code == 0, res.output
