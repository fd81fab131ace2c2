"""Alembic migrations: from empty to head, down to base, up again, on the test
engine (SQLite, and PostgreSQL when TEST_DATABASE_URL is set); and the models
and the migrations describe the same schema.

The session ``app`` fixture's database stays untouched: SQLite gets its own
file, PostgreSQL its own schema (chosen through ``search_path``).
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, select, text

from tests.conftest import TEST_DATABASE_URL, make_config
from village_grid import create_app
from village_grid.config import normalise_database_url
from village_grid.extensions import db
from village_grid.i18n import PACKAGE_DIR

SCHEMA = "mig_check"


@pytest.fixture
def scratch_app(tmp_path):
    """An app of its own on an empty database (own SQLite file / own PostgreSQL schema)."""
    if TEST_DATABASE_URL:
        admin = create_engine(normalise_database_url(TEST_DATABASE_URL))
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        sep = "&" if "?" in TEST_DATABASE_URL else "?"
        url = f"{TEST_DATABASE_URL}{sep}options=-csearch_path%3D{SCHEMA}"
    else:
        url = f"sqlite:///{tmp_path / 'migrations.db'}"
    scratch = create_app(make_config(tmp_path, DATABASE_URL=url))
    with scratch.app_context():
        yield scratch
        db.session.remove()
        db.engine.dispose()
    if TEST_DATABASE_URL:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


def tables() -> set[str]:
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            assert conn.execute(text("SELECT current_schema()")).scalar() == SCHEMA
        return set(inspect(conn).get_table_names())


def current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    script = ScriptDirectory(str(PACKAGE_DIR / "migrations"))
    heads = script.get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def model_differences() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_upgrade_downgrade_upgrade_from_empty(scratch_app):
    model_tables = set(db.metadata.tables)
    assert tables() == set()

    upgrade()
    assert current_revision() == head_revision()
    assert tables() == model_tables | {"alembic_version"}

    downgrade(revision="base")
    assert current_revision() is None
    assert tables() <= {"alembic_version"}, "downgrade to base leaves tables behind"

    upgrade()
    assert current_revision() == head_revision()
    assert tables() == model_tables | {"alembic_version"}
    # The migrated schema works: a write through the services commits.
    from tests.factories import create_household, create_tree

    tree = create_tree(grids=1, teams=1)
    create_household(tree["teams"][0])


def test_models_and_migrations_agree(scratch_app):
    upgrade()
    diffs = model_differences()
    assert not diffs, (
        "models differ from the migrations; add a revision "
        f"(flask --app village_grid db revision --autogenerate): {diffs}"
    )


def test_every_revision_downgrades_one_step(scratch_app):
    """Each revision's downgrade undoes exactly its upgrade (walked one step at a time)."""
    script = ScriptDirectory(str(PACKAGE_DIR / "migrations"))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for rev in revisions:
        upgrade(revision=rev)
    for rev in reversed(revisions):
        assert current_revision() == rev
        downgrade(revision="-1")
    assert current_revision() is None


def test_team_counts_are_taken_from_the_rows_and_no_row_is_lost(scratch_app):
    """0010: a task's teams count their households from the rows written before it
    (every household had its row then), and are frozen."""
    from datetime import timedelta

    from tests.factories import create_task, create_village
    from village_grid.models import Assignment, TaskTeam
    from village_grid.tasks.membership import freeze_due
    from village_grid.tasks.statuses import record_status

    upgrade()
    tree = create_village(grids=1, teams=2, households=3)
    task = create_task(tree["village"], tree["cadre"], title="防汛排查")
    h1, h2 = tree["households"][:2]
    record_status(db.session, tree["cadre"], task_id=task.id, household_id=h1.id, status="safe")
    record_status(
        db.session, tree["cadre"], task_id=task.id, household_id=h2.id, status="needs_help"
    )
    freeze_due(db.session, task.deadline + timedelta(minutes=1))  # every household has its row
    db.session.commit()
    expected = db.session.execute(
        text(
            "SELECT team_id, pending, safe, needs_help, not_home, unreachable FROM task_teams"
            " ORDER BY team_id"
        )
    ).all()
    rows = db.session.scalar(text("SELECT count(*) FROM assignments"))
    assert rows == 6 and [sum(r[1:]) for r in expected] == [3, 3]
    db.session.remove()

    downgrade(revision="0009")
    upgrade()
    db.session.remove()
    assert db.session.scalar(text("SELECT count(*) FROM assignments")) == rows
    teams = db.session.scalars(select(TaskTeam).order_by(TaskTeam.team_id)).all()
    assert [
        (t.team_id, t.pending, t.safe, t.needs_help, t.not_home, t.unreachable) for t in teams
    ] == [tuple(r) for r in expected]
    assert all(t.frozen for t in teams)
    assert db.session.query(Assignment).count() == rows


def test_plate_tokens_are_sealed_and_every_plate_keeps_working(scratch_app, tmp_path):
    """0014: the clear tokens go; each is sealed under the data key, its hash (what a scan
    looks up) unchanged; a copy of the database holds no plate URL without the key; the
    downgrade writes the clear tokens back."""
    from tests.factories import create_tree
    from village_grid.qr.service import plate_household_id, report_url

    upgrade()
    tree = create_tree(grids=1, teams=2, households=3)
    db.session.commit()
    before = {h.id: h.qr_token for h in tree["households"]}
    db.session.remove()

    downgrade(revision="0012")
    clear = dict(db.session.execute(text("SELECT id, qr_token FROM households")).all())
    assert clear == before  # the downgrade gave every token back in clear
    db.session.remove()

    upgrade()
    db.session.remove()
    columns = {c["name"] for c in inspect(db.engine).get_columns("households")}
    assert "qr_token" not in columns
    stored = db.session.execute(
        text("SELECT id, qr_token_hash, qr_token_sealed FROM households ORDER BY id")
    ).all()
    assert len(stored) == len(before)
    for hid, digest, sealed in stored:
        token = before[hid]
        assert token not in sealed and digest != token
        assert plate_household_id(db.session, token) == hid  # the plate on the door works
        assert report_url(db.session.get(type(tree["households"][0]), hid)).endswith(token)
    # The same rows under another key: no plate URL comes out of them.
    other = create_app(
        make_config(tmp_path / "other", DATABASE_URL=scratch_app.config["DATABASE_URL"])
    )
    other.config["ID_NUMBER_KEY"] = "another-key-" + "x" * 32
    with other.app_context():
        from village_grid.models.households import unseal_plate_token
        from village_grid.vault import KeyProblem

        with pytest.raises(KeyProblem):
            unseal_plate_token(stored[0][2])


def test_sort_paths_are_filled_for_the_units_already_there(scratch_app):
    """0015: every unit made before it gets its place in the natural order."""
    from tests.factories import create_unit
    from village_grid.hierarchy.ordering import sort_path
    from village_grid.models import Unit

    upgrade()
    village = create_unit("village", "侯官村")
    for name in ("第10网格", "第2网格", "第1网格"):
        grid = create_unit("grid", name, village)
        create_unit("team", "10小队", grid)
        create_unit("team", "9小队", grid)
    db.session.remove()
    downgrade(revision="0014")
    upgrade()
    db.session.remove()
    units = db.session.scalars(select(Unit).order_by(Unit.sort_path)).all()
    assert [u.name for u in units] == [
        "侯官村",
        *("第1网格", "9小队", "10小队"),
        *("第2网格", "9小队", "10小队"),
        *("第10网格", "9小队", "10小队"),
    ]
    keys = {u.id: u.sort_path for u in units}
    for u in units:
        assert u.sort_path == sort_path(keys.get(u.parent_id), u.name, u.id)
