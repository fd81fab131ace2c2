"""The station's pages (/station): home, search, registration, a newcomer's page,
corrections, one full ID number on request, the list and its export.

Thin: parse, check scope (``queries.station_village`` / ``get_newcomer`` through
``auth.scope``, action ``station``: a team lead, or a cadre of another village,
reaches none of it — 404), call a service or a query, render. Housing and
departures are in ``routes_housing.py``; jobs, trainings, broadcasts and the
dashboard in ``routes_activities.py``; all three register on ``blueprint.bp``.

Every page here answers ``Cache-Control: no-store``: a page may hold a full ID
number, and none of them belongs in a browser's or a proxy's cache. No ID number
ever goes into a URL (search and reveal are POSTs): URLs end up in access logs.
"""

from __future__ import annotations

from flask import (
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from village_grid import edge
from village_grid.auth.guards import login_required
from village_grid.database.transactions import committed
from village_grid.errors import Conflict, DomainError, InvalidInput
from village_grid.extensions import db
from village_grid.files import service as files
from village_grid.files.routes import answer as file_answer
from village_grid.station import (
    display,
    export,
    forms,
    queries,
    registration,
    routes_activities,  # noqa: F401  (registers its pages on bp)
    routes_housing,  # noqa: F401  (registers its pages on bp)
)
from village_grid.station.blueprint import (
    bp,
    errors_of,
    newcomer_or_404,
    require_station,
    village,
)
from village_grid.station.fields import local_today
from village_grid.station.labels import LIST_PAGE

# --- home, search, choosing the village ------------------------------------------------


@bp.route("/")
@login_required
def home():
    """Today's arrivals and departures, who still needs a home, open referrals, broadcasts."""
    here = village()
    today = local_today()
    present, _total = queries.newcomers(db.session, here, present=True, limit=500)
    homes = queries.current_households(db.session, [n.id for n in present])
    return render_template(
        "station/home.html",
        village=here,
        today=today,
        arrivals=queries.arrived_on(db.session, here, today),
        departures=queries.departed_on(db.session, here, today),
        unhoused=[n for n in present if n.id not in homes][:50],
        homes=homes,
        open_referrals=queries.open_referrals(db.session, here, limit=10),
        broadcasts=display.broadcast_rows(db.session, queries.broadcasts(db.session, here, 5)),
        villages=queries.station_villages(db.session, current_user, limit=2),
    )


@bp.route("/choose")
@login_required
def choose():
    """For a person who runs the stations of several villages: which one now."""
    require_station()
    return render_template(
        "station/choose.html", villages=queries.station_villages(db.session, current_user)
    )


@bp.route("/search", methods=["POST"])
@login_required
def search():
    """By name, phone, the last four ID characters or the whole ID number (a POST:
    what is typed here stays out of the address and so out of the access log)."""
    here = village()
    text = request.form.get("q", "")
    results = queries.search(db.session, here, text)
    return render_template(
        "station/results.html",
        village=here,
        q=text,
        results=results,
        homes=queries.current_households(db.session, [n.id for n in results]),
    )


@bp.route("/newcomers")
@login_required
def newcomers():
    """Everyone here now (or who left), newest arrival first, a page at a time."""
    here = village()
    which = request.args.get("show", "present")
    present = {"present": True, "departed": False}.get(which)
    page = edge.int_arg("page", 1, low=1, high=10_000)
    rows, total = queries.newcomers(
        db.session, here, present=present, limit=LIST_PAGE, offset=(page - 1) * LIST_PAGE
    )
    return render_template(
        "station/newcomers.html",
        village=here,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // LIST_PAGE)),
        show=which if which in ("present", "departed", "all") else "present",
        homes=queries.current_households(db.session, [n.id for n in rows]),
    )


# --- registration ----------------------------------------------------------------------


@bp.route("/newcomers/new", methods=["GET", "POST"])
@login_required
def register():
    """The counter's form: every bad field with its own message, a second registration
    of the same document offered as the record that holds it."""
    here = village()
    values = {"arrived_on": local_today().isoformat(), "id_type": "resident_id"}
    errors: dict[str, str] = {}
    duplicate = None
    if request.method == "POST":
        data = forms.newcomer_data(request.form)
        values = dict(data)
        try:
            with committed():
                newcomer = registration.register(
                    db.session, current_user, village_id=here.id, data=data
                )
        except registration.DuplicateNewcomer as err:
            duplicate = err.existing
            errors = {"id_number": err.message}
        except DomainError as err:
            errors = errors_of(err)
        else:
            flash(_("%(name)s is registered. Now find them a home.", name=newcomer.name), "success")
            return redirect(url_for("station.placement_page", newcomer_id=newcomer.id))
    status = 422 if errors and not duplicate else 409 if duplicate else 200
    return (
        render_template(
            "station/register.html",
            village=here,
            values=values,
            errors=errors,
            duplicate=duplicate,
            editing=None,
        ),
        status,
    )


@bp.route("/id-check", methods=["POST"])
@login_required
def id_check():
    """What the form shows under the ID field as it is typed (JSON; nothing stored,
    the number comes in the body, never in the address)."""
    require_station()
    return jsonify(
        registration.id_hints(request.form.get("id_number", ""), request.form.get("id_type", ""))
    )


@bp.route("/newcomers/<id:newcomer_id>")
@login_required
def newcomer(newcomer_id: int):
    person = newcomer_or_404(newcomer_id)
    return render_template("station/newcomer.html", **display.newcomer_context(db.session, person))


@bp.route("/newcomers/<id:newcomer_id>/edit", methods=["GET", "POST"])
@login_required
def edit(newcomer_id: int):
    """Correct a record; the ID number field stays empty unless it is being corrected."""
    person = newcomer_or_404(newcomer_id)
    values = {f: getattr(person, f, "") for f in forms.NEWCOMER_FIELDS if f != "id_number"}
    values.update(arrived_on=person.arrived_on.isoformat(), wants_work=person.wants_work)
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = forms.newcomer_data(request.form, editing=True)
        values = {**data, "id_number": request.form.get("id_number", "")}
        try:
            with committed():
                registration.update(db.session, current_user, person.id, data)
        except DomainError as err:
            errors = errors_of(err)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("station.newcomer", newcomer_id=person.id))
    return (
        render_template(
            "station/register.html",
            village=person.village,
            values=values,
            errors=errors,
            duplicate=None,
            editing=person,
        ),
        422 if errors else 200,
    )


@bp.route("/newcomers/<id:newcomer_id>/reveal", methods=["POST"])
@login_required
def reveal(newcomer_id: int):
    """One full ID number, shown on this answer only (station staff, with a reason, audited)."""
    person = newcomer_or_404(newcomer_id)
    try:
        with committed():
            number = registration.reveal(
                db.session, current_user, person.id, request.form.get("reason")
            )
    except (InvalidInput, Conflict) as err:
        flash(err.message, "error")
        return redirect(url_for("station.newcomer", newcomer_id=person.id))
    return render_template(
        "station/newcomer.html", revealed=number, **display.newcomer_context(db.session, person)
    )


# --- export ----------------------------------------------------------------------------


@bp.route("/export.<fmt>")
@login_required
def export_masked(fmt: str):
    """Every newcomer of the village, ID numbers masked."""
    here = village()
    result = files.ask(db.session, current_user, export.MASKED.name, fmt, {"village_id": here.id})
    db.session.commit()
    return file_answer(result)


@bp.route("/export", methods=["POST"])
@login_required
def export_full():
    """With full ID numbers: station staff, a reason, the audit log first."""
    here = village()
    fmt = request.form.get("fmt", "xlsx")
    params = {"village_id": here.id, "reason": request.form.get("reason")}
    try:
        with committed():
            result = files.ask(db.session, current_user, export.FULL.name, fmt, params)
    except InvalidInput as err:
        flash(err.message, "error")
        return redirect(url_for("station.newcomers"))
    return file_answer(result)
