"""The door plate's JSON API, for the page's own clients and others (a WeChat
mini-program, a test): no login; the plate token in the URL is the only key.

CSRF: these endpoints use no cookie authority — the household is found from
the token in the path, never from a session — so a cross-site request forged
in someone's browser can do nothing that sending it directly could not. They
also take only ``application/json`` bodies (``json_body``), which a cross-site
HTML form cannot produce without a CORS preflight, and we answer no CORS. The
HTML page's own forms carry a Flask-WTF token (see qr/routes.py).
"""

from __future__ import annotations

from flask import jsonify

from village_grid.api.routes import bp
from village_grid.api.validation import document, json_body
from village_grid.auth.guards import public
from village_grid.extensions import db
from village_grid.models.base import iso_z
from village_grid.qr import labels, mailbox, service
from village_grid.qr import public as household_page
from village_grid.qr.limits import client_addr, plate_read, plate_write
from village_grid.qr.schemas import (
    PUBLIC_HOUSEHOLD_OUT,
    PUBLIC_MAILBOX,
    PUBLIC_MESSAGE_OUT,
    PUBLIC_MESSAGES_OUT,
    PUBLIC_REPORT,
    PUBLIC_REPORTED_OUT,
)

# An answer is checked against its task: no schema can say which answers a task offers.
ANSWER_CHECKED = (
    "invalid_input: fields name what is wrong; also status not_allowed (the task does not "
    "offer that answer) and answers.* (checked against the task's questions)"
)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/public/<token>")
@plate_read
@public
@document(
    "A door plate: the household code and its open tasks (nothing private)",
    responses={
        "200": ("The household's code, open tasks and notes", PUBLIC_HOUSEHOLD_OUT),
        "404": "Unknown or replaced plate",
    },
    tags=["public"],
)
def public_household(token: str):
    household = service.household_for_token(db.session, token)
    return _no_store(
        jsonify(
            {
                "household": {"code": household.code},
                "tasks": [t.to_json() for t in household_page.open_tasks(db.session, household)],
                "messages": household_page.public_messages(db.session, household.id),
            }
        )
    )


@bp.route("/public/<token>/reports", methods=["POST"])
@plate_write
@public
@document(
    "A household answers one of its open tasks (safe / needs_help with kind and note; "
    "acknowledged for a campaign; answered with answers for a survey; read for a notice)",
    body=PUBLIC_REPORT,
    responses={
        "201": ("Recorded", PUBLIC_REPORTED_OUT),
        "404": "Unknown plate, or task not open for it",
        "422": ANSWER_CHECKED,
    },
    tags=["public"],
)
def public_report(token: str):
    data = json_body(PUBLIC_REPORT)
    done = household_page.answer(
        db.session,
        token,
        task_id=data["task_id"],
        status=data["status"],
        kind=data.get("kind", ""),
        note=data.get("note", ""),
        answers=data.get("answers"),
        client_addr=client_addr(),
    )
    db.session.commit()
    body = {
        "task_id": done.event.task_id,
        "status": done.event.status,
        "received_at": iso_z(done.event.created_at),
    }
    if done.event.status == "needs_help":
        body["told"] = list(done.told)
        body["message"] = labels.help_sent(done.told)
    return _no_store(jsonify(body)), 201


@bp.route("/public/<token>/mailbox", methods=["POST"])
@plate_write
@public
@document(
    "Drop a note in the red mailbox (category, text, optional callback_phone)",
    body=PUBLIC_MAILBOX,
    responses={
        "201": ("The note, with its tracking number", PUBLIC_MESSAGE_OUT),
        "404": "Unknown or replaced plate",
    },
    tags=["public"],
)
def public_mailbox_write(token: str):
    household = service.household_for_token(db.session, token)
    data = json_body(PUBLIC_MAILBOX)
    message = mailbox.create_message(
        db.session,
        household,
        category=data["category"],
        text=data["text"],
        callback_phone=data.get("callback_phone", ""),
        client_addr=client_addr(),
    )
    db.session.commit()
    household_page.remember_sent(message.id)
    res = jsonify(household_page.public_message(message, show_text=True))
    res.status_code = 201
    return _no_store(res)


@bp.route("/public/<token>/mailbox")
@plate_read
@public
@document(
    "The household's own red-mailbox notes with the staff's replies",
    responses={
        "200": ("The household's notes", PUBLIC_MESSAGES_OUT),
        "404": "Unknown or replaced plate",
    },
    tags=["public"],
)
def public_mailbox(token: str):
    household_id = service.plate_household_id(db.session, token)
    return _no_store(
        jsonify({"messages": household_page.public_messages(db.session, household_id)})
    )
