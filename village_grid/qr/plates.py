"""Door plates: the QR image for one household (``BASE_URL/h/<token>``, drawn by
``village_grid/qrcodes.py``), and print sheets (HTML and PDF) for a unit."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from village_grid.auth.scope import subtree_clause
from village_grid.models import Household, RoleAssignment, Unit, User
from village_grid.models.households import unseal_plate_token
from village_grid.pdf import render_pdf
from village_grid.qrcodes import qr_data_url

INSTRUCTION = "扫码报平安 / 反映问题"  # printed on every plate in Chinese, whatever the UI language


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
            .order_by(Unit.sort_path)
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
        .order_by(Unit.sort_path, Household.seq)
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
