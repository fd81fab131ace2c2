"""The outbox delivered to a real HTTP server on 127.0.0.1: generic webhook
and WeCom robot formats, a retry after a failure, failures kept visible,
nothing sent twice for one event."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.factories import create_task, create_tree, create_user
from village_grid.extensions import db
from village_grid.models import OutboxMessage
from village_grid.models.base import utcnow
from village_grid.notify import service as notify


class Hook:
    """A local webhook: records every POST; answers with the statuses queued in ``plan``."""

    def __init__(self, plan=None, default=200, body=b'{"errcode": 0, "errmsg": "ok"}'):
        self.plan = list(plan or [])
        self.default = default
        self.body = body
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                hook.received.append(json.loads(self.rfile.read(length)))
                status = hook.plan.pop(0) if hook.plan else hook.default
                payload = hook.body if status == 200 else b"boom"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def channel(app):
    """Switch the app to a webhook channel for one test."""
    saved = {
        k: app.config.get(k)
        for k in ("NOTIFY_CHANNEL", "NOTIFY_WEBHOOK_URL", "NOTIFY_MAX_ATTEMPTS")
    }

    def use(name, url, max_attempts=3):
        app.config.update(
            NOTIFY_CHANNEL=name, NOTIFY_WEBHOOK_URL=url, NOTIFY_MAX_ATTEMPTS=max_attempts
        )

    yield use
    app.config.update(saved)


def outbox():
    return db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_enqueue_drops_a_second_message_for_the_same_event():
    assert notify.enqueue(db.session, event_key="dispatch:1:user:1", body="a")
    assert not notify.enqueue(db.session, event_key="dispatch:1:user:1", body="b")
    db.session.commit()
    assert [(m.event_key, m.body, m.channel) for m in outbox()] == [
        ("dispatch:1:user:1", "a", "log")
    ]


def test_log_channel_delivers_at_once(caplog):
    notify.enqueue(db.session, event_key="e1", body="台风来了")
    db.session.commit()
    with caplog.at_level("INFO", logger="village_grid.notify"):
        assert notify.deliver_pending(db.session) == {
            "sent": 1,
            "retrying": 0,
            "failed": 0,
            "waiting": 0,
        }
    assert "台风来了" in caplog.text
    (m,) = outbox()
    assert (m.status, m.attempts) == ("sent", 1) and m.sent_at is not None
    assert notify.deliver_pending(db.session) == {
        "sent": 0,
        "retrying": 0,
        "failed": 0,
        "waiting": 0,
    }


def test_webhook_fails_first_then_succeeds_on_retry(channel):
    tree = create_tree(grids=1, teams=1, households=2)
    lead = create_user("team_lead", tree["teams"][0], name="张三", phone="13912345678")
    cadre = create_user("cadre", tree["village"])
    with Hook(plan=[500]) as hook:
        channel("webhook", hook.url)
        task = create_task(tree["village"], cadre, title="防汛")
        now = utcnow()
        assert notify.deliver_pending(db.session, now=now) == {
            "sent": 0,
            "retrying": 1,
            "failed": 0,
            "waiting": 0,
        }
        (m,) = outbox()
        assert (m.status, m.attempts) == ("pending", 1)
        assert m.last_error.startswith("HTTP 500")
        assert m.next_attempt_at > now  # backing off, not hammering
        assert notify.deliver_pending(db.session, now=now) == {
            "sent": 0,
            "retrying": 0,
            "failed": 0,
            "waiting": 0,
        }
        later = m.next_attempt_at + timedelta(seconds=1)
        assert notify.deliver_pending(db.session, now=later) == {
            "sent": 1,
            "retrying": 0,
            "failed": 0,
            "waiting": 0,
        }
        assert notify.deliver_pending(db.session, now=later + timedelta(hours=1))["sent"] == 0
    assert len(hook.received) == 2  # once failed, once delivered, never again
    payload = hook.received[-1]
    assert payload["event_key"] == f"dispatch:{task.id}:user:{lead.id}"
    assert payload["recipient"] == {"id": lead.id, "label": "张三", "phone": "13912345678"}
    assert "防汛" in payload["text"]
    (m,) = outbox()
    assert (m.status, m.attempts) == ("sent", 2)


def test_wecom_robot_format(channel):
    tree = create_tree(grids=1, teams=1, households=1)
    create_user("team_lead", tree["teams"][0], name="张三", phone="13912345678")
    cadre = create_user("cadre", tree["village"])
    with Hook() as hook:
        channel("wecom", hook.url)
        create_task(
            tree["village"], cadre, kind="notice", title="寻找走失儿童", deadline_minutes=None
        )
        assert notify.deliver_pending(db.session)["sent"] == 1
    (payload,) = hook.received
    assert payload["msgtype"] == "text"
    assert "寻找走失儿童" in payload["text"]["content"]
    assert payload["text"]["mentioned_mobile_list"] == ["13912345678"]


def test_wecom_refusal_in_a_200_answer_counts_as_failure(channel):
    with Hook(body=b'{"errcode": 93000, "errmsg": "invalid webhook url"}') as hook:
        channel("wecom", hook.url)
        notify.enqueue(db.session, event_key="e1", body="x")
        db.session.commit()
        assert notify.deliver_pending(db.session)["retrying"] == 1
    (m,) = outbox()
    assert "93000" in m.last_error


def test_endpoint_that_always_fails_ends_failed_and_visible(app, channel):
    with Hook(default=503) as hook:
        channel("webhook", hook.url, max_attempts=3)
        notify.enqueue(db.session, event_key="help:1:1", body="需要帮助", recipient_label="王芳")
        db.session.commit()
        now = utcnow()
        waits = []
        for _ in range(3):
            notify.deliver_pending(db.session, now=now)
            (m,) = outbox()
            if m.next_attempt_at:
                waits.append(m.next_attempt_at - now)
                now = m.next_attempt_at
        assert notify.deliver_pending(db.session, now=now + timedelta(days=1))["failed"] == 0
    assert len(hook.received) == 3
    (m,) = outbox()
    assert (m.status, m.attempts, m.next_attempt_at) == ("failed", 3, None)
    assert m.last_error.startswith("HTTP 503")
    assert waits[1] == 2 * waits[0]  # exponential backoff
    result = app.test_cli_runner().invoke(args=["notify", "status"])
    assert "failed: 1" in result.output and "HTTP 503" in result.output
    result = app.test_cli_runner().invoke(args=["notify", "retry-failed"])
    assert "requeued: 1" in result.output
    assert outbox()[0].status == "pending"


def test_unreachable_endpoint_is_an_error_not_a_crash(channel):
    hook = Hook()  # bound but never serving, then closed: nothing listens on that port
    url = hook.url
    hook.server.server_close()
    channel("webhook", url)
    notify.enqueue(db.session, event_key="e1", body="x")
    db.session.commit()
    assert notify.deliver_pending(db.session)["retrying"] == 1
    assert "ConnectionError" in outbox()[0].last_error


def test_send_command(app):
    notify.enqueue(db.session, event_key="e1", body="x")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["notify", "send"])
    assert result.exit_code == 0 and "sent: 1" in result.output


def test_a_call_for_help_is_sent_before_a_dispatch_queued_earlier(app, monkeypatch):
    """A village-wide dispatch queues a notice for every team lead; a household's
    call for help made a minute later goes out first, then the overdue cases,
    then the notices."""
    from village_grid.tasks.statuses import record_status

    tree = create_tree(grids=2, teams=4, households=1)
    for i, team in enumerate(tree["teams"]):
        create_user("team_lead", team, name=f"队长{i}", phone=f"1390000{i:04d}")
    cadre = create_user("cadre", tree["village"], name="李书记")
    task = create_task(tree["village"], cadre, subkind="typhoon", title="台风格美排查")
    notices = db.session.query(OutboxMessage).count()
    assert notices >= 4
    household = tree["households"][0]
    record_status(
        db.session,
        None,
        task_id=task.id,
        household_id=household.id,
        status="needs_help",
        help_kind="flooding",
        now=utcnow() + timedelta(minutes=1),
    )
    notify.enqueue(db.session, event_key="mailbox:1:1", body="路灯坏了")
    db.session.commit()

    sent = []
    monkeypatch.setattr(notify, "send", lambda channel, msg, **kw: sent.append(msg.event_key))
    notify.deliver_pending(db.session, now=utcnow() + timedelta(minutes=2), batch=2)
    help_keys = [k for k in sent if k.startswith("help:")]
    assert help_keys, sent
    assert sent[: len(help_keys)] == help_keys  # every call for help before anything else
    assert len(sent) == notices + len(help_keys) + 1  # nothing dropped
    priorities = {m.event_key.split(":")[0]: m.priority for m in outbox()}
    assert priorities == {"dispatch": notify.ROUTINE, "help": notify.URGENT, "mailbox": 2}


def _queue(
    n,
    *,
    priority=notify.ROUTINE,
    body="【防汛排查】第{i}小队，10 户。截止 18:00",
    prefix="dispatch:1",
):
    leads = []
    tree = create_tree(grids=1, teams=1, households=1)
    for i in range(n):
        lead = create_user("team_lead", tree["teams"][0], name=f"队长{i}", phone=f"1391234{i:04d}")
        leads.append(lead)
        notify.enqueue_many(
            db.session,
            [
                {
                    "event_key": f"{prefix}:user:{lead.id}",
                    "recipient_id": lead.id,
                    "recipient_label": lead.name,
                    "body": f"@{lead.name} " + body.format(i=i),
                    "priority": priority,
                    "channel": "wecom",
                }
            ],
        )
    db.session.commit()
    return leads


def test_wecom_messages_due_together_go_in_one_post(channel):
    """A robot takes about 20 posts a minute: one post carries several notices,
    mentions every lead in them, and each row is recorded as sent."""
    leads = _queue(5)
    with Hook() as hook:
        channel("wecom", hook.url)
        assert notify.deliver_pending(db.session)["sent"] == 5
    (post,) = hook.received
    assert post["text"]["mentioned_mobile_list"] == [lead.phone for lead in leads]
    assert all(f"@{lead.name} " in post["text"]["content"] for lead in leads)
    assert all(m.status == "sent" and m.attempts == 1 for m in outbox())


def test_wecom_posts_stay_within_the_robots_size_and_keep_help_apart(channel):
    _queue(50)  # about 62 bytes each: more than one post's worth
    notify.enqueue_many(
        db.session,
        [
            {
                "event_key": "help:1:1",
                "body": "【求助】河滨路88号 进水被淹",
                "priority": notify.URGENT,
                "channel": "wecom",
            }
        ],
    )
    db.session.commit()
    with Hook() as hook:
        channel("wecom", hook.url)
        assert notify.deliver_pending(db.session, batch=100)["sent"] == 51
    contents = [p["text"]["content"] for p in hook.received]
    assert contents[0] == "【求助】河滨路88号 进水被淹"  # alone, and first
    assert len(contents) >= 3
    assert all(len(c.encode()) <= notify.WECOM_TEXT_BYTES for c in contents)
    assert sum(c.count("@队长") for c in contents) == 50


def test_a_refused_wecom_post_leaves_every_message_in_it_to_retry(channel):
    _queue(4)
    with Hook(plan=[503]) as hook:
        channel("wecom", hook.url)
        assert notify.deliver_pending(db.session) == {
            "sent": 0,
            "retrying": 4,
            "failed": 0,
            "waiting": 0,
        }
        assert len(hook.received) == 1
        later = utcnow() + timedelta(hours=1)
        assert notify.deliver_pending(db.session, now=later)["sent"] == 4
    assert all(m.status == "sent" and m.attempts == 2 for m in outbox())
