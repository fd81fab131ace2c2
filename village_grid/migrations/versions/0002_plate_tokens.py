"""plate tokens: hash index for the door-plate lookup, retired plates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 17:10:00

"""
import hashlib

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qr_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(op.f('uq_households_qr_token_hash'), ['qr_token_hash'])
    op.create_table(
        'retired_plates',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('retired_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_retired_plates')),
    )
    # Backfill the hash of every plate already issued.
    conn = op.get_bind()
    households = sa.table(
        'households', sa.column('id', sa.Integer), sa.column('qr_token', sa.String),
        sa.column('qr_token_hash', sa.String),
    )
    rows = conn.execute(
        sa.select(households.c.id, households.c.qr_token).where(households.c.qr_token.is_not(None))
    ).all()
    for hid, token in rows:
        conn.execute(
            households.update().where(households.c.id == hid).values(
                qr_token_hash=hashlib.sha256(token.encode()).hexdigest()
            )
        )


def downgrade():
    op.drop_table('retired_plates')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_households_qr_token_hash'), type_='unique')
        batch_op.drop_column('qr_token_hash')
