"""Door plates: tokens, rotation, images a real scanner reads, print sheets and PDF."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from PIL import Image
from pyzbar.pyzbar import decode
from sqlalchemy import select

from tests.factories import (
    api_headers,
    create_household,
    create_tree,
    create_unit,
    create_user,
    login,
)
from tests.pdftools import pdf_fonts, pdf_images, pdf_pages, pdf_text, requires_poppler
from village_grid import qrcodes
from village_grid.extensions import db
from village_grid.models import Household, RetiredPlate
from village_grid.qr import service


def other_village_team(tree: dict):
    """A team in a second village under the same township."""
    village = create_unit("village", "颜岐村", tree["township"], code="YQ")
    grid = create_unit("grid", "第1网格", village)
    team = create_unit("team", "1-1小队", grid)
    create_household(team)
    return team


def scan(png: bytes) -> str:
    """What a real scanner (zbar) reads from a PNG."""
    found = decode(Image.open(io.BytesIO(png)))
    assert len(found) == 1, found
    return found[0].data.decode()


def test_every_household_gets_a_long_random_token_and_its_hash():
    tree = create_tree(grids=1, teams=1, households=3)
    tokens = [h.qr_token for h in tree["households"]]
    assert len(set(tokens)) == 3
    for h in tree["households"]:
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", h.qr_token)  # 192 bits, URL-safe
        assert h.qr_token_hash == hashlib.sha256(h.qr_token.encode()).hexdigest()


def test_token_lookup_finds_the_household_and_nothing_else():
    tree = create_tree(grids=1, teams=1, households=2)
    h = tree["households"][0]
    assert service.household_for_token(db.session, h.qr_token).id == h.id
    for bad in (
        "",
        "x",
        h.qr_token[:-1],
        h.qr_token + "A",
        h.qr_token.upper(),
        "../../etc",
        "A" * 500,
    ):
        with pytest.raises(service.PlateNotFound) as err:
            service.household_for_token(db.session, bad)
        assert not err.value.replaced


def test_png_decodes_with_zbar_to_the_report_url(client):
    tree = create_tree(grids=1, teams=1, households=1)
    h = tree["households"][0]
    cadre = create_user("cadre", tree["village"])
    res = client.get(f"/api/v1/households/{h.id}/qr.png", headers=api_headers(client, cadre))
    assert res.status_code == 200 and res.mimetype == "image/png"
    assert "no-store" in res.headers["Cache-Control"]
    assert scan(res.data) == f"http://vg.test/h/{h.qr_token}"

    svg = client.get(f"/api/v1/households/{h.id}/qr.svg", headers=api_headers(client, cadre))
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.data.decode().count("<svg") == 1 and h.code in svg.data.decode()


def test_svg_matrix_is_the_same_code_the_png_carries():
    """The print sheet draws the SVG; render its path back to pixels and scan it."""
    url = "http://vg.test/h/" + "A" * 32
    matrix = qrcodes.qr_matrix(url)
    n = len(matrix) + 2 * qrcodes.QR_BORDER
    img = Image.new("L", (n, n), 255)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                img.putpixel((x + qrcodes.QR_BORDER, y + qrcodes.QR_BORDER), 0)
    img = img.resize((n * 8, n * 8), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    assert scan(buf.getvalue()) == url
    svg = qrcodes.qr_svg(url)
    assert svg.startswith("<svg") and f'viewBox="0 0 {n} {n}"' in svg


def test_household_json_has_report_url_for_staff_in_scope(client):
    tree = create_tree(grids=1, teams=1, households=1)
    h = tree["households"][0]
    lead = create_user("team_lead", tree["teams"][0])
    res = client.get(f"/api/v1/households/{h.id}", headers=api_headers(client, lead))
    assert res.get_json()["report_url"] == f"http://vg.test/h/{h.qr_token}"


def test_only_people_who_may_print_the_plate_get_its_url(client):
    """The plate's URL (the key to answering for the household) goes to people who may
    print its plate: in scope, with the print_plates action; nobody else sees it."""
    tree = create_tree(grids=1, teams=2, households=1)
    h = tree["households"][0]
    for role, unit in (("team_lead", tree["teams"][0]), ("station_staff", tree["village"])):
        res = client.get(
            f"/api/v1/households/{h.id}", headers=api_headers(client, create_user(role, unit))
        )
        assert res.get_json()["report_url"] == f"http://vg.test/h/{h.qr_token}", role
    other_lead = create_user("team_lead", tree["teams"][1])
    headers = api_headers(client, other_lead)
    res = client.get(f"/api/v1/households/{h.id}", headers=headers)
    assert res.status_code == 404 and h.qr_token not in res.get_data(as_text=True)
    assert client.get(f"/api/v1/households/{h.id}/qr.png", headers=headers).status_code == 404


def test_the_database_holds_no_plate_token_in_clear(client):
    tree = create_tree(grids=1, teams=2, households=2)
    db.session.commit()
    rows = db.session.execute(select(Household.qr_token_hash, Household.qr_token_sealed)).all()
    for h in tree["households"]:
        assert all(h.qr_token not in (value or "") for row in rows for value in row)
    assert service.plate_household_id(db.session, tree["households"][1].qr_token) == (
        tree["households"][1].id
    )


def test_images_out_of_scope_are_404(client):
    a = create_tree(grids=1, teams=1, households=1, village_code="AA")
    lead_b = create_user("team_lead", other_village_team(a))
    headers = api_headers(client, lead_b)
    for ext in ("png", "svg"):
        res = client.get(f"/api/v1/households/{a['households'][0].id}/qr.{ext}", headers=headers)
        assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found"


def test_rotating_a_plate_stops_the_old_one_politely(client):
    tree = create_tree(grids=1, teams=1, households=2)
    h, other = tree["households"]
    cadre = create_user("cadre", tree["village"])
    old = h.qr_token
    login(client, cadre)
    res = client.post(f"/households/{h.id}/plate/rotate")
    assert res.status_code == 302
    db.session.expire_all()
    fresh = db.session.get(Household, h.id)
    assert fresh.qr_token != old and fresh.qr_rotated_at is not None
    assert db.session.get(Household, other.id).qr_token == other.qr_token  # others untouched
    # Stored without saying whose it was.
    retired = db.session.get(RetiredPlate, hashlib.sha256(old.encode()).hexdigest())
    assert retired is not None and not hasattr(retired, "household_id")

    anon = client.application.test_client()
    gone = anon.get(f"/h/{old}")
    assert gone.status_code == 404
    page = gone.data.decode()
    assert "已更换" in page and h.code not in page and h.head_name not in page
    api = anon.get(f"/api/v1/public/{old}")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "plate_replaced"
    assert anon.get(f"/h/{fresh.qr_token}").status_code == 200

    # A never-issued token gets the plain 404, which says nothing about replacement.
    unknown = anon.get("/h/" + "B" * 32)
    assert unknown.status_code == 404 and "已更换" not in unknown.data.decode()
    assert anon.get("/api/v1/public/" + "B" * 32).get_json()["error"]["code"] == "plate_not_found"


def test_rotating_a_whole_team(client):
    tree = create_tree(grids=1, teams=2, households=2)
    team, other_team = tree["teams"]
    before = {h.id: h.qr_token for h in tree["households"]}
    grid_member = create_user("grid_member", tree["grids"][0])
    login(client, grid_member)
    assert client.post(f"/units/{team.id}/plates/rotate").status_code == 302
    db.session.expire_all()
    for h in db.session.query(Household).all():
        changed = h.qr_token != before[h.id]
        assert changed == (h.team_id == team.id)
    # A grid is not rotated in one go (too easy to void a village's plates by mistake).
    assert client.post(f"/units/{tree['grids'][0].id}/plates/rotate").status_code == 422


def test_team_lead_may_print_but_not_rotate(client):
    tree = create_tree(grids=1, teams=1, households=1)
    h = tree["households"][0]
    lead = create_user("team_lead", tree["teams"][0])
    login(client, lead)
    assert client.get(f"/units/{tree['teams'][0].id}/plates/sheet").status_code == 200
    assert client.post(f"/households/{h.id}/plate/rotate").status_code == 403
    assert client.post(f"/units/{tree['teams'][0].id}/plates/rotate").status_code == 403


def test_print_sheet_has_each_plate_with_code_team_lead_and_instruction(client):
    tree = create_tree(grids=1, teams=2, households=4)
    team = tree["teams"][0]
    create_user("team_lead", team, name="林阿伯", phone="13700001111")
    cadre = create_user("cadre", tree["village"])
    login(client, cadre)
    res = client.get(f"/units/{tree['village'].id}/plates/sheet")
    assert res.status_code == 200
    page = res.data.decode()
    assert page.count('class="plate"') == 8
    assert page.count('class="sheet-page"') == 2  # six a page
    assert page.count("扫码报平安 / 反映问题") == 8
    assert "林阿伯" in page and "13700001111" in page and team.name in page
    for h in tree["households"]:
        assert h.code in page
        assert h.head_name not in page  # a plate hangs outdoors: no names of residents
    assert "@media print" in client.get("/static/qr.css").data.decode()


@requires_poppler
def test_pdf_is_a_pdf_with_one_page_per_six_plates_and_its_font_embedded(client):
    tree = create_tree(grids=1, teams=2, households=7)  # 14 plates -> 3 pages
    cadre = create_user("cadre", tree["village"])
    login(client, cadre)
    res = client.get(f"/units/{tree['village'].id}/plates/sheet.pdf")
    assert res.status_code == 200 and res.mimetype == "application/pdf"
    assert res.data.startswith(b"%PDF-") and res.data.rstrip().endswith(b"%%EOF")
    assert pdf_pages(res.data) == 3
    fonts = pdf_fonts(res.data)
    assert fonts and all(f["emb"] for f in fonts), fonts  # reads on any phone, at any print shop
    text = pdf_text(res.data)
    assert text.count("扫码报平安 / 反映问题") == 14
    assert tree["households"][0].code in text and tree["teams"][0].name in text


def test_plates_page_for_a_grid_lists_its_teams(client):
    tree = create_tree(grids=1, teams=2, households=1)
    cadre = create_user("cadre", tree["village"])
    login(client, cadre)
    page = client.get(f"/units/{tree['grids'][0].id}/plates").data.decode()
    for team in tree["teams"]:
        assert team.name in page


def test_household_without_plate_gets_one_on_demand():
    tree = create_tree(grids=1, teams=1)
    h = create_household(tree["teams"][0])
    h.qr_token = None
    db.session.commit()
    assert h.qr_token_hash is None
    token = service.ensure_token(db.session, h)
    db.session.commit()
    assert service.household_for_token(db.session, token).id == h.id


@requires_poppler
def test_printed_pdf_plates_scan(client):
    """Rasterise the PDF as a printer would and scan every plate on the page with zbar."""
    tree = create_tree(grids=1, teams=1, households=3)
    cadre = create_user("cadre", tree["village"])
    login(client, cadre)
    pdf = client.get(f"/units/{tree['teams'][0].id}/plates/sheet.pdf").data
    (page,) = pdf_images(pdf)
    found = {d.data.decode() for d in decode(page)}
    assert found == {f"http://vg.test/h/{h.qr_token}" for h in tree["households"]}
