"""The public door-plate page and its JSON: nothing private, reports, CSRF, rate limits."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.factories import CADRE, create_task, create_village, lead_person
from village_grid.extensions import db
from village_grid.models import Household, Member, StatusEvent
from village_grid.tasks.case_queue import list_escalations
from village_grid.tasks.dispatch import close_task
from village_grid.tasks.labels import NOTE_MAX

HEAD = "王秀英"
HEAD_PHONE = "13912345678"
MEMBER = "王小明"
LEAD, LEAD_PHONE = lead_person(0)  # 张三, the lead of team 1-1
CADRE_NAME, CADRE_PHONE = CADRE


@pytest.fixture
def world():
    """One grid of 2 teams with a household each; a cadre and a lead on team 1-1, no grid member."""
    tree = create_village(grids=1, teams=2, households=1, grid_members=0)
    h = tree["households"][0]
    h.head_name, h.phone, h.door_no, h.address = HEAD, HEAD_PHONE, "河滨路88号", "河滨路88号"
    h.elderly_alone = True
    h.members.append(Member(name=MEMBER, relation="child", phone="13698765432"))
    db.session.commit()
    tree["household"] = h
    tree["token"] = h.qr_token
    return tree


def dispatch(tree, kind="sweep", **kw):
    kw.setdefault("subkind", "flood" if kind == "sweep" else "")
    task = create_task(tree["village"], tree["cadre"], kind=kind, **kw)
    return task


@contextmanager
def config(app, **values):
    old = {k: app.config.get(k) for k in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(old)


PRIVATE = (
    HEAD,
    HEAD_PHONE,
    MEMBER,
    "13698765432",
    LEAD,
    LEAD_PHONE,
    CADRE_NAME,
    CADRE_PHONE,
    "河滨路",
    "elderly",
    "独居",
)


def assert_private(text: str):
    for secret in PRIVATE:
        assert secret not in text, secret


def test_page_and_json_show_code_and_tasks_but_nothing_private(client, world):
    sweep = dispatch(world, title="台风格美防汛排查", body="今晚八点前请报平安")
    page = client.get(f"/h/{world['token']}")
    assert page.status_code == 200
    html = page.data.decode()
    assert world["household"].code in html and "台风格美防汛排查" in html and "我家需要帮助" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert_private(html)
    api = client.get(f"/api/v1/public/{world['token']}")
    data = api.get_json()
    assert data["household"] == {"code": world["household"].code}
    assert [t["id"] for t in data["tasks"]] == [sweep.id]
    assert_private(json.dumps(data, ensure_ascii=False))

    # After a call for help, a stranger scanning still learns nothing of it.
    client.post(
        f"/api/v1/public/{world['token']}/reports",
        json={"task_id": sweep.id, "status": "needs_help", "kind": "medical", "note": "老人摔倒了"},
    )
    again = client.get(f"/h/{world['token']}").data.decode()
    assert "老人摔倒了" not in again
    assert client.get(f"/api/v1/public/{world['token']}").get_json()["tasks"][0]["answered"] is True


def test_english_switch(client, world):
    html = client.get(f"/h/{world['token']}?lang=en").data.decode()
    assert "Red mailbox" in html and "中文" in html


def test_need_help_from_the_json_api_is_a_household_qr_event_and_escalates(client, world):
    sweep = dispatch(world)
    res = client.post(
        f"/api/v1/public/{world['token']}/reports",
        json={"task_id": sweep.id, "status": "needs_help", "kind": "flooding", "note": "水进屋了"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert res.status_code == 201, res.get_json()
    event = db.session.query(StatusEvent).one()
    assert (event.via, event.actor_id, event.client_addr) == ("household_qr", None, "10.1.2.3")
    assert event.status == "needs_help" and event.help_kind == "flooding" and event.created_at
    cases = list_escalations(db.session, world["cadre"])
    assert [c.household_id for c in cases] == [world["household"].id]


def test_page_form_reports_safe(client, world):
    sweep = dispatch(world)
    res = client.post(f"/h/{world['token']}/report", data={"task_id": sweep.id, "status": "safe"})
    assert res.status_code == 302
    assert "谢谢" in client.get(res.headers["Location"]).data.decode()
    assert db.session.query(StatusEvent).one().status == "safe"
    assert list_escalations(db.session, world["cadre"]) == []


def test_campaign_survey_and_notice(client, world):
    campaign = dispatch(world, "campaign", title="垃圾分类")
    survey = dispatch(
        world,
        "survey",
        title="用水调查",
        questions=[
            {"id": "q1", "type": "choice", "text": "家里有储水吗", "choices": ["有", "没有"]},
            {"id": "q2", "type": "number", "text": "几口人"},
        ],
    )
    base = f"/api/v1/public/{world['token']}/reports"
    assert (
        client.post(base, json={"task_id": campaign.id, "status": "acknowledged"}).status_code
        == 201
    )
    bad = client.post(
        base, json={"task_id": survey.id, "status": "answered", "answers": {"q1": "也许"}}
    )
    assert bad.status_code == 422
    empty = client.post(base, json={"task_id": survey.id, "status": "answered", "answers": {}})
    assert empty.status_code == 422
    ok = client.post(
        f"/h/{world['token']}/report",
        data={"task_id": survey.id, "status": "answered", "answer_q1": "有", "answer_q2": "4"},
    )
    assert ok.status_code == 302
    event = db.session.query(StatusEvent).filter_by(task_id=survey.id).one()
    assert event.answers == {"q1": "有", "q2": 4}
    # A survey cannot be answered with "needs help"; a campaign cannot be a survey.
    assert client.post(base, json={"task_id": survey.id, "status": "needs_help"}).status_code == 422
    html = client.get(f"/h/{world['token']}").data.decode()
    assert "家里有储水吗" in html and "垃圾分类" in html


def test_bad_reports_are_422_or_404_never_500(client, world):
    sweep = dispatch(world)
    base = f"/api/v1/public/{world['token']}/reports"
    cases = [
        ({"task_id": sweep.id, "status": "pending"}, 422),
        ({"task_id": sweep.id, "status": "safe", "note": "x" * (NOTE_MAX + 1)}, 422),
        ({"task_id": sweep.id, "status": "needs_help", "kind": "alien"}, 422),
        ({"task_id": sweep.id, "status": "safe", "extra": 1}, 422),
        ({"task_id": "1; drop table", "status": "safe"}, 422),
        ({"task_id": 999999, "status": "safe"}, 404),
        ({"status": "safe"}, 422),
    ]
    for body, status in cases:
        res = client.post(base, json=body)
        assert res.status_code == status, (body, res.get_json())
        assert "error" in res.get_json()
    assert client.post(base, data="not json", content_type="text/plain").status_code in (400, 422)
    # The page form with garbage flashes an error, records nothing.
    res = client.post(f"/h/{world['token']}/report", data={"task_id": "abc", "status": "safe"})
    assert res.status_code == 302
    assert db.session.query(StatusEvent).count() == 0


def test_a_closed_task_is_gone_from_the_plate_and_cannot_be_answered(client, world):
    sweep = dispatch(world)
    close_task(db.session, world["cadre"], sweep.id)
    db.session.commit()
    url = f"/api/v1/public/{world['token']}/reports"
    res = client.post(url, json={"task_id": sweep.id, "status": "safe"})
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "task_not_open"
    assert client.get(f"/api/v1/public/{world['token']}").get_json()["tasks"] == []
    assert db.session.query(StatusEvent).count() == 0


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_csrf_the_page_form_needs_the_token_from_the_page(app, world):
    sweep = dispatch(world)
    with config(app, WTF_CSRF_ENABLED=True):
        phone = app.test_client()  # a phone that just scanned: no cookie yet
        forged = phone.post(
            f"/h/{world['token']}/report", data={"task_id": sweep.id, "status": "safe"}
        )
        assert forged.status_code == 400
        assert db.session.query(StatusEvent).count() == 0
        token = _csrf(phone.get(f"/h/{world['token']}").data.decode())
        ok = phone.post(
            f"/h/{world['token']}/report",
            data={"task_id": sweep.id, "status": "safe", "csrf_token": token},
        )
        assert ok.status_code == 302
        assert db.session.query(StatusEvent).count() == 1
        # The JSON twin rides on no cookie: it needs no CSRF token, but only takes JSON,
        # so a cross-site HTML form (which cannot send JSON) gets nowhere.
        api = app.test_client()
        url = f"/api/v1/public/{world['token']}/reports"
        assert api.post(url, json={"task_id": sweep.id, "status": "safe"}).status_code == 201
        form = api.post(url, data={"task_id": sweep.id, "status": "safe"})
        assert form.status_code in (400, 422)
        assert db.session.query(StatusEvent).count() == 2


def test_rate_limit_per_token_from_many_addresses(app, client, world):
    sweep = dispatch(world)
    url = f"/api/v1/public/{world['token']}/reports"
    with config(app, QR_WRITE_LIMIT_PER_TOKEN="3/minute"):
        for i in range(3):
            res = client.post(
                url,
                json={"task_id": sweep.id, "status": "safe"},
                environ_base={"REMOTE_ADDR": f"10.0.0.{i}"},
            )
            assert res.status_code == 201
        res = client.post(
            url,
            json={"task_id": sweep.id, "status": "safe"},
            environ_base={"REMOTE_ADDR": "10.0.0.99"},
        )
        assert res.status_code == 429 and res.get_json()["error"]["code"] == "rate_limited"
        assert "Retry-After" in res.headers
        page = client.post(
            f"/h/{world['token']}/report",
            data={"task_id": sweep.id, "status": "safe"},
            environ_base={"REMOTE_ADDR": "10.0.0.98"},
        )
        assert page.status_code == 429
        assert "请求太多" in page.data.decode() or "太频繁" in page.data.decode()
        # Another plate is not affected.
        other = world["households"][1].qr_token
        assert client.get(f"/api/v1/public/{other}").status_code == 200
    assert db.session.query(StatusEvent).count() == 3


def test_rate_limit_per_address_across_plates(app, client, world):
    with config(app, QR_READ_LIMIT_PER_ADDR="4/minute"):
        tokens = [h.qr_token for h in world["households"]]
        addr = {"REMOTE_ADDR": "10.9.9.9"}
        answers = [
            client.get(f"/h/{tokens[i % 2]}", environ_base=addr).status_code for i in range(4)
        ]
        assert answers == [200, 200, 200, 200]
        assert client.get(f"/h/{tokens[0]}", environ_base=addr).status_code == 429
        # Guessing tokens counts as well.
        assert client.get("/h/" + "Z" * 32, environ_base=addr).status_code == 429
        assert (
            client.get(f"/h/{tokens[0]}", environ_base={"REMOTE_ADDR": "10.9.9.10"}).status_code
            == 200
        )


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


WORKER = r"""
import json, sys
from village_grid import create_app
cfg = json.loads(sys.argv[1])
app = create_app(cfg)
client = app.test_client()
codes = [client.post(sys.argv[2], json={"category": "other", "text": "路灯坏了"}).status_code
         for _ in range(int(sys.argv[3]))]
print(json.dumps(codes))
"""


@pytest.mark.skipif(not _redis_up(), reason="Redis not running on 127.0.0.1:6379")
def test_redis_storage_shares_the_limit_between_workers(app, world):
    """Two processes (as two gunicorn workers) count against the same Redis limit."""
    cfg = {
        "SECRET_KEY": "x",
        "TESTING": True,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "BASE_URL": "http://vg.test",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15",
        "RATELIMIT_KEY_PREFIX": f"vgtest-{uuid.uuid4().hex}",
        "QR_WRITE_LIMIT_PER_TOKEN": "3/minute",
    }
    url = f"/api/v1/public/{world['token']}/mailbox"
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root))
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", WORKER, json.dumps(cfg), url, "2"],
                capture_output=True,
                text=True,
                check=True,
                env=env,
                cwd=root,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for _ in range(2)
    ]
    assert runs == [[201, 201], [201, 429]]
    db.session.expire_all()
    assert db.session.query(Household).count() == 2


def test_a_failing_limit_store_falls_back_to_counting_in_memory(app, world):
    """Redis down on a typhoon night: the household's answers are taken, the door
    plates stay limited (Flask-Limiter's in-memory fallback) and the log says so.
    In a process of its own, as a worker would be: the fallback is process state."""
    sweep = dispatch(world)
    db.session.commit()
    cfg = {
        "SECRET_KEY": "x",
        "TESTING": True,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "BASE_URL": "http://vg.test",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9/0",  # nothing listens there
        "QR_WRITE_LIMIT_PER_TOKEN": "2/minute",
    }
    script = r"""
import json, sys
from village_grid import create_app
cfg, url, task_id = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
client = create_app(cfg).test_client()
print(json.dumps([
    client.post(url, json={"task_id": task_id, "status": "safe"}).status_code
    for _ in range(3)
]))
"""
    root = Path(__file__).resolve().parent.parent
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            json.dumps(cfg),
            f"/api/v1/public/{world['token']}/reports",
            str(sweep.id),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(root)),
        cwd=root,
        timeout=120,
    )
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [201, 201, 429]
    assert "falling back to in-memory storage" in run.stderr
    db.session.expire_all()
    assert db.session.query(StatusEvent).count() == 2


_BURST = r"""
import json, logging, sys, threading
from village_grid import create_app
cfg, urls, task_id, per_plate = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
app = create_app(cfg)
warnings = []
class Keep(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("flask-limiter").addHandler(Keep())
jobs = [url for url in urls for _ in range(per_plate)]
start = threading.Barrier(len(jobs))
codes = [None] * len(jobs)
def answer(i):
    client = app.test_client()
    start.wait()
    codes[i] = client.post(jobs[i], json={"task_id": task_id, "status": "needs_help", "kind": "flooding"}).status_code
threads = [threading.Thread(target=answer, args=(i,)) for i in range(len(jobs))]
for t in threads: t.start()
for t in threads: t.join()
health = app.test_client().get("/healthz").get_json()
print(json.dumps({"codes": codes, "urls": jobs, "health": health, "log": warnings}))
"""


def test_concurrent_answers_right_after_start_are_all_taken_while_the_store_is_down(app):
    """Redis down when the web process starts: bursts of concurrent door-plate answers,
    in three fresh processes. No answer fails (Flask-Limiter re-raised the store's
    error in threads already waiting on it); every accepted one is stored; each plate
    is still limited, in memory; the log says it once; /healthz says the store is down."""
    tree = create_village(grids=1, teams=4, households=1, grid_members=1)
    sweep = dispatch(tree)
    tokens = [h.qr_token for h in tree["households"]]
    db.session.commit()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    port = closed.getsockname()[1]
    cfg = {
        "SECRET_KEY": "x",
        "TESTING": True,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "BASE_URL": "http://vg.test",
        "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{port}/0",
        "QR_WRITE_LIMIT_PER_TOKEN": "3/minute",
        "QR_WRITE_LIMIT_PER_ADDR": "1000/minute",
    }
    root = Path(__file__).resolve().parent.parent
    urls = [f"/api/v1/public/{t}/reports" for t in tokens]
    accepted = 0
    try:
        for _ in range(3):
            run = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _BURST,
                    json.dumps(cfg),
                    json.dumps(urls),
                    str(sweep.id),
                    "5",
                ],
                capture_output=True,
                text=True,
                check=True,
                env=dict(os.environ, PYTHONPATH=str(root)),
                cwd=root,
                timeout=180,
            )
            out = json.loads(run.stdout.strip().splitlines()[-1])
            codes = out["codes"]
            assert all(code in (201, 429) for code in codes), (codes, run.stderr[-3000:])
            for url in urls:  # 5 answers a plate, 3 taken: the plates are still limited
                mine = [c for c, u in zip(codes, out["urls"], strict=True) if u == url]
                assert mine.count(201) == 3 and mine.count(429) == 2, mine
            accepted += codes.count(201)
            assert sum("falling back to in-memory storage" in line for line in out["log"]) == 1
            assert out["health"]["limit_store"] is False
    finally:
        closed.close()
    db.session.expire_all()
    assert db.session.query(StatusEvent).count() == accepted == 3 * 3 * len(tokens)


def test_the_429_page_says_when_to_come_back(app, client, world):
    with config(app, QR_READ_LIMIT_PER_TOKEN="1/minute"):
        assert client.get(f"/h/{world['token']}").status_code == 200
        page = client.get(f"/h/{world['token']}")
        api = client.get(f"/api/v1/public/{world['token']}")
    assert page.status_code == 429 and api.status_code == 429
    for res in (page, api):
        assert 1 <= int(res.headers["Retry-After"]) <= 60


def test_a_refusal_is_said_in_the_asking_households_language(app, client, world):
    survey = dispatch(
        world,
        kind="survey",
        title="用水调查",
        questions=[{"id": "q1", "type": "text", "text": "?"}],
    )
    url = f"/api/v1/public/{world['token']}/reports"
    for lang, message in (("en", "Please answer the questions."), ("zh", "请回答问题。")):
        res = client.post(f"{url}?lang={lang}", json={"task_id": survey.id, "status": "answered"})
        assert res.status_code == 422
        error = res.get_json()["error"]
        assert error["fields"] == {"answers": "required"}
        assert error["message"] == message
    assert db.session.query(StatusEvent).count() == 0
