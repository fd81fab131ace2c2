"""Pages for the unit tree and the household registry.

Thin: parse the form, check scope through ``auth.scope``, call a
``hierarchy.service`` function, commit, redirect. A domain error from the
service (bad phone, full team, ...) is shown as a flash message above the
re-shown form, with the offending field marked; out-of-scope ids are 404.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.auth import queries as auth_queries
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.database.transactions import committed
from village_grid.errors import DomainError
from village_grid.extensions import db
from village_grid.hierarchy import (
    queries,
    routes_registry,  # noqa: F401  (import and export: its pages on bp)
    routes_robot,  # noqa: F401  (a unit's work-group robot: its pages on bp)
    service,
    units,
)
from village_grid.hierarchy.blueprint import bp
from village_grid.hierarchy.forms import (
    INLINE_MEMBER_ROWS,
    ConfirmForm,
    HouseholdForm,
    MemberForm,
    MoveForm,
    SplitForm,
    UnitEditForm,
    UnitForm,
)
from village_grid.hierarchy.labels import CHILD_KINDS, TREE_FULL_LIMIT, team_with_grid
from village_grid.models import Household, Unit
from village_grid.models.units import UNIT_KINDS


def _form_error(form, err: DomainError) -> int:
    """Show a domain error above the form and mark the fields it names (the write was
    rolled back by ``committed``)."""
    flash(err.message, "error")
    for key in err.fields:
        name = {"member_phone": "phone"}.get(key, key)
        if name in form._fields:
            form[name].errors = [*form[name].errors, ""]
    return err.status


def _invalid_form() -> int:
    flash(_("Please correct the marked fields."), "error")
    return 422


def _breadcrumb(unit: Unit) -> list[tuple[Unit, bool]]:
    """Ancestors from the root down (this unit excluded), each with whether the user may open it."""
    return [(u, scope.may(current_user, "view", u)) for u in queries.breadcrumb(db.session, unit)]


# --- the tree and units -----------------------------------------------------------


@bp.route("/")
@login_required
def home():
    """Where a user lands: a team lead on "my team" (their households and open tasks),
    everyone else on the tree."""
    if scope.has_role(current_user, "station_staff") and not scope.has_role(
        current_user, "admin", "cadre", "grid_member", "team_lead"
    ):
        return redirect(url_for("station.home"))  # station staff land at their counter
    roots = scope.scope_roots(db.session, current_user)
    if len(roots) == 1 and roots[0].kind == "team":
        return redirect(url_for("field.home"))
    return redirect(url_for("hierarchy.tree"))


@bp.route("/units")
@login_required
def tree():
    """The tree under the user's scope with household counts per unit and team fill."""
    roots = scope.scope_roots(db.session, current_user)
    units = []
    for root in roots:
        part = queries.subtree_units(db.session, root)
        if len(part) > TREE_FULL_LIMIT:
            part = queries.subtree_units(db.session, root, max_depth=2)
        units.extend(part)
    counts = queries.household_counts(db.session, units)
    # Before the night: grids whose teams have no lead or whose leads never signed in.
    ready = (
        auth_queries.readiness_in_scope(db.session, current_user)
        if scope.may_somewhere(current_user, "sign_in_links")
        else ([], None)
    )
    children: dict[int | None, list] = {}
    ids = {u.id for u in units}
    for u in units:
        key = u.parent_id if u.parent_id in ids else None
        children.setdefault(key, []).append(u)
    return render_template(
        "hierarchy/tree.html",
        children=children,
        counts=counts,
        cap=service.team_max_households(),
        not_ready=ready[0],
        ready_totals=ready[1],
    )


@bp.route("/units/<id:unit_id>")
@login_required
def unit(unit_id: int):
    """A unit: breadcrumb, children with counts; for a team its households and lead(s)."""
    unit = scope.require_unit(db.session, current_user, unit_id)
    children = list(unit.children)
    counts = queries.household_counts(db.session, [unit, *children], within=unit)
    households = queries.team_households(db.session, unit.id) if unit.is_team else []
    return render_template(
        "hierarchy/unit.html",
        unit=unit,
        breadcrumb=_breadcrumb(unit),
        children=children,
        counts=counts,
        households=households,
        people=auth_queries.people_on(db.session, unit),
        cap=service.team_max_households(),
        can_edit=scope.may(current_user, "edit_household", unit),
        can_manage=scope.may(current_user, "manage_units", unit),
    )


@bp.route("/units/<id:unit_id>/units/new", methods=["GET", "POST"])
@login_required
def add_unit(unit_id: int):
    """Add a grid, team or other unit under this one (never under a team)."""
    parent = scope.require_unit(db.session, current_user, unit_id, "manage_units")
    if parent.is_team:
        flash(_("A team holds households, not other units."), "error")
        return redirect(url_for("hierarchy.unit", unit_id=parent.id))
    form = UnitForm()
    form.set_kinds(
        CHILD_KINDS.get(parent.kind) or [k for k in UNIT_KINDS if k not in ("county", "township")]
    )
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                with committed():
                    new = service.create_unit(
                        db.session,
                        current_user,
                        kind=form.kind.data,
                        name=form.name.data,
                        parent_id=parent.id,
                        code=form.code.data,
                        division_code=form.division_code.data,
                    )
                flash(_("%(name)s added.", name=new.name), "success")
                return redirect(url_for("hierarchy.unit", unit_id=new.id))
            except DomainError as err:
                status = _form_error(form, err)
        else:
            status = _invalid_form()
    return (
        render_template(
            "hierarchy/unit_form.html", form=form, parent=parent, breadcrumb=_breadcrumb(parent)
        ),
        status,
    )


@bp.route("/units/<id:unit_id>/edit", methods=["GET", "POST"])
@login_required
def edit_unit(unit_id: int):
    """Rename a unit or set its administrative division code."""
    unit = scope.require_unit(db.session, current_user, unit_id, "manage_units")
    form = UnitEditForm()
    status = 200
    if request.method == "GET":
        form.name.data, form.division_code.data = unit.name, unit.division_code
    elif form.validate_on_submit():
        try:
            with committed():
                units.update_unit(
                    db.session,
                    current_user,
                    unit.id,
                    name=form.name.data,
                    division_code=form.division_code.data or "",
                )
            flash(_("%(name)s saved.", name=unit.name), "success")
            return redirect(url_for("hierarchy.unit", unit_id=unit.id))
        except DomainError as err:
            status = _form_error(form, err)
    else:
        status = _invalid_form()
    return (
        render_template(
            "hierarchy/unit_edit.html", form=form, unit=unit, breadcrumb=_breadcrumb(unit)
        ),
        status,
    )


@bp.route("/units/<id:unit_id>/split", methods=["GET", "POST"])
@login_required
def split(unit_id: int):
    """Split a team in two: a new sibling team takes the chosen households."""
    team = scope.require_unit(db.session, current_user, unit_id, "manage_units")
    if not team.is_team:
        abort(404)
    households = queries.team_households(db.session, team.id)
    form = SplitForm()
    form.household_ids.choices = [(h.id, h.code) for h in households]
    status = 200
    if request.method == "GET":
        # The second half by number goes, as the service would choose.
        form.household_ids.data = [
            h.id for h in households[len(households) - len(households) // 2 :]
        ]
    elif form.validate_on_submit():
        try:
            with committed():
                new_team = service.split_team(
                    db.session,
                    current_user,
                    team.id,
                    new_name=form.new_name.data,
                    household_ids=form.household_ids.data or [],
                )
                moved = len(form.household_ids.data)
            flash(
                _(
                    "%(team)s was split: %(n)s households moved to %(new)s.",
                    team=team.name,
                    n=moved,
                    new=new_team.name,
                ),
                "success",
            )
            return redirect(url_for("hierarchy.unit", unit_id=team.parent_id))
        except DomainError as err:
            status = _form_error(form, err)
            if "name" in err.fields:
                form.new_name.errors = [""]
    else:
        status = _invalid_form()
    return (
        render_template(
            "hierarchy/split.html",
            form=form,
            team=team,
            households={h.id: h for h in households},
            breadcrumb=_breadcrumb(team),
        ),
        status,
    )


# --- households -------------------------------------------------------------------


@bp.route("/units/<id:unit_id>/households/new", methods=["GET", "POST"])
@login_required
def new_household(unit_id: int):
    """Register a household in a team (the ten-household cap holds)."""
    team = scope.require_unit(db.session, current_user, unit_id, "edit_household")
    if not team.is_team:
        abort(404)
    form = HouseholdForm()
    while len(form.members) < INLINE_MEMBER_ROWS:
        form.members.append_entry()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                with committed():
                    household = service.create_household(
                        db.session,
                        current_user,
                        team_id=team.id,
                        data=form.to_data(),
                        members=form.member_rows(),
                    )
                flash(
                    _(
                        "Household %(code)s (%(head)s) added.",
                        code=household.code,
                        head=household.head_name,
                    ),
                    "success",
                )
                return redirect(url_for("hierarchy.unit", unit_id=team.id))
            except DomainError as err:
                status = _form_error(form, err)
        else:
            status = _invalid_form()
    cap = service.team_max_households()
    count = queries.team_household_count(db.session, team.id)
    room = queries.teams_with_room(db.session, team, cap) if count >= cap else []
    return (
        render_template(
            "hierarchy/household_form.html",
            form=form,
            team=team,
            household=None,
            breadcrumb=[*_breadcrumb(team), (team, True)],
            full=count >= cap,
            count=count,
            room=room,
        ),
        status,
    )


@bp.route("/households/<id:household_id>")
@login_required
def household(household_id: int):
    household = scope.require_household(db.session, current_user, household_id)
    return _household_page(household, MemberForm(formdata=None))


def _household_page(household: Household, member_form: MemberForm, status: int = 200):
    team = household.team
    return (
        render_template(
            "hierarchy/household.html",
            household=household,
            team=team,
            breadcrumb=[*_breadcrumb(team), (team, True)],
            member_form=member_form,
            confirm=ConfirmForm(),
            can_edit=scope.may(current_user, "edit_household", team),
        ),
        status,
    )


@bp.route("/households/<id:household_id>/edit", methods=["GET", "POST"])
@login_required
def edit_household(household_id: int):
    household = scope.require_household(db.session, current_user, household_id, "edit_household")
    form = HouseholdForm()
    status = 200
    if request.method == "GET":
        form.fill_from(household)
    elif form.validate_on_submit():
        try:
            with committed():
                service.update_household(db.session, current_user, household.id, form.to_data())
            flash(_("Household %(code)s saved.", code=household.code), "success")
            return redirect(url_for("hierarchy.household", household_id=household.id))
        except DomainError as err:
            status = _form_error(form, err)
    else:
        status = _invalid_form()
    return (
        render_template(
            "hierarchy/household_form.html",
            form=form,
            team=household.team,
            household=household,
            breadcrumb=[*_breadcrumb(household.team), (household.team, True)],
            full=False,
            room=[],
        ),
        status,
    )


@bp.route("/households/<id:household_id>/members", methods=["POST"])
@login_required
def add_member(household_id: int):
    household = scope.require_household(db.session, current_user, household_id, "edit_household")
    form = MemberForm()
    if not form.validate_on_submit():
        return _household_page(household, form, _invalid_form())
    try:
        with committed():
            member = service.add_member(db.session, current_user, household.id, form.to_dict())
    except DomainError as err:
        status = _form_error(form, err)
        return _household_page(household, form, status)
    flash(_("%(name)s added.", name=member.name), "success")
    return redirect(url_for("hierarchy.household", household_id=household.id) + "#members")


@bp.route("/households/<id:household_id>/members/<id:member_id>/remove", methods=["POST"])
@login_required
def remove_member(household_id: int, member_id: int):
    household = scope.require_household(db.session, current_user, household_id, "edit_household")
    member = queries.household_member(db.session, household.id, member_id)
    if member is None:
        abort(404)
    name = member.name  # (CSRFProtect checked the form's token before we got here)
    service.remove_member(db.session, current_user, member.id)
    db.session.commit()
    flash(_("%(name)s removed.", name=name), "success")
    return redirect(url_for("hierarchy.household", household_id=household.id) + "#members")


def _move_choices(household: Household, *, with_full: bool) -> dict[str, list[tuple[int, str]]]:
    """Teams the user may move the household into, grouped by grid, within its village,
    each named with its grid (a closed list shows only the chosen one). A full team is
    offered only ``with_full`` (a post: the service then says why it refuses)."""
    cap = service.team_max_households()
    groups: dict[str, list[tuple[int, str]]] = {}
    for team, parent, n in queries.move_targets(db.session, current_user, household):
        if n >= cap and not with_full:
            continue
        label = f"{team_with_grid(team.name, parent.name if parent else None)} ({n}/{cap})"
        label += " · " + _("full") if n >= cap else ""
        groups.setdefault(parent.name if parent else "—", []).append((team.id, label))
    return groups


def _team_words(team: Unit) -> str:
    """A team with its grid, as the messages name it."""
    return team_with_grid(team.name, team.parent.name if team.parent else None)


@bp.route("/households/<id:household_id>/move", methods=["GET", "POST"])
@login_required
def move_household(household_id: int):
    """Move a household to another team; a full team refuses and names teams with room."""
    household = scope.require_household(db.session, current_user, household_id, "edit_household")
    form = MoveForm()
    choices = _move_choices(household, with_full=request.method == "POST")
    form.team_id.choices = {"": [(0, _("Choose a team"))], **choices}
    status = 200
    if request.method == "POST":
        if form.validate_on_submit() and form.team_id.data:
            old_team = _team_words(household.team)
            try:
                with committed():
                    service.move_household(
                        db.session, current_user, household.id, form.team_id.data
                    )
                flash(
                    _(
                        "Household moved from %(old)s to %(new)s; its new code is %(code)s.",
                        old=old_team,
                        new=_team_words(household.team),
                        code=household.code,
                    ),
                    "success",
                )
                return redirect(url_for("hierarchy.household", household_id=household.id))
            except DomainError as err:
                status = _form_error(form, err)
        else:
            flash(_("Choose a team."), "error")
            form.team_id.errors = [""]
            status = 422
    return (
        render_template(
            "hierarchy/move.html",
            form=form,
            household=household,
            team=household.team,
            breadcrumb=[*_breadcrumb(household.team), (household.team, True)],
        ),
        status,
    )
