"""Changing a unit already in the tree: its name and its division code.

Its code (the short one in household codes) and its place do not change here:
household codes and door plates were printed from them.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.audit.service import changes, record
from village_grid.auth import scope
from village_grid.errors import Conflict, InvalidInput
from village_grid.hierarchy import divisions, ordering
from village_grid.models import Unit, User
from village_grid.models.units import bump_tree_version
from village_grid.validation import clean_text

UNSET = object()


def update_unit(
    session: Session,
    actor: User | None,
    unit_id: int,
    *,
    name=UNSET,
    division_code=UNSET,
) -> Unit:
    """Rename a unit or set its division code (``''`` clears it). A code lies inside
    its parent's, and the coded units under it stay inside the new one.
    Raises InvalidInput, OutOfScope, Conflict (a sibling has the name)."""
    unit = scope.load_unit(session, actor, unit_id, "manage_units")
    before = {"name": unit.name, "division_code": unit.division_code}
    if name is not UNSET:
        new_name = clean_text(name, field="name", max_len=100, required=True, label=_("Name"))
        if new_name != unit.name and session.scalar(
            select(Unit.id).where(
                Unit.parent_id.is_(None)
                if unit.parent_id is None
                else Unit.parent_id == unit.parent_id,
                Unit.name == new_name,
            )
        ):
            raise Conflict(
                _("%(name)s already exists here.", name=new_name),
                fields={"name": "taken"},
                code="duplicate_name",
            )
        unit.name = new_name
        ordering.resort_subtree(
            session, unit, unit.parent.sort_path if unit.parent is not None else None
        )
    if division_code is not UNSET:
        parent = unit.parent
        code = divisions.clean(
            division_code, parent_code=parent.division_code if parent is not None else ""
        )
        if code and code != unit.division_code:
            below = session.scalars(
                select(Unit.division_code).where(
                    scope.subtree_clause(Unit.path, unit.path),
                    Unit.id != unit.id,
                    Unit.division_code != "",
                )
            ).all()
            outside = sorted({c for c in below if not divisions.inside(c, code)})
            if outside:
                raise InvalidInput(
                    _(
                        "Units under this one have codes outside %(c)s: %(o)s.",
                        c=code,
                        o=", ".join(outside[:5]),
                    ),
                    fields={"division_code": "children_outside"},
                )
        unit.division_code = code
    old, new = changes(before, {"name": unit.name, "division_code": unit.division_code})
    if new:
        session.flush()
        bump_tree_version(session)
        record(
            session,
            actor,
            "unit.update",
            object_type="unit",
            object_id=unit.id,
            unit_path=unit.path,
            before=old,
            after=new,
        )
    return unit
