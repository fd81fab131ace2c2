"""The migrant-worker station (reserved for the station issue)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

"""

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
