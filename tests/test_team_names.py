"""Every team is named with its grid ("第1网格 1小队"), wherever a team is named: a
village has fourteen "4小队". Here every grid has a "1小队" and a "2小队"."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.factories import create_task, create_village, login
from village_grid.extensions import db
from village_grid.models import OutboxMessage
from village_grid.models.base import utcnow
from village_grid.qr import mailbox
from village_grid.tasks.graph import forget_graph


def bare_team_names(html: str) -> list[str]:
    """Each "N小队" on the page without its grid just before it."""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    return [
        text[max(0, m.start() - 20) : m.end()]
        for m in re.finditer(r"\d小队", text)
        if "网格" not in text[max(0, m.start() - 8) : m.start()]
    ]


def test_teams_are_named_with_their_grid(app, client):
    v = create_village(grids=2, teams=2, households=2, leads=1)
    for team in v["teams"]:
        team.name = team.name.split("-")[1]  # "1-2小队" -> "2小队"
    db.session.commit()
    forget_graph()
    task = create_task(
        v["village"], v["cadre"], title="防汛排查", now=utcnow() - timedelta(minutes=5)
    )
    h = v["households"][0]
    letter = mailbox.create_message(db.session, h, category="safety", text="路灯坏了")
    db.session.commit()

    login(client, v["cadre"])
    for url in (
        f"/tasks/{task.id}",  # not reached yet, by team
        f"/tasks/{task.id}/team?team={v['teams'][0].id}",
        "/mailbox",
        f"/mailbox/{letter.id}",
        f"/households/{h.id}",
        f"/households/{h.id}/move",
    ):
        res = client.get(url)
        assert res.status_code == 200, url
        html = res.get_data(as_text=True)
        # The unit table nests teams under their grid row: the rest must name the grid.
        html = re.sub(r'<table class="list rollup">.*?</table>', "", html, flags=re.S)
        assert "第1网格 1小队" in html, url
        assert not bare_team_names(html), (url, bare_team_names(html))

    # The lead's dispatch message too.
    bodies = db.session.scalars(select(OutboxMessage.body)).all()
    assert any("第1网格 1小队" in b for b in bodies), bodies


def test_a_full_team_offers_no_form(client):
    from tests.factories import create_household

    v = create_village(grids=1, teams=2, households=9, leads=0)
    full, roomy = v["teams"]
    create_household(full)
    login(client, v["cadre"])
    html = client.get(f"/units/{full.id}/households/new").get_data(as_text=True)
    assert "已满 10 户" in html and 'class="household-form"' not in html
    assert f'href="/units/{roomy.id}/households/new"' in html  # a team with room instead
    # Moving a household: a full team is not offered, the others are named with their grid.
    h = v["households"][-1]
    html = client.get(f"/households/{h.id}/move").get_data(as_text=True)
    assert f'value="{full.id}"' not in html and "已满" not in html
