"""Sessions that end (issue 12, item 3): logout, a password change and an
administrator's reset end the session cookie, the remember cookie and the API
tokens on the server; each login has its own token; every auth cookie is Secure
when the session cookie is."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import make_config
from tests.factories import PASSWORD, api_headers, create_tree, create_unit, create_user, login
from village_grid import create_app
from village_grid.auth import service as auth_service
from village_grid.auth import sessions
from village_grid.config import load_config
from village_grid.extensions import db
from village_grid.models import AuditEvent, LoginSession, User
from village_grid.models.base import utcnow

NEW_PASSWORD = "river-bank-27"


@pytest.fixture
def village():
    tree = create_tree(grids=1, teams=2)
    cadre = create_user("cadre", tree["village"], name="陈书记")
    lead = create_user("team_lead", tree["teams"][0], name="李队长", phone="13911112222")
    return {**tree, "cadre": cadre, "lead": lead}


def logged_in(app, user, *, remember=False):
    client = app.test_client()
    data = {"login": user.username, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    assert client.post("/login", data=data).status_code == 302
    return client


def cookie(client, name):
    found = client.get_cookie(name)
    return found.value if found is not None else None


def with_cookies(app, **cookies):
    """A new client (another device, or a thief) holding only these cookie values."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def is_in(client) -> bool:
    """Does this client get a logged-in page (and the API as its cookie's user)?"""
    res = client.get("/units")
    if res.status_code == 200:
        return True
    assert res.status_code == 302 and "/login" in res.headers["Location"]
    return False


def api_in(client) -> bool:
    status = client.get("/api/v1/units").status_code
    assert status in (200, 401)
    return status == 200


# --- logout ----------------------------------------------------------------------------


def test_a_session_cookie_copied_before_logout_is_refused_after(app, village):
    client = logged_in(app, village["cadre"])
    stolen = cookie(client, "session")
    assert is_in(with_cookies(app, session=stolen))
    assert api_in(with_cookies(app, session=stolen))

    assert client.post("/logout").status_code == 302
    assert not is_in(client)
    assert not is_in(with_cookies(app, session=stolen))
    assert not api_in(with_cookies(app, session=stolen))


def test_a_remember_cookie_copied_before_logout_is_refused_after(app, village):
    client = logged_in(app, village["cadre"], remember=True)
    remembered = cookie(client, "remember_token")
    assert remembered
    # the remember cookie alone logs a browser in (its session cookie gone) ...
    assert is_in(with_cookies(app, remember_token=remembered))
    client.post("/logout")
    # ... until its login is ended
    assert not is_in(with_cookies(app, remember_token=remembered))


def test_logout_ends_only_that_login(app, village):
    phone = logged_in(app, village["lead"])
    desk = logged_in(app, village["lead"])
    phone.post("/logout")
    assert not is_in(phone) and is_in(desk)


def test_each_login_has_its_own_token_and_only_its_hash_is_stored(app, village):
    first = logged_in(app, village["cadre"], remember=True)
    second = logged_in(app, village["cadre"], remember=True)
    assert cookie(first, "remember_token") != cookie(second, "remember_token")
    with first.session_transaction() as s1, second.session_transaction() as s2:
        tokens = [s1["_user_id"], s2["_user_id"]]
    assert tokens[0] != tokens[1] and str(village["cadre"].id) not in tokens
    rows = db.session.scalars(select(LoginSession).order_by(LoginSession.id)).all()
    assert [r.token_hash for r in rows] == [sessions.token_hash(t) for t in tokens]
    assert all(t not in r.token_hash for r in rows for t in tokens)
    assert all(r.remember and r.ended_at is None and r.user_id == village["cadre"].id for r in rows)


def test_a_cookie_holding_a_bare_user_id_is_refused(app, village):
    """The cookies of before (the user id alone) no longer log anyone in."""
    client = app.test_client()
    with client.session_transaction() as s:
        s["_user_id"] = str(village["cadre"].id)
        s["_fresh"] = True
    assert not is_in(client)


def test_a_login_ends_by_age(app, village):
    client = logged_in(app, village["cadre"])
    row = db.session.scalars(select(LoginSession)).one()
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    row.created_at = utcnow() - lifetime - timedelta(minutes=1)
    db.session.commit()
    assert not is_in(client)


# --- changing one's own password ----------------------------------------------------------


def test_the_header_links_to_the_password_page_for_everyone_logged_in(app, village):
    for user in (village["cadre"], village["lead"]):
        html = logged_in(app, user).get("/units").get_data(as_text=True)
        assert 'href="/account/password"' in html and "修改密码" in html
    page = logged_in(app, village["lead"]).get("/account/password")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "现在的密码" in html and "再输一遍新密码" in html
    assert "<script>" not in html and "onclick" not in html


def test_changing_ones_password_ends_every_other_login_and_token(app, village):
    lead = village["lead"]
    here = logged_in(app, lead, remember=True)
    other = logged_in(app, lead, remember=True)
    other_session, other_remember = cookie(other, "session"), cookie(other, "remember_token")
    token = api_headers(app.test_client(), lead)
    assert api_in(app.test_client()) is False  # (no cookie, no token)
    assert app.test_client().get("/api/v1/units", headers=token).status_code == 200

    res = here.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert res.status_code == 302
    # this phone stays logged in, on a new login with a new remember cookie
    assert is_in(here)
    assert cookie(here, "remember_token") not in (None, other_remember)
    # everything else of theirs is refused
    assert not is_in(other)
    assert not is_in(with_cookies(app, session=other_session))
    assert not is_in(with_cookies(app, remember_token=other_remember))
    assert app.test_client().get("/api/v1/units", headers=token).status_code == 401
    # the new password works, the old one does not
    assert login(app.test_client(), lead, NEW_PASSWORD).status_code == 302
    assert login(app.test_client(), lead, PASSWORD).status_code == 200

    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.password")).one()
    assert event.actor_id == lead.id and event.object_id == lead.id
    assert event.unit_path == village["teams"][0].path
    assert event.after["logins_ended"] == 2  # here and other (a token is no login row)
    text = json.dumps([event.before, event.after])
    user = db.session.get(User, lead.id)
    assert NEW_PASSWORD not in text and user.password_hash not in text


@pytest.mark.parametrize(
    "data, message",
    [
        ({"current_password": "wrong-one-1"}, "现在的密码不对"),
        ({"new_password_again": "something-else-9"}, "两次输入的新密码不一样"),
        ({"new_password": "12345678", "new_password_again": "12345678"}, "太容易被猜到"),
        ({"new_password": "short7", "new_password_again": "short7"}, "密码至少8位"),
        ({"new_password": PASSWORD, "new_password_again": PASSWORD}, "不能和现在的密码一样"),
    ],
)
def test_a_password_change_explains_what_is_wrong(app, village, data, message):
    client = logged_in(app, village["lead"])
    form = {
        "current_password": PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
        **data,
    }
    res = client.post("/account/password", data=form)
    assert res.status_code in (200, 422)
    assert message in res.get_data(as_text=True)
    assert is_in(client)  # nothing ended
    assert login(app.test_client(), village["lead"], PASSWORD).status_code == 302


# --- an administrator's reset --------------------------------------------------------------


def reset(client, person, password=""):
    return client.post("/people", data={"reset_user": str(person.id), "reset-password": password})


def test_a_cadre_resets_a_leads_password_and_every_login_of_theirs_ends(app, village):
    lead = village["lead"]
    phone = logged_in(app, lead, remember=True)
    remembered = cookie(phone, "remember_token")
    token = api_headers(app.test_client(), lead)
    cadre = logged_in(app, village["cadre"])
    res = reset(cadre, lead, NEW_PASSWORD)
    assert res.status_code == 302
    assert "已为 李队长 设置新密码" in cadre.get("/people").get_data(as_text=True)

    assert not is_in(phone)
    assert not is_in(with_cookies(app, remember_token=remembered))
    assert app.test_client().get("/api/v1/units", headers=token).status_code == 401
    assert login(app.test_client(), lead, NEW_PASSWORD).status_code == 302
    assert is_in(cadre)  # the cadre's own login goes on

    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.password_reset")
    ).one()
    assert event.actor_id == village["cadre"].id and event.object_id == lead.id
    assert event.unit_path == village["teams"][0].path
    assert NEW_PASSWORD not in json.dumps(event.after)


def test_a_generated_password_is_shown_once_and_works(app, village):
    cadre = logged_in(app, village["cadre"])
    res = reset(cadre, village["lead"])
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    assert "只显示这一次" in html
    generated = html.split('class="revealed-password">')[1].split("<")[0]
    assert len(generated) >= 8
    # not kept in the session cookie, not shown again
    with cadre.session_transaction() as s:
        assert generated not in json.dumps(dict(s), default=str)
    assert generated not in cadre.get("/people").get_data(as_text=True)
    assert login(app.test_client(), village["lead"], generated).status_code == 302
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.password_reset")
    ).one()
    assert event.after["generated"] is True and generated not in json.dumps(event.after)


def test_a_reset_follows_the_password_rule(app, village):
    cadre = logged_in(app, village["cadre"])
    res = reset(cadre, village["lead"], "5201314a")
    assert "太容易被猜到" in res.get_data(as_text=True)
    assert login(app.test_client(), village["lead"], PASSWORD).status_code == 302


def test_a_cadre_resets_only_people_wholly_in_their_scope(app, village):
    other_village = create_unit("village", "颜岐村", village["township"], code="YQ")
    other_team = create_unit("team", "颜岐小队", create_unit("grid", "颜岐网格", other_village))
    elsewhere = create_user("team_lead", other_team, name="王队长")
    # a township cadre who is also a lead in this village: not the village cadre's to take over
    above = create_user("cadre", village["township"], name="镇干部")
    auth_service.assign_role(
        db.session, None, user=above, role="team_lead", unit_id=village["teams"][1].id
    )
    admin = create_user("admin", name="管理员")
    auth_service.assign_role(
        db.session, None, user=admin, role="team_lead", unit_id=village["teams"][1].id
    )
    db.session.commit()

    cadre = logged_in(app, village["cadre"])
    page = cadre.get(f"/people/{village['lead'].id}").get_data(as_text=True)
    assert f'name="reset_user" value="{village["lead"].id}"' in page
    for person in (above, admin, village["cadre"]):
        page = cadre.get(f"/people/{person.id}").get_data(as_text=True)
        assert f'name="reset_user" value="{person.id}"' not in page
    for person in (elsewhere, above, admin, village["cadre"]):
        res = reset(cadre, person, NEW_PASSWORD)
        assert "没有这个人员" in res.get_data(as_text=True), person.username
        assert login(app.test_client(), person, PASSWORD).status_code == 302, person.username
    assert (
        db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "user.password_reset")
        )
        == 0
    )

    # an administrator may reset them all
    admin_client = logged_in(app, admin)
    assert reset(admin_client, above, NEW_PASSWORD).status_code == 302
    assert login(app.test_client(), above, NEW_PASSWORD).status_code == 302


def test_a_reset_with_a_nonsense_id_is_refused_plainly(app, village):
    cadre = logged_in(app, village["cadre"])
    for value in ("abc", "0", "-1", str(2**31), str(2**63), "99999"):
        res = cadre.post("/people", data={"reset_user": value})
        assert res.status_code in (200, 404, 422), value
        assert "flash-error" in res.get_data(as_text=True), value


# --- Secure cookies --------------------------------------------------------------------


def test_every_auth_cookie_is_secure_when_the_session_cookie_is(app, tmp_path, village):
    secure_app = create_app(
        make_config(tmp_path, SESSION_COOKIE_SECURE=True, DATABASE_URL=app.config["DATABASE_URL"])
    )
    assert secure_app.config["REMEMBER_COOKIE_SECURE"] is True
    client = secure_app.test_client()
    try:
        res = client.post(
            "/login",
            data={"login": village["cadre"].username, "password": PASSWORD, "remember": "y"},
        )
    finally:
        with secure_app.app_context():
            db.session.remove()
            db.engine.dispose()
    assert res.status_code == 302
    set_cookies = res.headers.getlist("Set-Cookie")
    names = {c.split("=", 1)[0]: c for c in set_cookies}
    assert {"session", "remember_token"} <= set(names)
    for header in names.values():
        assert "; Secure" in header and "HttpOnly" in header


def test_https_turns_on_secure_remember_cookies(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTPS", "1")
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    cfg = load_config(str(tmp_path), {"SECRET_KEY": "x"})
    assert cfg["SESSION_COOKIE_SECURE"] is True and cfg["REMEMBER_COOKIE_SECURE"] is True
    monkeypatch.setenv("HTTPS", "0")
    cfg = load_config(str(tmp_path), {"SECRET_KEY": "x"})
    assert cfg["SESSION_COOKIE_SECURE"] is False and cfg["REMEMBER_COOKIE_SECURE"] is False
