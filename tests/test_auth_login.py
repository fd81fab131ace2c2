"""Logging in (issue 12, item 4): failed logins counted in the database per login
name and per address, a lock with a clear Chinese message and an audit line;
an unknown name costs the same time as a known one."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import PASSWORD, create_tree, create_user
from village_grid.auth import service as auth_service
from village_grid.auth.throttle import ThrottleRule, login_key
from village_grid.config import load_config
from village_grid.extensions import db
from village_grid.models import AuditEvent, LoginFailure
from village_grid.models.base import utcnow

LOCKED = "登录失败次数太多"


@pytest.fixture
def lead():
    tree = create_tree(grids=1, teams=1)
    return create_user("team_lead", tree["teams"][0], name="李队长", phone="13911112222")


def page_login(app, login, password, addr="10.0.0.1"):
    return app.test_client().post(
        "/login",
        data={"login": login, "password": password},
        environ_base={"REMOTE_ADDR": addr},
    )


def api_login(app, login, password, addr="10.0.0.1"):
    return app.test_client().post(
        "/api/v1/auth/token",
        json={"username": login, "password": password},
        environ_base={"REMOTE_ADDR": addr},
    )


def fail(app, login, times, addr="10.0.0.1"):
    for _ in range(times):
        res = page_login(app, login, "wrong-password", addr)
        assert res.status_code == 200 and LOCKED not in res.get_data(as_text=True)


def locked(res) -> bool:
    if res.status_code == 429 and LOCKED in res.get_data(as_text=True):
        return True
    assert res.status_code in (200, 302, 401), res.status_code
    return False


def audit(action):
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def test_ten_failures_lock_the_name_with_a_chinese_message_and_an_audit_line(app, lead):
    fail(app, lead.username, 10)
    res = page_login(app, lead.username, PASSWORD)  # even the right password
    assert locked(res)
    html = res.get_data(as_text=True)
    assert "请 15 分钟后再试" in html and 'name="password"' in html
    # by phone number too: the same person
    assert locked(page_login(app, "139 1111 2222", PASSWORD, addr="10.0.0.2"))
    # the API says so in its error body
    body = api_login(app, lead.username, PASSWORD, addr="10.0.0.3").get_json()
    assert body["error"]["code"] == "too_many_attempts" and LOCKED in body["error"]["message"]

    # the tenth failure locked the name and (all ten came from there) the address
    event, by_addr = audit("login.locked")
    assert by_addr.object_type == "address" and by_addr.after["client_addr"] == "10.0.0.1"
    assert event.object_type == "user" and event.object_id == lead.id and event.actor_id is None
    assert event.unit_path == lead.roles[0].unit.path
    assert event.after["by"] == "login" and event.after["login"] == lead.username
    assert event.client_addr == "10.0.0.1"
    # while locked, nothing more is counted (the lock does not grow)
    assert db.session.query(LoginFailure).count() == 10


def test_failures_from_many_addresses_lock_the_name(app, lead):
    for i in range(10):
        fail(app, lead.phone, 1, addr=f"10.0.1.{i}")
    assert locked(page_login(app, lead.username, PASSWORD, addr="10.0.2.1"))


def test_ten_failures_lock_the_address_for_every_name(app, lead):
    for i in range(10):
        fail(app, f"nobody{i}", 1, addr="10.0.0.9")
    assert locked(page_login(app, lead.username, PASSWORD, addr="10.0.0.9"))
    assert page_login(app, lead.username, PASSWORD, addr="10.0.0.10").status_code == 302
    by = [e.after["by"] for e in audit("login.locked")]
    assert by == ["address"]


def test_an_unknown_name_is_locked_like_a_known_one(app, lead):
    fail(app, "nobody", 10)
    assert locked(page_login(app, "nobody", "whatever-1", addr="10.0.0.2"))
    assert [(e.object_type, e.object_id, e.after["by"]) for e in audit("login.locked")] == [
        ("login", None, "login"),
        ("address", None, "address"),
    ]


def test_a_success_clears_only_its_own_address(app, lead):
    # 9 failures from A, a success from B: A's count stays, one more locks
    fail(app, lead.username, 9, addr="10.0.0.1")
    assert page_login(app, lead.username, PASSWORD, addr="10.0.0.2").status_code == 302
    fail(app, lead.username, 1, addr="10.0.0.1")
    assert locked(page_login(app, lead.username, PASSWORD, addr="10.0.0.3"))


def test_a_success_from_the_same_address_starts_the_count_again(app, lead):
    fail(app, lead.username, 9)
    assert page_login(app, lead.username, PASSWORD).status_code == 302
    fail(app, lead.username, 9)
    assert page_login(app, lead.username, PASSWORD).status_code == 302


def add_failures(login, n, ago, addr="10.9.9.9"):
    """``n`` failures a second apart, the last ``ago`` ago."""
    last = utcnow() - ago
    for i in range(n):
        at = last - timedelta(seconds=n - 1 - i)
        db.session.add(LoginFailure(login=login, client_addr=addr, at=at))
    db.session.commit()


def test_a_lock_lasts_fifteen_minutes_after_the_last_failure(app, lead):
    add_failures(lead.username, 10, ago=timedelta(minutes=10))
    res = page_login(app, lead.username, PASSWORD)
    assert locked(res) and "请 5 分钟后再试" in res.get_data(as_text=True)
    db.session.execute(db.delete(LoginFailure))
    db.session.commit()
    add_failures(lead.username, 10, ago=timedelta(minutes=16))
    assert page_login(app, lead.username, PASSWORD).status_code == 302


def test_ten_failures_spread_over_more_than_the_window_do_not_lock(app, lead):
    add_failures(lead.username, 5, ago=timedelta(minutes=29))
    add_failures(lead.username, 5, ago=timedelta(minutes=1))
    assert page_login(app, lead.username, PASSWORD).status_code == 302


def test_the_numbers_are_settings(app, lead, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 3)
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_MINUTES", 30)
    fail(app, lead.username, 3)
    res = page_login(app, lead.username, PASSWORD)
    assert locked(res) and "请 30 分钟后再试" in res.get_data(as_text=True)
    rule = ThrottleRule.from_config(load_config(str(tmp_path), {"SECRET_KEY": "x"}))
    assert (rule.max_failures, rule.window, rule.lockout) == (
        10,
        timedelta(minutes=15),
        timedelta(minutes=15),
    )


def test_a_wrong_current_password_counts_as_a_failed_login(app, lead):
    client = app.test_client()
    client.post("/login", data={"login": lead.username, "password": PASSWORD})
    for _ in range(10):
        client.post(
            "/account/password",
            data={
                "current_password": "guess-1234",
                "new_password": "x" * 9,
                "new_password_again": "x" * 9,
            },
        )
    res = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "river-27-b",
            "new_password_again": "river-27-b",
        },
    )
    assert locked(res)
    assert page_login(app, lead.username, PASSWORD, addr="10.0.5.5").status_code == 429


def test_login_key_is_one_form_per_name():
    assert login_key(" Lead1 ") == "lead1"
    assert login_key("139 1111 2222") == login_key("13911112222") == "13911112222"


def test_service_authenticate_counts_without_a_request(app, lead):
    rule = ThrottleRule(max_failures=2, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
    for _ in range(2):
        assert (
            auth_service.authenticate(
                db.session, lead.username, "nope-nope", client_addr="", rule=rule
            )
            is None
        )
    with pytest.raises(auth_service.LoginLocked):
        auth_service.authenticate(db.session, lead.username, PASSWORD, client_addr="", rule=rule)


# --- timing ----------------------------------------------------------------------------


def _seconds(call) -> float:
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ["/api/v1/auth/token", "/login"])
def test_an_unknown_name_costs_the_same_time_as_a_known_one(app, lead, monkeypatch, endpoint):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 1000)
    post = api_login if endpoint.startswith("/api/") else page_login
    addrs = (f"10.7.0.{i}" for i in range(1, 255))  # under the per-address rate limit
    post(app, "warm-up", "wrong-password", next(addrs))  # the dummy hash is made once a process
    known, unknown = [], []
    for i in range(7):  # in pairs, alternating which goes first: load hits both alike
        pair = [
            ("known", lambda: post(app, lead.username, "wrong-password", next(addrs))),
            ("unknown", lambda: post(app, "no-such-user", "wrong-password", next(addrs))),
        ]
        for name, call in pair if i % 2 else reversed(pair):
            (known if name == "known" else unknown).append(_seconds(call))
    ratios = sorted(k / u for k, u in zip(known, unknown, strict=True))
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"{endpoint}: known {k * 1000:.0f} ms, unknown {u * 1000:.0f} ms (median of 7)")
    assert 1 / 1.5 < statistics.median(ratios) < 1.5, (known, unknown)


def test_the_login_page_suits_a_phone_and_says_what_is_missing(client):
    html = client.get("/login").get_data(as_text=True)
    assert "/static/auth." in html and "忘记密码" in html
    assert 'autocomplete="username"' in html and 'autocapitalize="off"' in html
    assert "<script>" not in html and "onclick" not in html
    html = client.post("/login", data={"login": "", "password": ""}).get_data(as_text=True)
    assert html.count("该字段是必填字段") == 2
