"""plate tokens at rest: sealed under the data key, only their hash searchable

Every plate keeps working (a scan looks up the hash, which is unchanged); the
token itself, needed to print the plate again, is sealed under the data key
(ID_NUMBER_KEY or instance/id_key, as the station's ID numbers) and the clear
column is dropped. Upgrading needs that key (scripts/run writes it before it
upgrades); downgrading needs it to write the clear tokens back.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 02:00:00

"""
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

from village_grid.models.households import seal_plate_token, unseal_plate_token

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BATCH = 2000


def _households(*columns):
    return sa.table('households', sa.column('id', sa.Integer), *columns)


def _copy(source: str, target: str, convert) -> None:
    """Fill ``target`` from ``source`` for every household that has a plate."""
    conn = op.get_bind()
    table = _households(sa.column(source, sa.String), sa.column(target, sa.String))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(table.c.id, table.c[source])
            .where(table.c[source].is_not(None), table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            table.update().where(table.c.id == sa.bindparam('b_id')).values(
                {target: sa.bindparam('b_value')}
            ),
            [{'b_id': hid, 'b_value': convert(value)} for hid, value in rows],
        )
        last = rows[-1][0]


@contextmanager
def _rebuilding_households():
    """SQLite drops a unique column by rebuilding the table (Alembic's batch mode); with
    foreign keys on, dropping the old table fails once members and others point at it.
    They are off for the rebuild (set outside a transaction, where SQLite takes the
    pragma) and every reference is checked before they come back on."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        with op.get_context().autocommit_block():
            op.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        if sqlite:
            broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"rebuilding households broke references: {broken[:5]}")
    finally:
        if sqlite:
            with op.get_context().autocommit_block():
                op.execute("PRAGMA foreign_keys=ON")


def upgrade():
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qr_token_sealed', sa.String(length=255), nullable=True))
    _copy('qr_token', 'qr_token_sealed', seal_plate_token)
    with _rebuilding_households(), op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_households_qr_token'), type_='unique')
        batch_op.drop_column('qr_token')


def downgrade():
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qr_token', sa.String(length=64), nullable=True))
    _copy('qr_token_sealed', 'qr_token', unseal_plate_token)
    with _rebuilding_households(), op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_unique_constraint(op.f('uq_households_qr_token'), ['qr_token'])
        batch_op.drop_column('qr_token_sealed')
