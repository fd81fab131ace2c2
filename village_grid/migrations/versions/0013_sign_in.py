"""People sign in without a password: one-time sign-in links (hashed), how a login
began, when a person last signed in (filled from their logins so far), and registry
imports run by the worker

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLEs (no batch copy: on SQLite a copy of users would drop it, and
    # its ON DELETE CASCADE children with it).
    op.add_column("users", sa.Column("last_sign_in_at", sa.DateTime(), nullable=True))
    op.create_index("ix_users_last_sign_in_at", "users", ["last_sign_in_at"])
    op.execute(
        "UPDATE users SET last_sign_in_at = "
        "(SELECT max(s.created_at) FROM login_sessions s WHERE s.user_id = users.id)"
    )
    op.add_column(
        "login_sessions",
        sa.Column("via", sa.String(length=10), nullable=False, server_default="password"),
    )
    op.create_table(
        "sign_in_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_addr", sa.String(length=64), nullable=False),
        sa.Column("used_agent", sa.String(length=200), nullable=False),
        sa.Column("voided_at", sa.DateTime(), nullable=True),
        sa.Column("login_session_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["login_session_id"], ["login_sessions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index(
        "ix_sign_in_links_user_created", "sign_in_links", ["user_id", "created_at"]
    )
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_checked", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=True),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_import_jobs_actor_id", "import_jobs", ["actor_id"])


def downgrade():
    op.drop_index("ix_import_jobs_actor_id", table_name="import_jobs")
    op.drop_table("import_jobs")
    op.drop_index("ix_sign_in_links_user_created", table_name="sign_in_links")
    op.drop_table("sign_in_links")
    op.drop_column("login_sessions", "via")
    op.drop_index("ix_users_last_sign_in_at", table_name="users")
    op.drop_column("users", "last_sign_in_at")
