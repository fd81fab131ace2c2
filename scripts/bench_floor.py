"""The floor for the report-endpoint load test: the same SQLite writes behind a minimal Flask app.

A door-plate answer here does what the app's does to the database and nothing
else: it reads the plate's open task with the app's own compiled statement,
and the thread that finds no write under way writes every answer waiting (an
event with ``RETURNING id`` each, then the assignments' latest status) in one
transaction on one connection per process, queued on the app's writers' lock
file, committed before the answer is sent. No locale, session, CSRF, login,
schema validation, limits or error shapes. Whatever this reaches on a machine
is what any Flask endpoint that commits each answer before its 201 can reach
there; ``scripts/bench`` prints it beside the app's figure. SQLite only.
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import sqlite3
import threading

from flask import Flask, jsonify, request
from sqlalchemy.dialects import sqlite

from village_grid.models.base import utcnow
from village_grid.models.qr import plate_token_hash
from village_grid.qr.service import _PLATE_OPEN_TASK
from village_grid.rawsql import prepared
from village_grid.sqlite_writers import lock_path
from village_grid.tasks.answers import _EVENT_KEYS, _INSERT_EVENT_ID, _UPDATE_IF_LATEST

app = Flask(__name__)
DATABASE = os.environ["FLOOR_DATABASE"]
_dialect = sqlite.dialect()
_plate = prepared(_PLATE_OPEN_TASK, _dialect)
_insert = prepared(_INSERT_EVENT_ID, _dialect, _EVENT_KEYS)
_update = prepared(_UPDATE_IF_LATEST, _dialect)

_connection = sqlite3.connect(DATABASE, isolation_level=None, check_same_thread=False)
for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
    _connection.execute(f"PRAGMA {pragma}")
_lock = os.open(lock_path(DATABASE), os.O_RDWR | os.O_CREAT, 0o600)
_cv = threading.Condition()
_waiting: list[dict] = []
_writing = False


def _write_group(group: list[dict]) -> None:
    cursor = _connection.cursor()
    rows = []
    for answer in group:
        row = cursor.execute(
            _plate.sql,
            _plate.parameters(
                {"digest": plate_token_hash(answer["token"]), "task_id": answer["task_id"]}
            ),
        ).fetchone()
        cursor.fetchall()
        if row is not None and hmac.compare_digest(row[0].encode(), answer["token"].encode()):
            rows.append((answer, row))
    if not rows:
        return
    fcntl.flock(_lock, fcntl.LOCK_EX)
    try:
        cursor.execute("BEGIN IMMEDIATE")
        updates = []
        for answer, row in rows:
            now = utcnow()
            event = {
                "task_id": row[1], "assignment_id": row[5], "household_id": row[6],
                "status": answer["status"], "help_kind": "", "note": answer["note"],
                "answers": None, "via": "household_qr", "actor_id": None, "client_op_id": None,
                "client_time": None, "client_addr": answer["addr"], "created_at": now,
            }  # fmt: skip
            cursor.execute(_insert.sql, _insert.parameters(event))
            cursor.fetchall()
            updates.append(
                _update.parameters(
                    {
                        "b_id": row[5],
                        "b_status": answer["status"],
                        "b_help_kind": "",
                        "b_note": answer["note"],
                        "b_answers": None,
                        "b_updated_at": now,
                        "b_updated_via": "household_qr",
                        "b_updated_by_id": None,
                    }  # fmt: skip
                )
            )
            answer["receipt"] = (row[1], answer["status"], now)
        cursor.executemany(_update.sql, updates)
        cursor.execute("COMMIT")
    finally:
        fcntl.flock(_lock, fcntl.LOCK_UN)


def _write(answer: dict) -> tuple | None:
    global _writing
    with _cv:
        _waiting.append(answer)
        while _writing and "done" not in answer:
            _cv.wait()
        lead = "done" not in answer
        if lead:
            group, _waiting[:] = list(_waiting), []
            _writing = True
    if lead:
        try:
            _write_group(group)
        finally:
            with _cv:
                _writing = False
                for waiting in group:
                    waiting["done"] = True
                _cv.notify_all()
    return answer.get("receipt")


@app.post("/api/v1/public/<token>/reports")
def report(token: str):
    data = json.loads(request.get_data())
    receipt = _write(
        {
            "token": token,
            "task_id": data["task_id"],
            "status": data["status"],
            "note": data.get("note", ""),
            "addr": request.remote_addr or "",
        }
    )
    if receipt is None:
        return jsonify({"error": "not_found"}), 404
    task_id, status, created_at = receipt
    response = jsonify(
        {"task_id": task_id, "status": status, "received_at": created_at.isoformat() + "Z"}
    )
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response
