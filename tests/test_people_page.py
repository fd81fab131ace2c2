"""The people page at a county's size, a person's page, a grid's sign-in sheet and the
cadre's "ready before the night"."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from tests.factories import create_unit, create_user, create_village, login
from tests.pdftools import pdf_fonts, pdf_pages, pdf_text, requires_poppler
from village_grid.database.bulk import insert_rows, next_id
from village_grid.extensions import db
from village_grid.models import LoginSession, RoleAssignment, SignInLink, User
from village_grid.models.base import utcnow


def _many_leads(team_ids: list[int], n: int) -> None:
    """``n`` team leads without a password, in bulk, spread over the teams."""
    start = next_id(db.session, User)
    now = utcnow()
    users = [
        {
            "id": start + i,
            "username": f"p{13700000000 + i}",
            "phone": f"{13700000000 + i}",
            "name": f"队长{i:05d}",
            "password_hash": "",
            "active": True,
            "available": True,
            "created_at": now,
            "last_sign_in_at": now if i % 3 == 0 else None,
        }
        for i in range(n)
    ]
    insert_rows(db.session, User, users)
    insert_rows(
        db.session,
        RoleAssignment,
        [
            {
                "user_id": u["id"],
                "role": "team_lead",
                "unit_id": team_ids[i % len(team_ids)],
                "created_at": now,
            }
            for i, u in enumerate(users)
        ],
    )
    if db.engine.dialect.name == "postgresql":
        from village_grid.database.bulk import fix_sequences

        fix_sequences(db.session, (User, RoleAssignment))
    db.session.commit()


def test_the_people_page_at_ten_thousand_people_is_paged_and_filtered(client):
    v = create_village(grids=2, teams=5, households=0)
    _many_leads([t.id for t in v["teams"]], 10_000)
    login(client, v["cadre"])
    res = client.get("/people")
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "10004 人" in html  # and the cadre, two grid members and the lead of create_village
    assert html.count('class="person-name"') == 50
    assert "第 1 页，共 201 页" in html
    res = client.get("/people?page=201")
    assert res.get_data(as_text=True).count('class="person-name"') == 4
    # never signed in: two in three of the bulk leads, and the village's own people
    html = client.get("/people?never_signed_in=1&role=team_lead").get_data(as_text=True)
    assert "6667 人" in html
    # search by phone, by name; by unit (a team: its thousand leads)
    html = client.get("/people?q=13700000042").get_data(as_text=True)
    assert "队长00042" in html and ">1 人<" in html
    team = v["teams"][3]
    html = client.get(f"/people?unit_id={team.id}").get_data(as_text=True)
    assert ">1000 人<" in html
    # bad filters are refused plainly
    assert client.get("/people?role=mayor").status_code == 422
    assert client.get("/people?never_signed_in=yes").status_code == 422
    assert client.get("/people?page=0").status_code == 422


def test_the_api_lists_the_same_people(client):
    from tests.factories import api_headers

    v = create_village(grids=2, teams=2, leads=4)
    headers = api_headers(client, v["gm"])
    res = client.get("/api/v1/users?role=team_lead&never_signed_in=1&limit=10", headers=headers)
    body = res.get_json()
    assert res.status_code == 200
    assert [u["name"] for u in body["users"]] == sorted(u["name"] for u in body["users"])
    # a grid member sees their grid's leads only (grid 1: the first two teams)
    assert {u["id"] for u in body["users"]} == {v["leads"][0].id, v["leads"][1].id}
    assert body["total"] == 2 and body["users"][0]["last_sign_in_at"] is None
    res = client.get(f"/api/v1/users?unit_id={v['grids'][1].id}", headers=headers)
    assert res.status_code == 404
    assert client.get("/api/v1/users?no_phone=2", headers=headers).status_code == 422
    lead_headers = api_headers(client, v["lead"])
    assert client.get("/api/v1/users", headers=lead_headers).status_code == 404


def test_a_persons_page_ends_one_login_or_all(app, client):
    v = create_village()
    phone_a, phone_b = app.test_client(), app.test_client()
    login(phone_a, v["lead"])
    login(phone_b, v["lead"])
    login(client, v["gm"])
    page = client.get(f"/people/{v['lead'].id}").get_data(as_text=True)
    assert "张三" in page and "最近登录" in page
    ids = db.session.scalars(
        select(LoginSession.id)
        .where(LoginSession.user_id == v["lead"].id)
        .order_by(LoginSession.id)
    ).all()
    res = client.post(f"/people/{v['lead'].id}/logins/end", data={"login_id": ids[0]})
    assert res.status_code == 302
    assert phone_a.get("/field").status_code == 302  # signed out
    assert phone_b.get("/field").status_code == 200
    client.post(f"/people/{v['lead'].id}/logins/end")
    assert phone_b.get("/field").status_code == 302
    # someone else's grid: not found
    other = create_user("cadre", create_unit("village", "颜岐村", v["township"], code="YQ"))
    c = app.test_client()
    login(c, other)
    assert c.get(f"/people/{v['lead'].id}").status_code == 404
    assert c.post(f"/people/{v['lead'].id}/logins/end").status_code == 404


def test_a_button_on_the_persons_page_makes_a_link_shown_once(client):
    v = create_village()
    login(client, v["gm"])
    res = client.post(f"/people/{v['lead'].id}/sign-in-link")
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    html = res.get_data(as_text=True)
    assert "<svg" in html and re.search(r"data-code>[A-Z0-9]{4} [A-Z0-9]{4}<", html)
    assert db.session.scalar(select(func.count(SignInLink.id))) == 1
    # for a cadre, no button and no link
    page = client.get(f"/people/{v['cadre'].id}")
    assert page.status_code == 404  # not in a grid member's area


def test_a_grid_member_prints_their_grids_sheet(client):
    v = create_village(grids=2, teams=2, leads=4)
    login(client, v["gm"])
    grid = v["grids"][0]
    page = client.get(f"/units/{grid.id}/sign-in-sheet").get_data(as_text=True)
    assert "张三" in page and "林队长" in page and "吴队长" not in page  # grid 2's lead
    res = client.post(f"/units/{grid.id}/sign-in-sheet", data={"who": "new"})
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    codes = re.findall(r'class="slip-code">([A-Z0-9 ]+)<', html)
    assert len(codes) == 2  # the two leads (the grid member is the one printing)
    assert html.count("<svg") == 2
    assert all(not set(c.replace(" ", "")) & set("01OIL") for c in codes)
    assert client.get(f"/units/{v['grids'][1].id}/sign-in-sheet").status_code == 404
    assert client.get(f"/units/{v['teams'][0].id}/sign-in-sheet").status_code == 404
    lead = client.application.test_client()
    login(lead, v["lead"])
    assert lead.get(f"/units/{grid.id}/sign-in-sheet").status_code in (403, 404)


def test_the_cadres_home_says_which_grids_are_not_ready(client):
    v = create_village(grids=2, teams=3, leads=2)
    login(client, v["cadre"])
    html = client.get("/units").get_data(as_text=True)
    assert "2 位小队长从未登录" in html or "2 of 2" in html
    assert "第1网格" in html and "1 个小队没有队长" in html and "3 个小队没有队长" in html


@requires_poppler
def test_the_sheet_as_a_pdf_embeds_its_font_and_names_each_person(client):
    v = create_village(grids=1, teams=2, leads=2)
    login(client, v["gm"])
    res = client.post(f"/units/{v['grids'][0].id}/sign-in-sheet", data={"who": "all", "fmt": "pdf"})
    assert res.status_code == 200 and res.mimetype == "application/pdf"
    assert res.headers["Cache-Control"] == "no-store"
    text = pdf_text(res.data)
    assert "张三" in text and "林队长" in text and "登录" in text
    assert pdf_pages(res.data) == 1
    assert pdf_fonts(res.data) and all(f["emb"] for f in pdf_fonts(res.data))
    assert db.session.scalar(select(func.count(SignInLink.id))) == 2
