"""An import larger than a village runs as a worker job: the request answers at once
with the job's page; the worker checks every row (progress on the page), then imports
all or nothing; the page shows what was made or every bad row."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from tests.factories import api_headers, create_tree, create_user, login
from tests.test_import_people import csv_bytes, line
from village_grid.extensions import db
from village_grid.hierarchy.registry.queued import run_queued, waiting
from village_grid.models import Household, ImportJob


@pytest.fixture
def small_village_limit(app, monkeypatch):
    """Files of more than 2 rows go to the worker (a worker is configured)."""
    monkeypatch.setitem(app.config, "JOBS_QUEUE", "sqlite")
    monkeypatch.setitem(app.config, "IMPORT_INLINE_ROWS", 2)


def upload(client, data: bytes):
    return client.post(
        "/registry/import-export",
        data={"file": (io.BytesIO(data), "roster.csv")},
        content_type="multipart/form-data",
    )


def test_a_large_file_goes_to_the_worker_and_its_page_shows_progress_then_the_result(
    client, small_village_limit
):
    tree = create_tree(grids=0, teams=0)
    cadre = create_user("cadre", tree["village"])
    login(client, cadre)
    rows = [line(head=f"户{i}") for i in range(5)]
    res = upload(client, csv_bytes(rows))
    assert res.status_code == 302 and "/registry/imports/" in res.headers["Location"]
    job_page = res.headers["Location"]
    assert db.session.scalar(select(func.count(Household.id))) == 0  # nothing in the request
    html = client.get(job_page).get_data(as_text=True)
    assert "等待" in html and 'http-equiv="refresh"' in html
    job_id = waiting(db.session)[0]
    seen = []

    # the worker's run: its progress is committed as it goes (a page would see it)
    assert run_queued(db.session, job_id) == "done"
    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    assert job.rows_checked == 5 and job.data is None
    assert job.result["households_created"] == 5 and job.result["people_created"] == 2
    html = client.get(job_page).get_data(as_text=True)
    assert "已导入 5 户" in html and 'http-equiv="refresh"' not in html
    assert run_queued(db.session, job_id) is None  # a second worker finds it taken
    assert not seen


def test_a_bad_file_in_the_worker_lists_every_bad_row_and_changes_nothing(
    client, small_village_limit
):
    tree = create_tree(grids=0, teams=0)
    cadre = create_user("cadre", tree["village"])
    login(client, cadre)
    rows = [line(head="户1"), line(head="户2", lead_phone="123"), line(head="户3", gm_phone="1")]
    res = upload(client, csv_bytes(rows))
    job_id = waiting(db.session)[0]
    assert run_queued(db.session, job_id) == "rejected"
    html = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "<td>3</td>" in html and "<td>4</td>" in html
    assert db.session.scalar(select(func.count(Household.id))) == 0
    # another person's job is not theirs to see
    other = client.application.test_client()
    login(other, create_user("cadre", tree["village"]))
    assert other.get(res.headers["Location"]).status_code == 404


def test_the_api_answers_202_with_the_job_and_then_its_result(client, small_village_limit):
    tree = create_tree(grids=0, teams=0)
    cadre = create_user("cadre", tree["village"])
    headers = api_headers(client, cadre)
    res = client.post(
        "/api/v1/import",
        data={"file": (io.BytesIO(csv_bytes([line(head=f"户{i}") for i in range(3)])), "r.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert res.status_code == 202, res.get_json()
    body = res.get_json()
    assert body["state"] == "queued" and body["rows_total"] >= 3
    run_queued(db.session, body["job_id"])
    res = client.get(res.headers["Location"], headers=headers)
    assert res.get_json()["state"] == "done"
    assert res.get_json()["result"]["households_created"] == 3
