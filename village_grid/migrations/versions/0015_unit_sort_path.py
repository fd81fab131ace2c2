"""units.sort_path: the natural order down the tree (第2网格 before 第10网格)

Every unit gets its key from its name and its ancestors' (``hierarchy/ordering.py``),
filled here level by level for the units already there; lists order by it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 04:30:00

"""

import sqlalchemy as sa
from alembic import op

from village_grid.hierarchy.ordering import sort_path

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade():
    # Plain ALTER TABLE on both engines (SQLite adds and drops a column in place; a
    # batch rebuild of units would trip the foreign keys pointing at it).
    op.add_column(
        "units",
        sa.Column(
            "sort_path",
            sa.String(length=1000).with_variant(
                sa.String(length=1000, collation="C"), "postgresql"
            ),
            nullable=False,
            server_default="",
        ),
    )
    conn = op.get_bind()
    units = sa.table(
        "units",
        sa.column("id", sa.Integer),
        sa.column("parent_id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("depth", sa.Integer),
        sa.column("sort_path", sa.String),
    )
    keys: dict[int, str] = {}
    rows = conn.execute(
        sa.select(units.c.id, units.c.parent_id, units.c.name).order_by(units.c.depth, units.c.id)
    ).all()
    for uid, parent_id, name in rows:
        keys[uid] = sort_path(keys.get(parent_id), name, uid)
    changes = [{"b_id": uid, "b_key": key} for uid, key in keys.items()]
    statement = (
        units.update()
        .where(units.c.id == sa.bindparam("b_id"))
        .values(sort_path=sa.bindparam("b_key"))
    )
    for start in range(0, len(changes), BATCH):
        conn.execute(statement, changes[start : start + BATCH])
    op.create_index(op.f("ix_units_sort_path"), "units", ["sort_path"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_units_sort_path"), table_name="units")
    op.drop_column("units", "sort_path")
