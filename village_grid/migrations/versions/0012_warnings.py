"""Official warnings: units carry their administrative division code; tasks may be
drafts (made from a warning, sent by a person); warnings and the drafts they made

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLEs, no batch copy (a copy would drop the tables' cascading children).
    op.add_column(
        "units", sa.Column("division_code", sa.String(12), nullable=False, server_default="")
    )
    op.create_index("ix_units_division_code", "units", ["division_code"])
    op.add_column(
        "tasks", sa.Column("draft", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "warnings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("identifier", sa.String(255), nullable=False, unique=True),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("sent", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("msg_type", sa.String(12), nullable=False),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(12), nullable=False),
        sa.Column("urgency", sa.String(12), nullable=False),
        sa.Column("certainty", sa.String(12), nullable=False),
        sa.Column("headline", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("onset", sa.DateTime(), nullable=True),
        sa.Column("expires", sa.DateTime(), nullable=True),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("received_via", sa.String(10), nullable=False),
        sa.Column(
            "received_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("source_url", sa.String(500), nullable=False),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("superseded_by_id", sa.Integer(), sa.ForeignKey("warnings.id"), nullable=True),
    )
    op.create_index("ix_warnings_received_at", "warnings", ["received_at"])
    op.create_index("ix_warnings_source_url", "warnings", ["source_url"])
    op.create_table(
        "warning_drafts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "warning_id",
            sa.Integer(),
            sa.ForeignKey("warnings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "task_id", sa.Integer(), sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(12), nullable=False),
        sa.Column("autosend_at", sa.DateTime(), nullable=True),
        sa.Column("held_at", sa.DateTime(), nullable=True),
        sa.Column(
            "held_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.UniqueConstraint("warning_id", "task_id", name="uq_warning_drafts_warning_task"),
    )
    op.create_index("ix_warning_drafts_task_id", "warning_drafts", ["task_id"])
    op.create_index("ix_warning_drafts_unit_id", "warning_drafts", ["unit_id"])


def downgrade():
    op.drop_table("warning_drafts")
    op.drop_table("warnings")
    # Drafts never sent stay, closed (no row is lost; nobody was told of them).
    op.execute("UPDATE tasks SET closed_at = created_at WHERE draft AND closed_at IS NULL")
    op.drop_column("tasks", "draft")
    op.drop_index("ix_units_division_code", "units")
    op.drop_column("units", "division_code")
