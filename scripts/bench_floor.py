"""The floor for the door-plate load test: the least a Flask endpoint must do to
take a household's answer, one answer per commit. SQLite only.

It reads the plate's open task, its assignment and whether an overdue case is
open in one query, and in one transaction — queued on the app's writers' lock
file, as the app's writers are — inserts the status event, updates the
assignment unless a newer status is there, closes an open overdue case, and
commits before the 201 goes out. Plain ``sqlite3`` on one connection per
thread with the app's pragmas: no SQLAlchemy, locale, session, CSRF, login,
schema validation, limits or error shapes. Whatever this reaches on a machine
is what any Flask endpoint that commits each answer before answering can reach
there; ``scripts/bench`` prints the app's figure as a share of it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading

from flask import Flask, jsonify, request

from village_grid.database.writers import lock_path
from village_grid.models.base import utcnow
from village_grid.models.qr import plate_token_hash

app = Flask(__name__)
DATABASE = os.environ["FLOOR_DATABASE"]
# FULL like the app (every commit on disk before the 201); the bench also runs it
# with NORMAL to show what that durability costs.
SYNCHRONOUS = os.environ.get("FLOOR_SYNCHRONOUS", "FULL")
_lock = os.open(lock_path(DATABASE), os.O_RDWR | os.O_CREAT, 0o600)
_local = threading.local()

READ = """
SELECT h.id, a.id, a.household_id,
       EXISTS (SELECT 1 FROM escalations e WHERE e.assignment_id = a.id
               AND e.reason = 'overdue' AND e.status != 'resolved')
FROM households h
JOIN assignments a ON a.household_id = h.id
JOIN tasks t ON t.id = a.task_id
WHERE h.qr_token_hash = ? AND a.task_id = ? AND t.closed_at IS NULL
"""
INSERT_EVENT = """
INSERT INTO status_events (task_id, assignment_id, household_id, status, help_kind, note,
    answers, via, actor_id, client_op_id, client_time, client_addr, created_at)
VALUES (?, ?, ?, ?, '', ?, NULL, 'household_qr', NULL, NULL, NULL, ?, ?)
"""
UPDATE_ASSIGNMENT = """
UPDATE assignments SET status = ?, help_kind = '', note = ?, updated_at = ?,
    updated_via = 'household_qr', updated_by_id = NULL
WHERE id = ? AND (updated_at IS NULL OR updated_at <= ?)
"""
RESOLVE_OVERDUE = """
UPDATE escalations SET status = 'resolved', resolved_at = ?, next_escalation_at = NULL,
    resolution_note = 'reached'
WHERE assignment_id = ? AND reason = 'overdue' AND status != 'resolved'
"""


def _connection() -> sqlite3.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = sqlite3.connect(DATABASE, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", f"synchronous={SYNCHRONOUS}", "busy_timeout=30000"):
            connection.execute(f"PRAGMA {pragma}")
        _local.connection = connection
    return connection


@app.post("/api/v1/public/<token>/reports")
def report(token: str):
    data = json.loads(request.get_data())
    task_id, status, note = data["task_id"], data["status"], data.get("note", "")
    cursor = _connection().cursor()
    row = cursor.execute(READ, (plate_token_hash(token), task_id)).fetchone()
    if row is None:
        return jsonify({"error": "not_found"}), 404
    _household, assignment_id, household_id, overdue_open = row
    fcntl.flock(_lock, fcntl.LOCK_EX)
    try:
        now = str(utcnow())
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute(
            INSERT_EVENT,
            (task_id, assignment_id, household_id, status, note, request.remote_addr or "", now),
        )
        cursor.execute(UPDATE_ASSIGNMENT, (status, note, now, assignment_id, now))
        if overdue_open:
            cursor.execute(RESOLVE_OVERDUE, (now, assignment_id))
        cursor.execute("COMMIT")
    finally:
        fcntl.flock(_lock, fcntl.LOCK_UN)
    response = jsonify({"task_id": task_id, "status": status, "received_at": now})
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response
