"""Security headers (village_grid/security.py): a Content-Security-Policy with no
inline script, no framing, no sniffing, no Referer from a door plate, HSTS and
a redirect to HTTPS when served over HTTPS."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import make_config
from tests.factories import create_task, create_tree, create_user, login
from village_grid import create_app
from village_grid.extensions import db

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_pages_carry_the_headers(client):
    tree = create_tree(grids=1, teams=1, households=1)
    login(client, create_user("cadre", tree["village"]))
    for url in ("/login", "/units", f"/units/{tree['village'].id}", "/tasks/"):
        res = client.get(url, follow_redirects=True)
        assert res.status_code == 200, url
        csp = res.headers["Content-Security-Policy"]
        assert (
            "script-src 'self'" in csp
            and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        )
        assert "frame-ancestors 'none'" in csp
        assert res.headers["X-Frame-Options"] == "DENY"
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        assert res.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in res.headers  # plain HTTP: no HSTS


def test_pages_are_kept_by_no_cache_and_files_are(client):
    """The login page and a logged-in person's pages are stored by no browser or proxy;
    static files under hashed names are cached for a year."""
    tree = create_tree(grids=1, teams=1, households=1)
    cadre = create_user("cadre", tree["village"])
    task = create_task(tree["village"], cadre)
    db.session.commit()
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    login(client, cadre)
    for url in ("/units", f"/units/{tree['village'].id}", f"/tasks/{task.id}", "/field"):
        res = client.get(url, follow_redirects=True)
        assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store", url
    css = re.search(r"/static/app\.[0-9a-f]{10}\.css", client.get("/units").get_data(True))
    assert "immutable" in client.get(css.group(0)).headers["Cache-Control"]


def test_door_plate_pages_send_no_referer(client):
    tree = create_tree(grids=1, teams=1, households=1)
    token = tree["households"][0].qr_token
    for res in (client.get(f"/h/{token}"), client.get("/h/" + "A" * 32)):
        assert res.headers["Referrer-Policy"] == "no-referrer"
    assert client.get(f"/api/v1/public/{token}").headers["Referrer-Policy"] == "same-origin"


def test_the_door_plate_form_works_over_https_without_a_referer(tmp_path):
    """Its page sends no Referer; over HTTPS the form's own token is what is checked."""
    app = create_app(make_config(tmp_path, WTF_CSRF_ENABLED=True, HTTPS=True))
    client = app.test_client()
    res = client.post(
        "/h/" + "A" * 32 + "/mailbox",
        base_url="https://vg.test",
        data={"category": "other", "text": "路灯坏了"},
    )
    assert res.status_code == 400  # no CSRF token: refused
    assert "Strict-Transport-Security" in res.headers
    plain = client.get("/login", base_url="http://vg.test")
    assert plain.status_code == 302 and plain.headers["Location"].startswith("https://")


def test_no_template_has_an_inline_script_or_handler():
    found = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for m in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=", text):
            found.append(f"{path.relative_to(TEMPLATES)}: {m.group(0)}")
    assert not found, "inline script (move it to static/): " + ", ".join(found)
