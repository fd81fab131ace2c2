"""One-time sign-in links: made by whom may, used once, refused after with whom to ask,
expired, replaced, never for a person with a password, the short code typed, the code
for a chat app's browser, and the sessions they open ended from the person's page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import create_user, create_village, login
from village_grid.auth import signin
from village_grid.errors import Conflict, NotFound
from village_grid.extensions import db
from village_grid.models import AuditEvent, LoginSession, SignInLink, User
from village_grid.models.base import utcnow

KEY = "test-secret-key"


def make(actor, person, **kw):
    issued = signin.make_link(db.session, actor, person.id, secret_key=KEY, days=7, **kw)
    db.session.commit()
    return issued


def test_a_link_is_128_bits_stored_only_as_hashes_with_a_short_code_without_look_alikes():
    v = create_village()
    issued = make(v["cadre"], v["lead"])
    assert len(issued.token) >= 22  # 16 bytes, URL-safe
    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}", issued.code)
    row = db.session.get(SignInLink, issued.row.id)
    assert issued.token not in (row.token_hash, row.code_hash)
    assert issued.code not in (row.token_hash, row.code_hash)
    assert row.expires_at - row.created_at == timedelta(days=7)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "signin.link"))
    assert event.actor_id == v["cadre"].id and event.object_id == v["lead"].id
    assert issued.token not in str(event.after) and issued.code not in str(event.after)


def test_opening_a_link_signs_in_once_lands_on_my_team_and_is_refused_after(client):
    v = create_village()
    issued = make(v["gm"], v["lead"])
    page = client.get(issued.path)
    assert page.status_code == 200
    assert "张三" in page.get_data(as_text=True)  # whose link it is, before the tap
    assert db.session.get(SignInLink, issued.row.id).used_at is None  # a preview uses nothing
    res = client.post(issued.path)
    assert res.status_code == 302 and res.headers["Location"].endswith("/field")
    assert client.get("/field").status_code == 200
    login_row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == v["lead"].id))
    assert login_row.via == "link" and login_row.remember
    assert db.session.get(User, v["lead"].id).last_sign_in_at is not None
    used = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "signin.used"))
    assert used.object_id == v["lead"].id

    other = client.application.test_client()
    again = other.get(issued.path)
    assert again.status_code == 410
    html = again.get_data(as_text=True)
    assert "已经用过" in html
    name, phone = "王芳", v["gm"].phone  # the lead's grid member
    assert name in html and phone in html
    assert other.post(issued.path).status_code == 410


def test_an_expired_or_replaced_link_is_refused(client):
    v = create_village()
    old = make(v["cadre"], v["lead"], now=utcnow() - timedelta(days=8))
    res = client.get(old.path)
    assert res.status_code == 410 and "过期" in res.get_data(as_text=True)
    first = make(v["cadre"], v["lead"])
    second = make(v["cadre"], v["lead"])
    res = client.post(first.path)
    assert res.status_code == 410 and "新的" in res.get_data(as_text=True)
    assert client.post(second.path).status_code == 302


def test_unknown_links_are_refused_and_codes_cannot_be_guessed(client, app):
    create_village()
    assert client.get("/in/" + "A" * 22).status_code == 410
    for _ in range(9):
        res = client.post("/login/code", data={"code": "ABCD2345"})
        assert res.status_code == 422
    res = client.post("/login/code", data={"code": "ABCD2345"})
    assert res.status_code in (422, 429)
    res = client.post("/login/code", data={"code": "ABCD2345"})
    assert res.status_code == 429  # the address is locked for a while


def test_the_short_code_signs_in_once_typed_loosely(client):
    v = create_village()
    issued = make(v["cadre"], v["lead"])
    typed = f" {issued.code[:4].lower()}-{issued.code[4:]} "
    res = client.post("/login/code", data={"code": typed})
    assert res.status_code == 302 and res.headers["Location"].endswith("/field")
    other = client.application.test_client()
    res = other.post("/login/code", data={"code": issued.code})
    assert res.status_code == 410  # the code is the link's: used up too
    assert other.post(issued.path).status_code == 410


def test_no_link_for_people_who_keep_passwords_and_none_grants_more_than_their_roles(client):
    v = create_village()
    with pytest.raises(Conflict):
        make(v["admin"] if "admin" in v else create_user("admin"), v["cadre"])
    # a lead who later becomes a cadre: their unused link stops working
    issued = make(v["cadre"], v["lead"])
    from village_grid.auth.service import assign_role

    assign_role(db.session, None, user=v["lead"], role="cadre", unit_id=v["village"].id)
    db.session.commit()
    assert client.post(issued.path).status_code == 410


def test_a_grid_member_makes_links_only_for_their_grids_people():
    v = create_village(grids=2, teams=2, leads=4)
    gm = v["gm"]  # grid 1
    own_lead = v["leads"][0]
    other_lead = v["leads"][2]  # a team of grid 2
    assert make(gm, own_lead).person.id == own_lead.id
    with pytest.raises(NotFound):
        make(gm, other_lead)
    with pytest.raises(NotFound):
        make(v["lead"], v["leads"][1])  # a lead makes none
    with pytest.raises(NotFound):
        make(gm, gm)  # nor for oneself


def test_the_api_makes_a_link_in_scope(client):
    from tests.factories import api_headers

    v = create_village(grids=2, teams=1, leads=2)
    headers = api_headers(client, v["gm"])
    res = client.post(f"/api/v1/users/{v['leads'][0].id}/sign-in-link", headers=headers)
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["url"].startswith("http://vg.test/in/") and len(body["code"]) == 9
    assert body["user_id"] == v["leads"][0].id and body["expires_at"].endswith("Z")
    res = client.post(f"/api/v1/users/{v['leads'][1].id}/sign-in-link", headers=headers)
    assert res.status_code == 404
    res = client.post(
        f"/api/v1/users/{v['cadre'].id}/sign-in-link",
        headers=api_headers(client, create_user("admin")),
    )
    assert res.status_code == 409
    assert res.get_json()["error"]["code"] == "signs_in_with_password"


def test_a_code_for_the_chat_apps_browser_comes_from_ones_own_signed_in_page(client):
    v = create_village()
    phone = client.application.test_client()
    issued = make(v["cadre"], v["lead"])
    phone.post(issued.path)
    res = phone.post("/account/sign-in-code")
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    code = re.search(r"data-code>([A-Z0-9 ]+)<", res.get_data(as_text=True)).group(1)
    wechat = client.application.test_client()
    agent = {"User-Agent": "Mozilla/5.0 (Linux; Android 10) MicroMessenger/8.0.47"}
    res = wechat.get("/login/code?next=/field", headers=agent)
    assert "聊天" in res.get_data(as_text=True)
    res = wechat.post("/login/code?next=/field", data={"code": code}, headers=agent)
    assert res.status_code == 302
    assert wechat.get("/field", headers=agent).status_code == 200
    row = db.session.scalars(
        select(LoginSession).where(LoginSession.user_id == v["lead"].id).order_by(LoginSession.id)
    ).all()[-1]
    assert row.via == "code" and row.remember
    # a cadre (password) gets no such code
    login(client, v["cadre"])
    assert client.post("/account/sign-in-code").status_code == 409


def test_a_group_message_carries_no_sign_in_link_and_its_link_asks_for_a_code(client):
    """Everyone in a group sees a group message: it links to the page, which signs no one
    in; a lead who taps it in the chat app's browser is offered a code, not a password."""
    from tests.factories import create_task
    from village_grid.models import OutboxMessage

    v = create_village()
    make(v["cadre"], v["lead"])  # a live link exists: it must not leak into messages
    create_task(v["village"], v["cadre"])
    texts = [m.body for m in db.session.scalars(select(OutboxMessage))]
    assert texts and not any("/in/" in t for t in texts)
    agent = {"User-Agent": "Mozilla/5.0 (Linux; Android 10) MicroMessenger/8.0.47"}
    res = client.get("/field", headers=agent)
    assert res.status_code == 302 and "/login" in res.headers["Location"]
    page = client.get(res.headers["Location"], headers=agent).get_data(as_text=True)
    assert "/login/code" in page and "用登录码登录" in page


def test_a_service_caller_without_a_rule_gets_the_configured_one():
    """The CLI, scripts and the worker call ``redeem`` without a throttle rule."""
    v = create_village()
    issued = make(v["cadre"], v["lead"])
    person, login_token = signin.redeem(db.session, secret_key=KEY, code=issued.code)
    assert person.id == v["lead"].id and login_token
