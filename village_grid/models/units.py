"""The unit tree: township → village → grid → team (other kinds where a place needs them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from village_grid.extensions import db
from village_grid.models.base import PathString, SortPathString, Timestamp, utcnow

# Kinds the product knows by name (a county deployment puts "county" on top).
# The tree's depth is not fixed: any kind may sit between these (e.g. "building" under a grid in Fuqing), but households
# hang only off teams.
UNIT_KINDS = ("county", "township", "village", "grid", "team", "building", "community", "street")
TEAM = "team"
# Kinds that stand at the township level (a street office in a town) and at the
# village level (a community in a town).
TOWNSHIP_KINDS = ("township", "street")
VILLAGE_KINDS = ("village", "community")


class Unit(db.Model):
    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("parent_id", "name", name="uq_units_parent_name"),
        CheckConstraint("length(kind) > 0", name="kind_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # Short code used to build household codes, e.g. "HG" for a village, "03" for a grid.
    code: Mapped[str] = mapped_column(String(20))
    # Administrative division code (GB/T 2260 and its extension to townships and villages):
    # 6 digits for a county, 9 for a township, 12 for a village; empty when not known.
    # Official warnings name their areas by these codes (village_grid/warnings).
    division_code: Mapped[str] = mapped_column(String(12), default="", index=True)
    # "/1/7/42/": ids from the root down, this unit last. Subtree = path prefix.
    path: Mapped[str] = mapped_column(PathString, index=True, default="")
    depth: Mapped[int] = mapped_column(Integer, default=0)
    # The natural order down the tree (第2网格 before 第10网格): every list of units
    # orders by it (``hierarchy/ordering.py`` writes it).
    sort_path: Mapped[str] = mapped_column(SortPathString, index=True, default="")
    # Bumped under the team's row lock whenever a household joins: the write
    # lock that makes the ten-household cap hold under concurrency.
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent", order_by="Unit.sort_path")

    @property
    def is_team(self) -> bool:
        return self.kind == TEAM

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to and including this unit."""
        return [int(p) for p in self.path.strip("/").split("/") if p]

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.kind} {self.name}>"


class TreeState(db.Model):
    """One row holding the tree's version. Every change to units or to which
    team a household is in bumps it, so each worker knows when to rebuild its
    in-memory graph without sharing process state."""

    __tablename__ = "tree_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


def tree_version(session: Session) -> int:
    """The tree's version (0 before the first change)."""
    return session.scalar(select(TreeState.version).where(TreeState.id == 1)) or 0


def bump_tree_version(session: Session) -> None:
    """Tell every worker its cached graph is stale (routing rebuilds on the next request):
    called for every change to units, to which team a household is in, and to roles."""
    updated = session.execute(
        update(TreeState).where(TreeState.id == 1).values(version=TreeState.version + 1)
    )
    if updated.rowcount == 0:
        session.add(TreeState(id=1, version=1))
    session.flush()
