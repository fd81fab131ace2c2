"""Door-plate images for staff: the QR of one household as PNG or SVG."""

from __future__ import annotations

from flask import Response
from flask_login import current_user

from village_grid import qrcodes
from village_grid.api.routes import bp
from village_grid.api.validation import document
from village_grid.auth.guards import login_required
from village_grid.extensions import db
from village_grid.qr import service


def _plate_url(household_id: int) -> tuple[str, str]:
    household = service.household_with_plate(db.session, current_user, household_id)
    return service.report_url(household), household.code


def _image(body, mimetype: str, code: str, ext: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="plate-{code}.{ext}"'
    # The image carries the token: never keep it in a shared cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/households/<id:household_id>/qr.png")
@login_required
@document(
    "The household's door-plate QR code as PNG (encodes BASE_URL/h/<token>)",
    responses={
        "200": ("The door plate's QR code", {"type": "string"}, "image/png"),
        "404": "No such household in your scope",
    },
    tags=["qr"],
)
def household_qr_png(household_id: int):
    url, code = _plate_url(household_id)
    return _image(qrcodes.qr_png(url), "image/png", code, "png")


@bp.route("/households/<id:household_id>/qr.svg")
@login_required
@document(
    "The household's door-plate QR code as SVG",
    responses={
        "200": ("The door plate's QR code", {"type": "string"}, "image/svg+xml"),
        "404": "No such household in your scope",
    },
    tags=["qr"],
)
def household_qr_svg(household_id: int):
    url, code = _plate_url(household_id)
    svg = '<?xml version="1.0" encoding="UTF-8"?>\n' + qrcodes.qr_svg(url, title=code)
    return _image(svg, "image/svg+xml", code, "svg")
