"""The one order of units: natural, down the tree.

People count their grids and teams: 第1网格, 第2网格 … 第10网格; 1小队 … 10小队.
Text order puts 第10网格 before 第2网格, and ids (``Unit.path``) put a grid made
later after one made first. So every unit keeps ``sort_path``: the natural key
of each name from the root down, each followed by the unit's id (two names
with the same key, "01" and "1", still have one place each) — the ``path`` of
names. Ordered by it, siblings come in natural order and a subtree stays
together (tree order), in SQL on both engines (byte-wise: collation "C" on
PostgreSQL, as ``path``) and in Python (the cached graph, ``tasks/routing.py``).

Written where units are written: ``hierarchy/service.create_unit``,
``hierarchy/units.update_unit`` (a rename gives its subtree new keys), the
registry import and the demo (bulk rows); migration 0015 filled it for the
units before it.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.models import Unit

# Below every character a key holds: a name sorts before the same name continued
# ("1小队" before "1小队东"), and a unit's subtree before its next sibling.
END = "\x01"
_DIGITS = re.compile(r"\d+")
_CONTROL = re.compile(r"[\x00-\x1f]")


def _number(match: re.Match) -> str:
    """A run of digits as a key that sorts as its number: its length (one character)
    then the digits without leading zeros ("10" → "210" after "9" → "19")."""
    digits = match.group().lstrip("0") or "0"
    return chr(ord("0") + min(len(digits), 9)) + digits


def natural_key(name: str) -> str:
    """``name`` as a key that compares numbers inside it as numbers."""
    return _DIGITS.sub(_number, _CONTROL.sub("", name or ""))


def segment(name: str, unit_id: int) -> str:
    """One unit's part of a ``sort_path``: its name's key and its id."""
    return f"{natural_key(name)}{END}{unit_id:010d}{END}"


def sort_path(parent_sort_path: str | None, name: str, unit_id: int) -> str:
    """The ``sort_path`` of a unit under a parent whose own is ``parent_sort_path``
    (None or "" at a root)."""
    return f"{parent_sort_path or ''}{segment(name, unit_id)}"


def after(key: str):
    """SQL: the units after ``key`` (a ``sort_path``) in the natural order — the next page
    of a walk down the tree, read by keyset (``registry/exporting.py``)."""
    return Unit.sort_path > key


def resort_subtree(session: Session, unit: Unit, parent_sort_path: str | None) -> None:
    """Give ``unit`` the key of its (new) name and every unit under it its new key
    (after a rename): the subtree read once, level by level, and written in one batch."""
    new = sort_path(parent_sort_path, unit.name, unit.id)
    if new == unit.sort_path:
        return
    session.flush()
    keys = {unit.id: new}
    below = session.execute(
        select(Unit.id, Unit.parent_id, Unit.name)
        .where(scope.subtree_clause(Unit.path, unit.path), Unit.id != unit.id)
        .order_by(Unit.depth)
    ).all()
    for uid, parent_id, name in below:
        keys[uid] = sort_path(keys.get(parent_id), name, uid)
    unit.sort_path = new
    session.flush()
    if below:
        session.execute(
            update(Unit),
            [{"id": uid, "sort_path": key} for uid, key in keys.items() if uid != unit.id],
        )
