"""A grid's sign-in sheet (on the auth blueprint): one card per team lead and grid
member with their QR code, name, team and short code, for the grid member to cut up
and hand out at a village meeting. Printing makes new links (``auth/signin.py``): each
replaces the person's earlier unused one, so a lost slip stops working."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.auth import queries, scope, signin
from village_grid.auth.blueprint import bp
from village_grid.auth.guards import login_required
from village_grid.auth.labels import CARDS_PER_PAGE, ROLE_LABELS
from village_grid.extensions import db
from village_grid.pdf import render_pdf
from village_grid.qrcodes import qr_data_url, qr_svg


def _grid(unit_id: int):
    grid = scope.require_unit(db.session, current_user, unit_id, "sign_in_links")
    if grid.kind != "grid":
        abort(404)
    return grid


@bp.route("/units/<id:unit_id>/sign-in-sheet", methods=["GET", "POST"])
@login_required
def sign_in_sheet(unit_id: int):
    """GET: the grid's leads and members, and whom the sheet is for. POST: new links for
    them, printed on cards (shown once: the page is not kept), as a page to print or
    (``fmt=pdf``) a PDF through the product's one PDF path (``village_grid/pdf.py``)."""
    grid = _grid(unit_id)
    people = queries.grid_people(db.session, grid)
    if request.method == "GET":
        return render_template(
            "auth/sheet_choose.html",
            grid=grid,
            people=people,
            by_link=scope.signs_in_by_link,
            role_labels=ROLE_LABELS,
        )
    everyone = request.form.get("who") == "all"
    chosen, seen = [], set()
    for person, _role, _unit in people:
        if person.id in seen or (not everyone and person.last_sign_in_at is not None):
            continue
        seen.add(person.id)
        chosen.append(person)
    config = current_app.config
    issued = signin.make_links(
        db.session,
        current_user,
        chosen,
        secret_key=config["SECRET_KEY"],
        days=config["SIGN_IN_LINK_DAYS"],
    )
    db.session.commit()
    by_person = {i.person.id: i for i in issued}
    cards = []
    for person, role, unit in people:
        link = by_person.pop(person.id, None)
        if link is None:
            continue
        cards.append(
            {
                "name": person.display_name,
                "role": ROLE_LABELS[role],
                "unit": unit.name if unit.id != grid.id else "",
                "url": config["BASE_URL"] + link.path,
                "code": link.code_display,
                "until": link.row.expires_at,
            }
        )
    pages = [cards[i : i + CARDS_PER_PAGE] for i in range(0, len(cards), CARDS_PER_PAGE)]
    code_url = config["BASE_URL"] + url_for("auth.sign_in_code")
    if request.form.get("fmt") == "pdf":
        title = _("Sign-in sheet: %(grid)s", grid=grid.name)
        html = render_template(
            "auth/sheet_pdf.html", title=title, pages=pages, qr_src=qr_data_url, code_url=code_url
        )
        response = Response(render_pdf(html, title=title), mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="sign-in-{grid.id}.pdf"'
        response.headers["Cache-Control"] = "no-store"
        return response
    response = make_response(
        render_template(
            "auth/sheet.html",
            grid=grid,
            pages=pages,
            total=len(cards),
            qr_svg=qr_svg,
            code_url=code_url,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response
