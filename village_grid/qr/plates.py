"""Door plates: the QR image for one household, and print sheets (HTML and PDF) for a unit.

Every image is made with the ``qrcode`` library from ``BASE_URL/h/<token>``.
The mask pattern is fixed (any of the eight is valid to every scanner) because
choosing the "best" one costs ~7 ms a plate — a 1,300-household village sheet
would take longer than the 10 s it is allowed. Error correction is Q (25 %):
plates live outdoors, in rain and sun.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from functools import lru_cache

import qrcode
import qrcode.constants
from flask import render_template
from markupsafe import Markup
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from village_grid.auth.scope import subtree_clause
from village_grid.models import Household, RoleAssignment, Unit, User
from village_grid.models.households import unseal_plate_token
from village_grid.pdf import render_pdf

QR_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
QR_MASK_PATTERN = 2
QR_BORDER = 4  # the quiet zone scanners need, in modules
INSTRUCTION = "扫码报平安 / 反映问题"  # printed on every plate in Chinese, whatever the UI language


@lru_cache(maxsize=64)
def _version_for_length(length: int) -> int:
    """The smallest QR version that holds ``length`` bytes (all plates of a site share it)."""
    qr = qrcode.QRCode(error_correction=QR_ERROR_CORRECTION, border=0, mask_pattern=QR_MASK_PATTERN)
    qr.add_data("x" * length)
    qr.make(fit=True)
    return qr.version


@lru_cache(maxsize=4096)
def qr_matrix(data: str) -> tuple[tuple[bool, ...], ...]:
    """The QR modules (True = dark) for ``data``, without the quiet zone."""
    qr = qrcode.QRCode(
        version=_version_for_length(len(data.encode("utf-8"))),
        error_correction=QR_ERROR_CORRECTION,
        border=0,
        mask_pattern=QR_MASK_PATTERN,
    )
    qr.add_data(data)
    qr.make(fit=False)
    return tuple(tuple(row) for row in qr.get_matrix())


def _runs(row: tuple[bool, ...]):
    """(start, length) of each run of dark modules in a row."""
    x, n = 0, len(row)
    while x < n:
        if row[x]:
            start = x
            while x < n and row[x]:
                x += 1
            yield start, x - start
        else:
            x += 1


def qr_svg(data: str, *, size: str | None = None, title: str = "") -> str:
    """A compact SVG (one path) of the QR code for ``data``, quiet zone included."""
    matrix = qr_matrix(data)
    n = len(matrix) + 2 * QR_BORDER
    parts = []
    for y, row in enumerate(matrix):
        for x, length in _runs(row):
            parts.append(f"M{x + QR_BORDER} {y + QR_BORDER}h{length}v1h-{length}z")
    dims = f' width="{size}" height="{size}"' if size else ""
    label = f"<title>{Markup.escape(title)}</title>" if title else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}"{dims} '
        f'shape-rendering="crispEdges" role="img">{label}'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path d="{"".join(parts)}" fill="#000"/></svg>'
    )


def qr_png(data: str, *, box_size: int = 10) -> bytes:
    """A PNG of the QR code for ``data`` (``box_size`` pixels a module, quiet zone included)."""
    qr = qrcode.QRCode(
        error_correction=QR_ERROR_CORRECTION,
        border=QR_BORDER,
        box_size=box_size,
        mask_pattern=QR_MASK_PATTERN,
    )
    qr.add_data(data)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    return buf.getvalue()


def qr_data_url(data: str) -> str:
    """The QR code as a ``data:`` PNG of one pixel a module (quiet zone included), for a PDF.

    The sheet scales it up with ``image-rendering: pixelated`` (no smoothing), so the
    modules print as sharp squares; a vector path a plate made the renderer 50 times slower.
    """
    matrix = qr_matrix(data)
    size = len(matrix)
    quiet = (255,) * QR_BORDER
    pixels = [255] * ((size + 2 * QR_BORDER) * QR_BORDER)
    for row in matrix:
        pixels += quiet + tuple(0 if dark else 255 for dark in row) + quiet
    pixels += [255] * ((size + 2 * QR_BORDER) * QR_BORDER)
    image = Image.new("L", (size + 2 * QR_BORDER,) * 2)
    image.putdata(pixels)
    image = image.convert("1")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


# --- print sheets ----------------------------------------------------------------


@dataclass(frozen=True)
class Plate:
    household_id: int
    code: str
    url: str
    team_name: str
    grid_name: str
    lead_name: str
    lead_phone: str


def team_leads(session: Session, team_ids: list[int]) -> dict[int, User]:
    """One team lead per team (an available one first), for the plate's contact line."""
    leads: dict[int, User] = {}
    if not team_ids:
        return leads
    rows = session.execute(
        select(RoleAssignment.unit_id, User)
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.role == "team_lead", RoleAssignment.unit_id.in_(team_ids))
        .where(User.active.is_(True))
        .order_by(RoleAssignment.unit_id, User.available.desc(), RoleAssignment.id)
    ).all()
    for unit_id, user in rows:
        leads.setdefault(unit_id, user)
    return leads


def teams_with_counts(session: Session, unit: Unit, limit: int = 500) -> list[tuple[Unit, int]]:
    """The teams under ``unit`` in tree order, each with its number of households."""
    counts = (
        select(Household.team_id, func.count(Household.id).label("n"))
        .group_by(Household.team_id)
        .subquery()
    )
    return [
        (team, n)
        for team, n in session.execute(
            select(Unit, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.team_id == Unit.id)
            .where(subtree_clause(Unit.path, unit.path), Unit.kind == "team")
            .order_by(Unit.path)
            .limit(limit)
        ).all()
    ]


def plates_for_unit(session: Session, unit: Unit, base_url: str) -> list[Plate]:
    """Every household plate under ``unit`` (a team, grid or village), in tree order.

    The caller has checked the actor's scope on ``unit``. Three queries whatever the size.
    """
    teams = {
        t.id: t
        for t in session.scalars(
            select(Unit).where(subtree_clause(Unit.path, unit.path), Unit.kind == "team")
        )
    }
    parent_ids = {t.parent_id for t in teams.values() if t.parent_id}
    parents = (
        {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(parent_ids)))}
        if parent_ids
        else {}
    )
    households = session.execute(
        select(Household.id, Household.code, Household.qr_token_sealed, Household.team_id)
        .join(Unit, Unit.id == Household.team_id)
        .where(subtree_clause(Unit.path, unit.path), Household.qr_token_sealed.is_not(None))
        .order_by(Unit.path, Household.seq)
    ).all()
    leads = team_leads(session, list(teams))
    plates = []
    for hid, code, sealed, team_id in households:
        team = teams.get(team_id)
        lead = leads.get(team_id)
        parent = parents.get(team.parent_id) if team else None
        plates.append(
            Plate(
                household_id=hid,
                code=code,
                url=f"{base_url}/h/{unseal_plate_token(sealed)}",
                team_name=team.name if team else "",
                grid_name=parent.name if parent else "",
                lead_name=lead.display_name if lead else "",
                lead_phone=(lead.phone or "") if lead else "",
            )
        )
    return plates


# A4 portrait, 2 columns × 3 rows: plates of 9 × 9 cm, big enough to scan from a step away.
PLATES_PER_ROW = 2
ROWS_PER_PAGE = 3
PLATES_PER_PAGE = PLATES_PER_ROW * ROWS_PER_PAGE


def pages(plates: list[Plate], per_page: int = PLATES_PER_PAGE) -> list[list[Plate]]:
    return [plates[i : i + per_page] for i in range(0, len(plates), per_page)]


def sheet_pdf(plates: list[Plate], *, title: str) -> bytes:
    """The print sheet as a PDF: A4, ``PLATES_PER_PAGE`` plates a page, with cut lines.

    Made on the product's one PDF path (``village_grid.pdf``): the QR codes are vector
    SVG, the Chinese is set in the shipped font, embedded as a subset.
    """
    html = render_template(
        "qr/sheet_pdf.html",
        title=title,
        pages=pages(plates),
        qr_src=qr_data_url,
        instruction=INSTRUCTION,
    )
    return render_pdf(html, title=title)
