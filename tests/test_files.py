"""Big files are made by the worker (village_grid/files): a large export answers with
the file's page (progress, then the link) or, over the API, 202 and a URL to poll;
the file is read only within its scope, every download is audited, and files expire.
Every export streams its rows: the registry's output is the very bytes of the old
build-everything-then-sort export."""

from __future__ import annotations

import csv
import io
import os
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tests.factories import api_headers, create_task, create_user, create_village, login
from tests.test_import_export import _registry_for_round_trip
from village_grid.extensions import db
from village_grid.files import service as files
from village_grid.hierarchy.registry import exporting
from village_grid.hierarchy.registry.columns import (
    EXPORT_COLUMNS,
    HOUSEHOLD_COLUMNS,
    LEVEL_KINDS,
    format_flags,
    format_members,
    heading,
)
from village_grid.models import AuditEvent, FileJob, Household, Unit
from village_grid.models.base import utcnow
from village_grid.models.units import TEAM
from village_grid.spreadsheets import spreadsheet_cell


@pytest.fixture
def worker_files(app, monkeypatch, tmp_path):
    """Files of more than 2 households go to the worker (a worker is configured)."""
    monkeypatch.setitem(app.config, "JOBS_QUEUE", "sqlite")
    monkeypatch.setitem(app.config, "FILES_JOB_HOUSEHOLDS", 2)
    monkeypatch.setitem(app.config, "FILES_DIR", str(tmp_path / "files"))
    return tmp_path / "files"


@pytest.fixture
def world():
    """One village, 2 grids × 2 teams × 3 households, a sweep sent by its cadre."""
    w = create_village(grids=2, teams=2, households=3, leads=1, grid_members=2)
    w["task"] = create_task(w["village"], w["cadre"], subkind="flood", title="防汛排查")
    return w


def downloads() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "file.download")))


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_a_large_export_goes_to_the_worker_its_page_shows_progress_then_the_link(
    client, app, world, worker_files, monkeypatch
):
    task = world["task"]
    login(client, world["cadre"])
    # small enough: made in the request, as before (the reference for the worker's file)
    monkeypatch.setitem(app.config, "FILES_JOB_HOUSEHOLDS", 100)
    inline = client.get(f"/tasks/{task.id}/export.csv")
    assert inline.status_code == 200 and inline.headers["Cache-Control"] == "no-store"
    assert len(csv_rows(inline.data)) == 13
    assert len(downloads()) == 1  # a download made in the request is audited too
    monkeypatch.setitem(app.config, "FILES_JOB_HOUSEHOLDS", 2)

    res = client.get(f"/tasks/{task.id}/export.csv")
    assert res.status_code == 302 and "/files/" in res.headers["Location"]
    page = res.headers["Location"]
    job = db.session.scalar(select(FileJob))
    assert (job.state, job.total, job.paths) == ("queued", 12, [world["village"].path])
    assert files.waiting(db.session) == [job.id]
    html = client.get(page).get_data(as_text=True)
    assert "正在生成" in html and ">0</span> %" in html
    assert 'http-equiv="refresh"' in html and "/static/files." in html
    assert "/download" not in html

    job.state, job.done = "making", 6  # what the worker commits as it goes
    db.session.commit()
    assert ">50</span> %" in client.get(page).get_data(as_text=True)
    job.state, job.done = "queued", 0
    db.session.commit()

    assert files.run(db.session, job.id) == "done"
    assert files.run(db.session, job.id) is None  # a second worker finds it taken
    db.session.expire_all()
    job = db.session.get(FileJob, job.id)
    assert job.state == "done" and job.done == 12 and job.expires_at > utcnow()
    assert os.path.isfile(worker_files / job.stored)
    html = client.get(page).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html and f"/files/{job.id}/download" in html
    got = client.get(f"/files/{job.id}/download")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert f"task-{task.id}-" in got.headers["Content-Disposition"]
    assert got.data == inline.data  # the same rows, by the worker
    events = downloads()
    assert len(events) == 2 and events[-1].object_id == job.id
    assert events[-1].actor_id == world["cadre"].id
    assert events[-1].unit_path == world["village"].path
    assert events[-1].after["kind"] == "task_households" and events[-1].after["rows"] == 12


def test_the_api_answers_202_then_the_job_then_the_file(client, app, world, worker_files):
    task = world["task"]
    headers = api_headers(client, world["cadre"])
    res = client.get(f"/api/v1/tasks/{task.id}/export.xlsx", headers=headers)
    assert res.status_code == 202
    poll = res.headers["Location"]
    body = res.get_json()
    assert body["state"] == "queued" and body["download"] is None and body["rows_total"] == 12
    assert client.get(poll, headers=headers).get_json()["percent"] == 0
    files.run(db.session, body["file_id"])
    done = client.get(poll, headers=headers).get_json()
    assert done["state"] == "done" and done["percent"] == 100 and done["expires_at"]
    got = client.get(done["download"], headers=headers)
    assert got.status_code == 200 and got.data[:2] == b"PK"
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(got.data))
    assert book.worksheets[0]["A1"].value == "防汛排查"
    assert book.worksheets[0].max_row == 14  # title, header, 12 households
    assert book.worksheets[1]["A1"].value == "单元"
    assert len(downloads()) == 1
    # the registry too; bad formats are not found
    res = client.get(f"/api/v1/registry/export.csv?unit_id={world['village'].id}", headers=headers)
    assert res.status_code == 202 and res.get_json()["kind"] == "registry"
    assert client.get(f"/api/v1/tasks/{task.id}/export.pdf", headers=headers).status_code == 404
    assert client.get("/api/v1/registry/export.csv?unit_id=x", headers=headers).status_code == 422


def test_a_small_api_export_is_the_file_at_once(client, world):
    headers = api_headers(client, world["cadre"])
    res = client.get(f"/api/v1/tasks/{world['task'].id}/export.csv", headers=headers)
    assert res.status_code == 200 and len(csv_rows(res.data)) == 13


def test_someone_outside_the_files_scope_cannot_see_or_download_it(
    client, app, world, worker_files
):
    login(client, world["cadre"])
    client.get(f"/tasks/{world['task'].id}/export.csv")
    job = db.session.scalar(select(FileJob))
    files.run(db.session, job.id)
    # a grid member of the village sees the task, but the file holds the whole village
    gm = app.test_client()
    login(gm, world["gm"])
    for url in (f"/files/{job.id}", f"/files/{job.id}/download"):
        assert gm.get(url).status_code == 404
    headers = api_headers(app.test_client(), world["gm"])
    api = app.test_client()
    assert api.get(f"/api/v1/files/{job.id}", headers=headers).status_code == 404
    assert api.get(f"/api/v1/files/{job.id}/download", headers=headers).status_code == 404
    assert client.get("/files/999999").status_code == 404
    # another cadre of the village may read it
    other = app.test_client()
    other_cadre = create_user("cadre", world["village"])
    login(other, other_cadre)
    assert other.get(f"/files/{job.id}/download").status_code == 200
    # the grid member's own export holds their grid: the cadre reads it, the other grid's not
    res = gm.get(f"/tasks/{world['task'].id}/export.csv")
    mine = db.session.get(FileJob, int(res.headers["Location"].rsplit("/", 1)[1]))
    assert mine.paths == [world["grids"][0].path] and mine.total == 6
    files.run(db.session, mine.id)
    assert len(csv_rows(gm.get(f"/files/{mine.id}/download").data)) == 7
    assert client.get(f"/files/{mine.id}").status_code == 200
    gm_b = app.test_client()
    login(gm_b, world["gm_b"])
    assert gm_b.get(f"/files/{mine.id}").status_code == 404
    assert [e.actor_id for e in downloads()] == [other_cadre.id, world["gm"].id]


def test_expired_files_are_deleted_and_their_page_says_so(client, app, world, worker_files):
    login(client, world["cadre"])
    client.get(f"/tasks/{world['task'].id}/export.csv")
    client.get(f"/registry/export?fmt=csv&unit_id={world['village'].id}")
    first, second = db.session.scalars(select(FileJob).order_by(FileJob.id)).all()
    files.run(db.session, first.id)
    db.session.expire_all()
    path = worker_files / first.stored
    assert path.is_file()
    assert files.expire(db.session, utcnow()) == 0  # not yet
    later = utcnow() + timedelta(days=app.config["FILES_KEEP_DAYS"], minutes=1)
    assert files.expire(db.session, later) == 1
    db.session.commit()
    assert not path.exists()
    db.session.expire_all()
    assert db.session.get(FileJob, first.id).state == "expired"
    assert db.session.get(FileJob, second.id).state == "failed"  # never made in its time
    assert "已过保存期" in client.get(f"/files/{first.id}").get_data(as_text=True)
    assert client.get(f"/files/{first.id}/download").status_code == 404


def test_the_worker_tick_deletes_expired_files(app, world, worker_files, monkeypatch):
    from village_grid.jobs import work

    job = FileJob(
        actor_id=world["cadre"].id,
        kind="registry",
        fmt="csv",
        params={"unit_id": None},
        paths=[world["village"].path],
        state="done",
        stored="1-old.csv",
        expires_at=utcnow() - timedelta(seconds=1),
    )
    db.session.add(job)
    db.session.commit()
    worker_files.mkdir()
    (worker_files / "1-old.csv").write_bytes(b"x")
    work.tick()
    assert not (worker_files / "1-old.csv").exists()
    db.session.expire_all()
    assert db.session.get(FileJob, job.id).state == "expired"


def test_the_registry_page_export_goes_to_the_worker_when_large(client, world, worker_files):
    login(client, world["cadre"])
    res = client.get("/registry/export?fmt=xlsx")
    assert res.status_code == 302
    job = db.session.scalar(select(FileJob))
    assert job.kind == "registry" and job.paths == [world["village"].path] and job.total == 12
    assert files.run(db.session, job.id) == "done"
    got = client.get(f"/files/{job.id}/download")
    assert got.status_code == 200 and got.data[:2] == b"PK"


# --- streaming gives the old bytes -------------------------------------------------------


def old_registry_csv(session) -> bytes:
    """The registry export as it was built before it streamed: every unit and household
    loaded, every row built, then one sort (the oracle of the streaming export)."""
    in_scope = list(session.scalars(select(Unit)))
    units = {u.id: u for u in in_scope}
    households = list(session.scalars(select(Household).options(selectinload(Household.members))))
    has_below = {u.parent_id for u in in_scope if u.parent_id is not None}
    has_below |= {h.team_id for h in households}
    people = exporting._people(session, [u.id for u in in_scope if u.kind in (TEAM, "grid")])

    def cells(unit):
        return exporting._unit_cells(exporting._unit_chain(units, unit), people)

    def sort_key(unit):
        return unit.sort_path  # the units' natural order (hierarchy/ordering.py)

    rows = []
    for h in households:
        row = cells(units[h.team_id])
        row.update(
            code=h.code,
            door_no=h.door_no or "",
            address=h.address or "",
            head_name=h.head_name,
            phone=h.phone or "",
            latitude="" if h.latitude is None else h.latitude,
            longitude="" if h.longitude is None else h.longitude,
            flags=format_flags(h),
            members=format_members(h.members),
        )
        rows.append((sort_key(units[h.team_id]), h.seq, row))
    for u in in_scope:
        if u.id in has_below or not any(u.kind in k for k in LEVEL_KINDS.values()):
            continue
        row = cells(u)
        row.update({k: "" for k in HOUSEHOLD_COLUMNS})
        rows.append((sort_key(u), 0, row))
    rows.sort(key=lambda r: (r[0], r[1]))
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([heading(k) for k in EXPORT_COLUMNS])
    for _k, _s, row in rows:
        writer.writerow([spreadsheet_cell(row[k]) for k in EXPORT_COLUMNS])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


@pytest.mark.parametrize(
    ("units_per_read", "teams_per_read"), [(1, 1), (4, 3), (7, 500), (500, 500)]
)
def test_the_streaming_registry_export_is_byte_for_byte_the_old_one(
    app, monkeypatch, units_per_read, teams_per_read
):
    _registry_for_round_trip(app)
    monkeypatch.setattr(exporting, "UNITS_PER_READ", units_per_read)
    monkeypatch.setattr(exporting, "TEAMS_PER_READ", teams_per_read)
    new = exporting.export_registry(db.session, None, unit_id=None, fmt="csv")
    assert len(csv_rows(new)) == 1 + 45 + 2  # the header, the households, two empty units
    assert new == old_registry_csv(db.session)


def test_a_file_whose_process_dies_is_failed_not_left_making(
    client, app, world, worker_files, monkeypatch
):
    """The worker makes each big file in a process of its own (jobs/work.in_own_process);
    one killed (out of memory, kill -9) leaves its file failed, and the page says so."""
    import subprocess

    from village_grid.jobs import work

    login(client, world["cadre"])
    page = client.get(f"/tasks/{world['task'].id}/export.csv").headers["Location"]
    job = db.session.scalar(select(FileJob))
    commands = []

    def killed(command, **kw):
        commands.append(command)
        return subprocess.CompletedProcess(command, -9, "", "Killed")

    monkeypatch.setattr(work.subprocess, "run", killed)
    assert work.in_own_process("file", job.id) == "failed"
    assert commands[0][-4:] == ["job", "run", "file", str(job.id)]
    db.session.expire_all()
    assert (job.state, job.message) == ("failed", "process ended") and job.finished_at
    html = client.get(page).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html and "/download" not in html

    # A file already made is left as it is, whatever its process said after.
    job.state, job.message = "done", ""
    db.session.commit()
    assert work.in_own_process("file", job.id) == "failed"
    db.session.expire_all()
    assert job.state == "done"


def test_the_job_command_makes_a_queued_file(app, world, worker_files):
    """What the worker's child process runs: ``village-grid job run file ID``."""
    from village_grid.jobs.cli import run_job

    job = files.ask(
        db.session, world["cadre"], "task_households", "csv", {"task_id": world["task"].id}
    )
    db.session.commit()
    job_id = str(job.id)
    runner = app.test_cli_runner()
    out = runner.invoke(run_job, ["file", job_id])
    assert out.exit_code == 0 and out.output.strip() == "done", out.output
    assert runner.invoke(run_job, ["file", job_id]).output.strip() == "taken"
    assert runner.invoke(run_job, ["file", "0"]).exit_code == 2
    assert runner.invoke(run_job, ["other", "1"]).exit_code == 2
