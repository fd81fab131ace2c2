"""Each village's own work group: a robot set on a unit serves everything under it,
its key never shown, its posts within its per-minute budget; a robot that says
"too many" rests alone, and no message is dropped."""

import json
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import (
    create_household,
    create_task,
    create_tree,
    create_unit,
    create_user,
    login,
)
from village_grid.extensions import db
from village_grid.hierarchy import robots
from village_grid.models import AuditEvent, OutboxMessage
from village_grid.models.base import utcnow
from village_grid.notify import channels
from village_grid.notify import service as notify
from village_grid.notify.budget import MemoryBudget, RedisBudget

KEY_A = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"
KEY_B = "50d640d9-9ad6-4d39-98aa-c94c2002bbbb"
KEY_T = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2btttt"


class Robots:
    """Local WeCom group robots on one port, told apart by their key: each POST is
    recorded with its key and the fake clock's time; ``refuse`` names keys that
    answer errcode 45009."""

    def __init__(self, clock=None):
        self.posts: list[tuple[str, dict, object]] = []
        self.refuse: set[str] = set()
        self.clock = clock
        robots_ = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                key = parse_qs(urlsplit(self.path).query).get("key", [""])[0]
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                if key in robots_.refuse:
                    body = b'{"errcode": 45009, "errmsg": "api freq out of limit"}'
                else:
                    robots_.posts.append((key, payload, robots_.clock() if robots_.clock else None))
                    body = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/webhook/send?key={key}"

    def keys(self) -> list[str]:
        return [k for k, _p, _t in self.posts]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def tick(self, seconds: float):
        self.now += timedelta(seconds=seconds)


def outbox():
    return db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def two_villages():
    """A township with two villages, each with a grid of two teams and their leads."""
    township = create_unit("township", "甘蔗街道")
    out = {"township": township, "villages": [], "leads": []}
    for v, code in enumerate(("HG", "DS")):
        village = create_unit("village", f"村{v}", township, code=code)
        grid = create_unit("grid", f"网格{v}", village)
        out["villages"].append(village)
        for t in range(2):
            team = create_unit("team", f"{v}-{t}小队", grid)
            create_household(team)
            lead = create_user("team_lead", team, name=f"队长{v}{t}", phone=f"139{v}000000{t}")
            out["leads"].append((v, lead))
    return out


def test_a_robot_serves_everything_under_its_unit_the_nearest_wins():
    tree = create_tree(grids=2, teams=1)
    other = create_unit("village", "东山村", tree["township"], code="DS")
    grid_b = tree["grids"][1]
    robots.set_robot(
        db.session, None, tree["township"].id, "https://example.org/hook/t-robot-key-123456"
    )
    robots.set_robot(db.session, None, tree["village"].id, channels_url(KEY_A))
    robots.set_robot(db.session, None, grid_b.id, channels_url(KEY_B))
    db.session.commit()
    team_a, team_b = tree["teams"]
    found = channels.robots_for(db.session, {team_a.id, team_b.id, grid_b.id, other.id})
    assert found[team_a.id].url == channels_url(KEY_A)  # the village's
    assert found[team_b.id].url == channels_url(KEY_B)  # its grid's, nearer than the village's
    assert found[grid_b.id].url == channels_url(KEY_B)
    assert found[other.id].kind == "webhook" and "t-robot" in found[other.id].url  # the township's
    assert found[team_a.id].kind == "wecom"
    robots.remove_robot(db.session, None, tree["township"].id)
    db.session.commit()
    assert other.id not in channels.robots_for(db.session, {other.id})  # the deployment's channel


def channels_url(key: str) -> str:
    return f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}"


def test_each_village_gets_its_own_messages_mentioning_only_its_people():
    t = two_villages()
    cadre = create_user("cadre", t["township"])
    with Robots() as hub:
        for v, village in enumerate(t["villages"]):
            robots.set_robot(db.session, None, village.id, hub.url((KEY_A, KEY_B)[v]))
        db.session.commit()
        create_task(t["township"], cadre, title="台风排查")
        counts = notify.deliver_pending(db.session)
    assert counts["sent"] == 4 and counts["waiting"] == 0
    by_key = {k: p for k, p, _t in hub.posts}
    assert sorted(by_key) == sorted([KEY_A, KEY_B])  # one packed post each
    for v, key in enumerate((KEY_A, KEY_B)):
        phones = {lead.phone for w, lead in t["leads"] if w == v}
        assert set(by_key[key]["text"]["mentioned_mobile_list"]) == phones
        assert by_key[key]["text"]["content"].count("台风排查") == 2


def test_a_robot_that_answers_45009_rests_alone_and_loses_nothing():
    t = two_villages()
    cadre = create_user("cadre", t["township"])
    budget = MemoryBudget(20)
    with Robots() as hub:
        for v, village in enumerate(t["villages"]):
            robots.set_robot(db.session, None, village.id, hub.url((KEY_A, KEY_B)[v]))
        db.session.commit()
        create_task(t["township"], cadre, title="防汛")
        clock = Clock()
        hub.refuse = {KEY_A}
        counts = notify.deliver_pending(db.session, clock=clock, budget=budget)
        assert counts == {"sent": 2, "retrying": 0, "failed": 0, "waiting": 2}
        assert hub.keys() == [KEY_B]
        waiting = [m for m in outbox() if m.status == "pending"]
        assert len(waiting) == 2
        assert all(m.attempts == 0 and "45009" in m.last_error for m in waiting)
        assert all(KEY_A not in m.last_error for m in waiting)
        # Still resting a little later, even though the robot would now answer.
        hub.refuse = set()
        clock.tick(30)
        assert notify.deliver_pending(db.session, clock=clock, budget=budget)["sent"] == 0
        clock.tick(31)
        assert notify.deliver_pending(db.session, clock=clock, budget=budget)["sent"] == 2
    assert hub.keys() == [KEY_B, KEY_A]
    assert all(m.status == "sent" for m in outbox())


@pytest.mark.parametrize("per_minute", [3, 20])
def test_a_robots_budget_is_never_exceeded_and_nothing_is_dropped(app, per_minute):
    """Messages too large to share a post, many more than a minute's budget: posts
    go out as the budget allows, at most ``per_minute`` in any 60 seconds."""
    tree = create_tree(grids=1, teams=1)
    lead = create_user("team_lead", tree["teams"][0], name="张三", phone="13912345678")
    clock = Clock()
    budget = MemoryBudget(per_minute)
    n = 3 * per_minute + 2
    with Robots(clock=clock) as hub:
        robots.set_robot(db.session, None, tree["village"].id, hub.url(KEY_A))
        notify.enqueue_many(
            db.session,
            [
                {"event_key": f"e{i}", "recipient_id": lead.id, "body": f"{i}:" + "汛" * 600}
                for i in range(n)
            ],
        )
        db.session.commit()
        clock.now = start = utcnow()
        for _ in range(200):
            notify.deliver_pending(db.session, clock=clock, budget=budget)
            if len(hub.posts) == n:
                break
            clock.tick(7)
    times = sorted((t - start).total_seconds() for _k, _p, t in hub.posts)
    assert len(times) == n  # every message went, each in its own post
    for i, t0 in enumerate(times):
        assert sum(1 for t in times[i:] if t < t0 + 60) <= per_minute
    assert all(m.status == "sent" and m.attempts == 1 for m in outbox())
    assert times[-1] <= 64 * ((n - 1) // per_minute)  # no slower than the budget (7 s steps)


def test_budget_in_redis_is_shared_and_kept():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"h24b-test-{utcnow().timestamp()}"
    one = RedisBudget(client, 3, window=60, prefix=prefix)
    two = RedisBudget(client, 3, window=60, prefix=prefix)
    t = 1_000_000.0
    assert [one.take("r", t), two.take("r", t + 1), one.take("r", t + 2)] == [0, 0, 0]
    assert two.take("r", t + 3) == pytest.approx(57)  # the first post's token comes back at t+60
    assert one.take("other", t + 3) == 0  # another robot is not held up
    assert one.take("r", t + 60) == 0
    two.hold("other", t + 100)
    assert one.take("other", t + 50) == pytest.approx(50)
    client.delete(*client.keys(f"{prefix}:*"))


def test_memory_budget_tokens_come_back_a_window_after_they_were_spent():
    b = MemoryBudget(2, window=60)
    assert [b.take("r", 0), b.take("r", 10), b.take("r", 20)] == [0, 0, 40]
    assert b.take("r", 60) == 0 and b.take("r", 61) == 9
    b.hold("r", 200)
    assert b.take("r", 150) == 50


# --- the page, the key masked ------------------------------------------------------------


def test_a_cadre_sets_the_robot_on_the_unit_page_and_never_sees_the_key_again(client, caplog):
    tree = create_tree(grids=1, teams=1)
    cadre = create_user("cadre", tree["village"])
    login(client, cadre)
    page = client.get(f"/units/{tree['village'].id}")
    assert f"/units/{tree['village'].id}/robot" in page.get_data(as_text=True)
    with caplog.at_level(logging.DEBUG):
        res = client.post(f"/units/{tree['village'].id}/robot", data={"url": channels_url(KEY_A)})
        assert res.status_code == 302
        html = client.get(f"/units/{tree['village'].id}/robot").get_data(as_text=True)
        team_html = client.get(f"/units/{tree['grids'][0].id}/robot").get_data(as_text=True)
    assert KEY_A not in html and "****5aaa" in html
    assert KEY_A not in team_html and "****5aaa" in team_html and tree["village"].name in team_html
    (event,) = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "unit.robot"))
    assert KEY_A not in json.dumps([event.before, event.after])
    assert event.after == {"robot": channels.mask_url(channels_url(KEY_A))}
    audit_html = client.get("/audit").get_data(as_text=True)
    assert KEY_A not in audit_html
    assert KEY_A not in caplog.text
    row = db.session.scalar(db.select(db.text("url_sealed FROM unit_robots")))
    assert KEY_A not in row  # sealed at rest


def test_a_failing_robot_is_logged_and_recorded_masked(caplog, app):
    tree = create_tree(grids=1, teams=1)
    lead = create_user("team_lead", tree["teams"][0], phone="13912345678")
    hub = Robots()  # bound, never serving, closed: nothing answers
    url = hub.url(KEY_A)
    hub.server.server_close()
    robots.set_robot(db.session, None, tree["village"].id, url)
    notify.enqueue(db.session, event_key="e1", body="x", recipient_id=lead.id)
    db.session.commit()
    app.config["NOTIFY_MAX_ATTEMPTS"], saved = 1, app.config["NOTIFY_MAX_ATTEMPTS"]
    try:
        with caplog.at_level(logging.DEBUG):
            assert notify.deliver_pending(db.session)["failed"] == 1
    finally:
        app.config["NOTIFY_MAX_ATTEMPTS"] = saved
    (m,) = outbox()
    assert "ConnectionError" in m.last_error and KEY_A not in m.last_error
    assert "failed for good" in caplog.text and KEY_A not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "",
        "qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
        "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",  # not https
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",  # no key
        "https://user:pw@example.org/hook",
        "ftp://example.org/hook",
        "https://example.org/" + "a" * 600,
        "https://exa mple.org/hook",
        "https://example.org:99999/hook",
    ],
)
def test_bad_robot_urls_are_refused_on_the_form(client, url):
    tree = create_tree(grids=1, teams=1)
    login(client, create_user("cadre", tree["village"]))
    res = client.post(f"/units/{tree['village'].id}/robot", data={"url": url})
    assert res.status_code == 422
    assert db.session.scalar(db.select(db.func.count()).select_from(db.text("unit_robots"))) == 0


def test_only_who_manages_the_unit_sets_its_robot(client):
    tree = create_tree(grids=1, teams=1)
    other = create_unit("village", "东山村", tree["township"], code="DS")
    login(client, create_user("team_lead", tree["teams"][0]))
    assert client.get(f"/units/{tree['village'].id}/robot").status_code == 404
    client.post("/logout")
    login(client, create_user("cadre", other))
    res = client.post(f"/units/{tree['village'].id}/robot", data={"url": channels_url(KEY_A)})
    assert res.status_code == 404


def test_the_test_button_posts_to_the_robot_and_shows_its_refusal_masked(client):
    tree = create_tree(grids=1, teams=1)
    login(client, create_user("cadre", tree["village"]))
    with Robots() as hub:
        robots.set_robot(db.session, None, tree["village"].id, hub.url(KEY_A))
        db.session.commit()
        res = client.post(f"/units/{tree['grids'][0].id}/robot/test", follow_redirects=True)
        assert res.status_code == 200 and KEY_A not in res.get_data(as_text=True)
        ((key, payload, _t),) = hub.posts
        assert key == KEY_A and tree["grids"][0].name in payload["text"]["content"]
        hub.refuse = {KEY_A}
        res = client.post(f"/units/{tree['village'].id}/robot/test")
        body = res.get_data(as_text=True)
        assert res.status_code == 502 and "45009" in body and KEY_A not in body


def test_mask_url_hides_every_secret_part():
    assert channels.mask_url(channels_url(KEY_A)) == (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****5aaa"
    )
    masked = channels.mask_url(
        "https://hooks.example.org/services/T000/B000/XXXXXXXXXXXXXXXX?token=abc"
    )
    assert "XXXXXXXXXXXXXXXX" not in masked and "token=****" in masked
    assert channels.scrub(f"boom at {channels_url(KEY_A)}", channels_url(KEY_A)).endswith(
        "****5aaa"
    )


def test_the_api_sets_reads_and_removes_a_robot_masked(client):
    from tests.factories import api_headers

    tree = create_tree(grids=1, teams=1)
    headers = api_headers(client, create_user("cadre", tree["village"]))
    base = f"/api/v1/units/{tree['grids'][0].id}/robot"
    bad = client.put(base, json={"url": "http://example.org/hook"}, headers=headers)
    assert bad.status_code == 422
    no_key = client.put(
        base, json={"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, headers=headers
    )
    assert no_key.status_code == 422 and no_key.get_json()["error"]["fields"] == {
        "url": "wecom_key"
    }
    res = client.put(base, json={"url": channels_url(KEY_A)}, headers=headers)
    assert res.status_code == 200 and KEY_A not in res.get_data(as_text=True)
    assert res.get_json()["own"].endswith("key=****5aaa")
    team = client.get(f"/api/v1/units/{tree['teams'][0].id}/robot", headers=headers).get_json()
    assert team["inherited_from"] == tree["grids"][0].id and team["own"] == ""
    gone = client.delete(base, headers=headers).get_json()
    assert gone["own"] == "" and gone["inherited_from"] is None
    lead = api_headers(client, create_user("team_lead", tree["teams"][0]))
    assert client.get(base, headers=lead).status_code == 404


def test_budget_with_redis_down_counts_in_memory():
    redis = pytest.importorskip("redis")
    budget = RedisBudget(redis.Redis(port=1, socket_connect_timeout=0.2), 2, window=60)
    assert [budget.take("r", 0), budget.take("r", 1), budget.take("r", 2)] == [0, 0, 58]
    budget.hold("r", 100)
    assert budget.take("r", 70) == 30


def test_a_robot_sealed_under_another_key_keeps_its_messages_waiting(app):
    tree = create_tree(grids=1, teams=1)
    lead = create_user("team_lead", tree["teams"][0], phone="13912345678")
    robots.set_robot(db.session, None, tree["village"].id, channels_url(KEY_A))
    notify.enqueue(db.session, event_key="e1", body="x", recipient_id=lead.id)
    db.session.commit()
    saved = app.config["ID_NUMBER_KEY"]
    app.config["ID_NUMBER_KEY"] = "another-key-0123456789abcdef0123456"
    try:
        counts = notify.deliver_pending(db.session)
    finally:
        app.config["ID_NUMBER_KEY"] = saved
    assert counts["waiting"] == 1 and counts["sent"] == 0
    (m,) = outbox()
    assert m.status == "pending" and "data key" in m.last_error and m.attempts == 0


def test_the_worker_comes_back_when_the_first_waiting_message_is_due(app, monkeypatch):
    """A delivery that left messages waiting for their robot asks the queue for
    another when the first is due (once, not once per wake-up)."""
    from village_grid.jobs import work

    asked = []

    class Deliver:
        def __call__(self):
            return work.deliver()

        def schedule(self, delay):
            asked.append(delay)

    monkeypatch.setitem(app.extensions, "jobs", {"deliver": Deliver()})
    monkeypatch.setattr(work, "_later", 0.0)
    tree = create_tree(grids=1, teams=1)
    lead = create_user("team_lead", tree["teams"][0], phone="13912345678")
    with Robots() as hub:
        robots.set_robot(db.session, None, tree["village"].id, hub.url(KEY_A))
        hub.refuse = {KEY_A}
        notify.enqueue(db.session, event_key="e1", body="x", recipient_id=lead.id)
        db.session.commit()
        assert work.deliver()["waiting"] == 1
        notify.enqueue(db.session, event_key="e2", body="y", recipient_id=lead.id)
        db.session.commit()
        assert work.deliver()["waiting"] == 1  # the robot still rests: e2 waits too
    assert len(asked) == 1 and 55 <= asked[0] <= 61
