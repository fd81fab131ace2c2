"""People over JSON: the people list (as on the people page) and one-time sign-in links."""

from __future__ import annotations

from flask import current_app, jsonify
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import EMPTY_BODY, PAGE_QUERY, document, empty_body, page_args
from village_grid.audit.service import iso_time
from village_grid.auth import queries, signin
from village_grid.auth.forms import people_filter
from village_grid.auth.guards import login_required
from village_grid.auth.schemas import PEOPLE_OUT, SIGN_IN_LINK_OUT
from village_grid.edge import ID
from village_grid.errors import OutOfScope
from village_grid.extensions import db
from village_grid.models import ROLES, User


def person_json(user: User) -> dict:
    return {
        "id": user.id,
        "name": user.name,
        "username": user.username,
        "phone": user.phone,
        "has_password": user.has_password,
        "available": user.available,
        "last_sign_in_at": iso_time(user.last_sign_in_at),
        "roles": [
            {
                "role": ra.role,
                "unit_id": ra.unit_id,
                "unit_name": ra.unit.name if ra.unit is not None else None,
            }
            for ra in user.roles
        ],
    }


@bp.route("/users")
@login_required
@document(
    "People holding a role in your area (the people page's list), a page at a time",
    responses={"200": ("One page of people, by name", PEOPLE_OUT)},
    tags=["people"],
    query={
        "q": {"type": "string", "maxLength": 50},
        "unit_id": ID,
        "role": {"type": "string", "enum": list(ROLES)},
        "never_signed_in": {"type": "integer", "enum": [0, 1]},
        "no_phone": {"type": "integer", "enum": [0, 1]},
        **PAGE_QUERY,
    },
)
def users():
    if not queries.sees_people(current_user):
        raise OutOfScope(_("Not found."))
    f = people_filter(db.session, current_user)
    limit, offset = page_args()
    rows, total = queries.people_page(db.session, current_user, f, limit=limit, offset=offset)
    return jsonify(
        {"users": [person_json(u) for u in rows], "total": total, "limit": limit, "offset": offset}
    )


@bp.route("/users/<id:user_id>/sign-in-link", methods=["POST"])
@login_required
@document(
    "Make a one-time sign-in link for a team lead or grid member in your area",
    body=EMPTY_BODY,
    responses={
        "201": ("The link and its short code: shown once, never stored", SIGN_IN_LINK_OUT),
        "404": "No such person in your area",
        "409": "signs_in_with_password: a cadre, station staff or administrator",
    },
    tags=["people"],
)
def sign_in_link(user_id: int):
    empty_body()
    config = current_app.config
    issued = signin.make_link(
        db.session,
        current_user,
        user_id,
        secret_key=config["SECRET_KEY"],
        days=config["SIGN_IN_LINK_DAYS"],
    )
    db.session.commit()
    response = jsonify(
        {
            "user_id": issued.person.id,
            "url": config["BASE_URL"] + issued.path,
            "code": issued.code_display,
            "expires_at": iso_time(issued.row.expires_at),
        }
    )
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response
