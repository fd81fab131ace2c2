"""Pages for the unit tree and the household registry."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.extensions import db
from village_grid.hierarchy import service

bp = Blueprint("hierarchy", __name__)

# Above this many units the tree page stops at the grids and links onward.
TREE_FULL_LIMIT = 600


@bp.route("/")
@login_required
def home():
    """Where a user lands: a team lead on their team, everyone else on the tree."""
    roots = scope.scope_roots(db.session, current_user)
    if len(roots) == 1 and roots[0].kind == "team":
        return redirect(url_for("hierarchy.unit", unit_id=roots[0].id))
    return redirect(url_for("hierarchy.tree"))


@bp.route("/units")
@login_required
def tree():
    """The tree under the user's scope with household counts per unit."""
    roots = scope.scope_roots(db.session, current_user)
    units = []
    for root in roots:
        part = service.subtree_units(db.session, root)
        if len(part) > TREE_FULL_LIMIT:
            part = service.subtree_units(db.session, root, max_depth=2)
        units.extend(part)
    counts = service.household_counts(db.session, units)
    children: dict[int | None, list] = {}
    ids = {u.id for u in units}
    for u in units:
        key = u.parent_id if u.parent_id in ids else None
        children.setdefault(key, []).append(u)
    return render_template(
        "hierarchy/tree.html", children=children, counts=counts, cap=service.team_max_households()
    )


@bp.route("/units/<int:unit_id>")
@login_required
def unit(unit_id: int):
    unit = scope.require_unit(db.session, current_user, unit_id)
    return render_template("hierarchy/unit.html", unit=unit)
