"""The team lead in the field (reserved for the field issue)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
