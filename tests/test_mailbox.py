"""The red mailbox round trip: household writes, team lead and cadre see it, reply, household reads it."""

from __future__ import annotations

import re

from tests.factories import create_tree, create_user, login
from village_grid.extensions import db
from village_grid.models import MailboxMessage


def test_round_trip(app, client):
    tree = create_tree(grids=1, teams=2, households=1)
    h = tree["households"][0]
    lead = create_user("team_lead", tree["teams"][0])
    other_lead = create_user("team_lead", tree["teams"][1])
    cadre = create_user("cadre", tree["village"])

    phone = app.test_client()
    res = phone.post(
        f"/h/{h.qr_token}/mailbox",
        data={
            "category": "facilities",
            "text": "村口路灯坏了三天",
            "callback_phone": "139 1234 5678",
        },
        environ_base={"REMOTE_ADDR": "10.7.7.7"},
    )
    assert res.status_code == 302
    msg = db.session.query(MailboxMessage).one()
    assert re.fullmatch(r"R\d{6}-[2-9A-HJ-NP-Z]{4}", msg.tracking_no)
    assert (msg.team_id, msg.callback_phone, msg.client_addr) == (
        h.team_id,
        "13912345678",
        "10.7.7.7",
    )
    assert msg.tracking_no in phone.get(res.headers["Location"]).data.decode()

    for user, sees in ((lead, True), (cadre, True), (other_lead, False)):
        staff = app.test_client()
        login(staff, user)
        listing = staff.get("/mailbox").data.decode()
        assert (msg.tracking_no in listing) == sees, user.username
        assert staff.get(f"/mailbox/{msg.id}").status_code == (200 if sees else 404)

    staff = app.test_client()
    login(staff, lead)
    assert staff.post(f"/mailbox/{msg.id}/reply", data={"reply": ""}).status_code == 302
    assert db.session.get(MailboxMessage, msg.id).status == "open"  # empty reply refused
    staff.post(f"/mailbox/{msg.id}/reply", data={"reply": "已报修，明天换灯泡"})

    # The phone that wrote it sees its note and the reply; a stranger sees the reply only.
    page = phone.get(f"/h/{h.qr_token}").data.decode()
    assert "已报修，明天换灯泡" in page and "村口路灯坏了三天" in page
    stranger = app.test_client().get(f"/h/{h.qr_token}").data.decode()
    assert "已报修，明天换灯泡" in stranger and "村口路灯坏了三天" not in stranger
    assert "13912345678" not in stranger
    api = app.test_client().get(f"/api/v1/public/{h.qr_token}/mailbox").get_json()
    assert (
        api["messages"][0]["reply"] == "已报修，明天换灯泡" and api["messages"][0]["text"] is None
    )

    cadre_client = app.test_client()
    login(cadre_client, cadre)
    assert cadre_client.post(f"/mailbox/{msg.id}/close").status_code == 302
    db.session.expire_all()
    assert db.session.get(MailboxMessage, msg.id).status == "closed"
    assert staff.post(f"/mailbox/{msg.id}/reply", data={"reply": "再说"}).status_code == 302
    assert (
        db.session.get(MailboxMessage, msg.id).reply == "已报修，明天换灯泡"
    )  # closed stays closed


def test_json_mailbox_and_bad_input(client):
    tree = create_tree(grids=1, teams=1, households=1)
    token = tree["households"][0].qr_token
    url = f"/api/v1/public/{token}/mailbox"
    res = client.post(url, json={"category": "safety", "text": "河堤有裂缝", "callback_phone": ""})
    assert res.status_code == 201
    body = res.get_json()
    assert (
        body["text"] == "河堤有裂缝" and body["status"] == "open" and "callback_phone" not in body
    )
    for bad in (
        {"category": "spam", "text": "x"},
        {"category": "other", "text": ""},
        {"category": "other", "text": "   "},
        {"category": "other", "text": "x" * 1001},
        {"category": "other", "text": "x", "callback_phone": "12345"},
        {"category": "other"},
    ):
        res = client.post(url, json=bad)
        assert res.status_code == 422, bad
    assert db.session.query(MailboxMessage).count() == 1
    assert (
        client.post(
            f"/api/v1/public/{'Q' * 32}/mailbox", json={"category": "other", "text": "x"}
        ).status_code
        == 404
    )


def test_new_note_tells_the_team_lead_without_its_text(client):
    """The lead hears of a new note through the outbox (their WeCom group may
    read it, so the message names the household code, not what was written);
    a team without a lead falls back to the grid member."""
    from village_grid.models import OutboxMessage

    tree = create_tree(grids=1, teams=2, households=1)
    lead = create_user("team_lead", tree["teams"][0], name="林队长")
    grid_member = create_user("grid_member", tree["grids"][0], name="王网格")
    first, second = tree["households"]
    for household in (first, second, first):
        res = client.post(
            f"/api/v1/public/{household.qr_token}/mailbox",
            json={"category": "safety", "text": "河堤有裂缝，很危险"},
        )
        assert res.status_code == 201
    messages = db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.recipient_id for m in messages] == [lead.id, grid_member.id, lead.id]
    assert first.code in messages[0].body and "红色信箱" in messages[0].body
    assert all("裂缝" not in m.body for m in messages)
