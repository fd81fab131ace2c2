"""The migrant-worker station: newcomers (ID numbers encrypted, a keyed hash for
duplicates), their placements in households, job referrals, trainings and
attendance, and the station's broadcasts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="SET NULL"
    )


def upgrade():
    op.create_table(
        "newcomers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("id_type", sa.String(length=20), nullable=False),
        sa.Column("id_cipher", sa.Text(), nullable=True),
        sa.Column("id_lookup", sa.String(length=64), nullable=True),
        sa.Column("id_key", sa.String(length=16), nullable=False),
        sa.Column("id_mask", sa.String(length=40), nullable=False),
        sa.Column("id_last4", sa.String(length=4), nullable=False),
        sa.Column("id_erased_at", sa.DateTime(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("home_province", sa.String(length=20), nullable=False),
        sa.Column("home_county", sa.String(length=50), nullable=False),
        sa.Column("arrived_on", sa.Date(), nullable=False),
        sa.Column("skills", sa.String(length=200), nullable=False),
        sa.Column("wants_work", sa.Boolean(), nullable=False),
        sa.Column("employer", sa.String(length=100), nullable=False),
        sa.Column("emergency_name", sa.String(length=50), nullable=False),
        sa.Column("emergency_phone", sa.String(length=20), nullable=False),
        sa.Column("departed_on", sa.Date(), nullable=True),
        sa.Column("departure_reason", sa.String(length=20), nullable=False),
        sa.Column("departure_to", sa.String(length=100), nullable=False),
        sa.Column("past_stays", sa.JSON(), nullable=False),
        sa.Column("registered_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["units.id"], name=op.f("fk_newcomers_village_id_units")
        ),
        _user_fk("newcomers", "registered_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_newcomers")),
        sa.UniqueConstraint("village_id", "id_lookup", name="uq_newcomers_village_lookup"),
    )
    op.create_index("ix_newcomers_village_arrived", "newcomers", ["village_id", "arrived_on"])
    op.create_index("ix_newcomers_village_departed", "newcomers", ["village_id", "departed_on"])
    op.create_index("ix_newcomers_village_last4", "newcomers", ["village_id", "id_last4"])
    op.create_index("ix_newcomers_village_phone", "newcomers", ["village_id", "phone"])

    op.create_table(
        "newcomer_placements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("newcomer_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("placed_by_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["newcomer_id"],
            ["newcomers.id"],
            name=op.f("fk_newcomer_placements_newcomer_id_newcomers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_newcomer_placements_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["units.id"], name=op.f("fk_newcomer_placements_team_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_newcomer_placements_member_id_members"),
            ondelete="SET NULL",
        ),
        _user_fk("newcomer_placements", "placed_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_newcomer_placements")),
    )
    op.create_index(
        "ix_newcomer_placements_newcomer_ended",
        "newcomer_placements",
        ["newcomer_id", "ended_at"],
    )
    op.create_index(
        op.f("ix_newcomer_placements_household_id"), "newcomer_placements", ["household_id"]
    )

    op.create_table(
        "job_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("newcomer_id", sa.Integer(), nullable=False),
        sa.Column("employer", sa.String(length=100), nullable=False),
        sa.Column("position", sa.String(length=100), nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("outcome_on", sa.Date(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["newcomer_id"],
            ["newcomers.id"],
            name=op.f("fk_job_referrals_newcomer_id_newcomers"),
            ondelete="CASCADE",
        ),
        _user_fk("job_referrals", "created_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_referrals")),
    )
    op.create_index(op.f("ix_job_referrals_newcomer_id"), "job_referrals", ["newcomer_id"])
    op.create_index("ix_job_referrals_outcome", "job_referrals", ["outcome"])

    op.create_table(
        "trainings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("place", sa.String(length=100), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["units.id"], name=op.f("fk_trainings_village_id_units")
        ),
        _user_fk("trainings", "created_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trainings")),
    )
    op.create_index("ix_trainings_village_held", "trainings", ["village_id", "held_on"])

    op.create_table(
        "training_attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("training_id", sa.Integer(), nullable=False),
        sa.Column("newcomer_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["training_id"],
            ["trainings.id"],
            name=op.f("fk_training_attendance_training_id_trainings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["newcomer_id"],
            ["newcomers.id"],
            name=op.f("fk_training_attendance_newcomer_id_newcomers"),
            ondelete="CASCADE",
        ),
        _user_fk("training_attendance", "recorded_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_attendance")),
        sa.UniqueConstraint("training_id", "newcomer_id", name="uq_training_attendance_pair"),
    )
    op.create_index(
        op.f("ix_training_attendance_newcomer_id"), "training_attendance", ["newcomer_id"]
    )

    op.create_table(
        "station_broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["units.id"], name=op.f("fk_station_broadcasts_village_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_station_broadcasts_task_id_tasks"),
            ondelete="CASCADE",
        ),
        _user_fk("station_broadcasts", "created_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_broadcasts")),
        sa.UniqueConstraint("task_id", name=op.f("uq_station_broadcasts_task_id")),
    )
    op.create_index(
        "ix_station_broadcasts_village_created", "station_broadcasts", ["village_id", "created_at"]
    )


def downgrade():
    op.drop_table("station_broadcasts")
    op.drop_table("training_attendance")
    op.drop_table("trainings")
    op.drop_table("job_referrals")
    op.drop_table("newcomer_placements")
    op.drop_table("newcomers")
