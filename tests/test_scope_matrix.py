"""THE SCOPE MATRIX: every route × every role scoped elsewhere answers 404.

Two villages under one township. Objects live in village A; users of every
role (cadre, grid member, team lead, station staff) are scoped in village B.
For every route in ``app.url_map`` — pages and API, including routes other
domains add later — whose URL carries object ids, each id is replaced by an
object in village A, and every method the route accepts must answer 404
(the API with error code ``not_found``): out of scope looks exactly like
missing, never 403, never a page, never a redirect.

Views check scope on the ids in the URL *before* they read the body or the
form, so the requests here send an empty body.

Adding a route with a new argument name? Add an entry to ``OUT_OF_SCOPE``
(a function that makes an object in village A and returns its id), or — only
for an argument that is not the id of anything scoped — to ``NOT_SCOPED``
with a sample value and the reason. A route whose argument is in neither fails this test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.factories import api_headers, create_task, create_tree, create_unit, create_user, login
from village_grid.extensions import db
from village_grid.hierarchy import service
from village_grid.models import Household, Member

ROLES_ELSEWHERE = ("cadre", "grid_member", "team_lead", "station_staff")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _member_id(world: dict) -> int:
    member = service.add_member(
        db.session, None, world["households"][0].id, {"name": "陈阿婆", "relation": "parent"}
    )
    db.session.commit()
    return member.id


def _message_id(world: dict) -> int:
    from village_grid.qr import mailbox

    message = mailbox.create_message(
        db.session, world["households"][0], category="other", text="路灯坏了"
    )
    db.session.commit()
    return message.id


def _task_id(world: dict) -> int:

    return create_task(world["village"], title="防汛").id


def _warning_id(world: dict) -> int:
    from tests.warnings_helpers import cap_file
    from village_grid.hierarchy.units import update_unit
    from village_grid.warnings.intake import receive

    update_unit(db.session, None, world["village"].id, division_code="350121001201")
    warning, _new = receive(db.session, None, cap_file("rainstorm_village.xml"), via="api")
    db.session.commit()
    return warning.id


def _escalation_id(world: dict) -> int:
    from village_grid.models import Escalation
    from village_grid.tasks.statuses import record_status

    task_id = _task_id(world)
    record_status(
        db.session,
        None,
        task_id=task_id,
        household_id=world["households"][0].id,
        status="needs_help",
    )
    db.session.commit()
    return db.session.scalar(db.select(Escalation.id).where(Escalation.task_id == task_id).limit(1))


def _newcomer_id(world: dict) -> int:
    from tests.factories import create_newcomer

    return create_newcomer(world["village"], "周小芳").id


def _referral_id(world: dict) -> int:
    from village_grid.station import referrals

    referral = referrals.refer(db.session, None, _newcomer_id(world), {"employer": "港务公司"})
    db.session.commit()
    return referral.id


def _training_id(world: dict) -> int:
    from village_grid.station import trainings

    training = trainings.create_training(
        db.session,
        None,
        village_id=world["village"].id,
        data={"subject": "fire_safety", "title": "消防安全第一课"},
    )
    db.session.commit()
    return training.id


def _broadcast_id(world: dict) -> int:
    from village_grid.station import broadcast

    sent = broadcast.send(
        db.session,
        None,
        village_id=world["village"].id,
        data={
            "title": "寻找走失儿童",
            "description": "男孩，6岁，穿红色外套",
            "phone": "13900000001",
            "deadline_minutes": 15,
        },
    )
    db.session.commit()
    return sent.id


def _user_id(world: dict) -> int:
    from village_grid.auth import service

    lead = service.create_person(db.session, name="甲村队长", phone="13966660001")
    service.assign_role(db.session, None, user=lead, role="team_lead", unit_id=world["teams"][0].id)
    db.session.commit()
    return lead.id


def _import_job_id(world: dict) -> int:
    from village_grid.auth import service
    from village_grid.hierarchy.registry import queued

    cadre = service.create_person(db.session, name="甲村导入人", phone="13966660002")
    service.assign_role(db.session, None, user=cadre, role="cadre", unit_id=world["village"].id)
    data = "村,网格,小队,户主\n侯官村,第1网格,1小队,林\n".encode()
    job = queued.queue_import(db.session, cadre, filename="r.csv", data=data)
    db.session.commit()
    return job.id


def _file_id(world: dict) -> int:
    from village_grid.models import FileJob

    job = FileJob(
        kind="registry",
        fmt="csv",
        params={"unit_id": world["village"].id},
        paths=[world["village"].path],
        state="done",
        stored="village-a.csv",
    )
    db.session.add(job)
    db.session.commit()
    return job.id


# {URL argument name: function(world) -> id of an object in village A}.
# ``world`` is tests.factories.create_tree's dict for village A (township,
# village, grids, teams, households: one per team). Create what you need
# through your domain's service with actor=None and commit.
OUT_OF_SCOPE: dict[str, Callable[[dict], int]] = {
    "unit_id": lambda world: world["teams"][0].id,
    "team_id": lambda world: world["teams"][0].id,
    "household_id": lambda world: world["households"][0].id,
    "member_id": _member_id,
    "message_id": _message_id,
    "task_id": _task_id,
    "escalation_id": _escalation_id,
    # The migrant-worker station (a newcomer, a job referral, a training, a broadcast).
    "newcomer_id": _newcomer_id,
    "referral_id": _referral_id,
    "training_id": _training_id,
    "broadcast_id": _broadcast_id,
    "warning_id": _warning_id,
    # People (a team lead of village A) and registry imports (sent by village A's cadre).
    "user_id": _user_id,
    "job_id": _import_job_id,
    # A file made for download (a registry export of village A).
    "file_id": _file_id,
}

# {URL argument name: why it is not the id of a scoped object}. Keep it short.
# {URL argument name: (value to put in the URL, why it is not the id of a
# scoped object)}. Routes with these arguments are still matrixed through
# their other arguments.
NOT_SCOPED: dict[str, tuple[str, str]] = {
    "fmt": ("csv", "the file format of an export (csv/xlsx)"),
}


def url_values(world: dict) -> dict:
    """A value for every matrixed argument: an id in village A, or the NOT_SCOPED sample."""
    values = {arg: sample for arg, (sample, _why) in NOT_SCOPED.items()}
    values.update({arg: make(world) for arg, make in OUT_OF_SCOPE.items()})
    return values


def login_routes(app):
    """(rule, methods) for every login-required route; public ones need no scope."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        if getattr(app.view_functions[rule.endpoint], "access", None) == "public":
            continue
        yield rule, sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


class Caller:
    """One user, logged in both ways: a session cookie for pages, a bearer token for the API."""

    def __init__(self, app, user):
        self.name = user.username
        self.page = app.test_client()
        assert login(self.page, user).status_code == 302
        self.api = app.test_client()
        self.headers = api_headers(self.api, user)

    def call(self, method: str, url: str):
        if url.startswith("/api/"):
            kwargs = {"headers": self.headers}
            if method in WRITE_METHODS:
                kwargs["json"] = {}
            return self.api.open(url, method=method, **kwargs)
        kwargs = {"data": {}} if method in WRITE_METHODS else {}
        return self.page.open(url, method=method, **kwargs)


def check_routes(app, callers: list[Caller], ids: dict[str, int], only_args=None) -> list[str]:
    """Every login route whose arguments are all in ``ids``; returns the failures."""
    failures = []
    for rule, methods in login_routes(app):
        if not rule.arguments or (only_args and not rule.arguments & only_args):
            continue
        if not rule.arguments <= set(ids) or rule.arguments <= set(NOT_SCOPED):
            continue
        url = rule.build({arg: ids[arg] for arg in rule.arguments}, append_unknown=False)[1]
        for caller in callers:
            for method in methods:
                res = caller.call(method, url)
                ok = res.status_code == 404
                if ok and url.startswith("/api/"):
                    body = res.get_json(silent=True) or {}
                    ok = body.get("error", {}).get("code") == "not_found"
                if not ok:
                    failures.append(f"{caller.name} {method} {url} -> {res.status_code}")
    return failures


@pytest.fixture
def two_villages():
    world = create_tree(grids=2, teams=2, households=1)  # village A
    village_b = create_unit("village", "颜岐村", world["township"], code="YQ")
    grid_b = create_unit("grid", "颜岐第1网格", village_b)
    team_b = create_unit("team", "颜岐1-1小队", grid_b)
    units_b = {
        "cadre": village_b,
        "grid_member": grid_b,
        "team_lead": team_b,
        "station_staff": village_b,
    }
    users = [create_user(role, units_b[role]) for role in ROLES_ELSEWHERE]
    return world, users


def test_every_route_argument_is_in_the_matrix(app):
    """A route whose argument has no entry would escape the matrix: add one."""
    unmatrixed = sorted(
        f"{rule.rule} ({arg})"
        for rule, _methods in login_routes(app)
        for arg in rule.arguments
        if arg not in OUT_OF_SCOPE and arg not in NOT_SCOPED
    )
    assert not unmatrixed, (
        "route arguments missing from OUT_OF_SCOPE in tests/test_scope_matrix.py: "
        + ", ".join(unmatrixed)
    )


def test_every_role_elsewhere_gets_404_on_every_route(app, two_villages):
    world, users = two_villages
    ids = url_values(world)
    household = db.session.get(Household, ids["household_id"])
    before = (household.team_id, household.code, household.head_name, household.phone)
    callers = [Caller(app, u) for u in users]

    failures = check_routes(app, callers, ids)
    assert not failures, "out-of-scope objects reachable:\n" + "\n".join(failures)

    # Nothing in village A changed.
    db.session.expire_all()
    household = db.session.get(Household, ids["household_id"])
    assert (household.team_id, household.code, household.head_name, household.phone) == before
    assert db.session.get(Member, ids["member_id"]) is not None


def test_matrix_covers_the_registry_routes(app):
    """The matrix is only as good as its reach: the registry's own routes are in it."""
    covered = {rule.rule for rule, _m in login_routes(app) if rule.arguments}
    for expected in (
        "/units/<id:unit_id>",
        "/households/<id:household_id>",
        "/api/v1/units/<id:unit_id>",
        "/api/v1/households/<id:household_id>",
        "/api/v1/households/<id:household_id>/move",
    ):
        assert expected in covered


def test_team_lead_gets_404_for_the_neighbour_teams_household(app):
    """Team lead of team A, household of team B in the same grid: 404 on every household route."""
    world = create_tree(grids=1, teams=2, households=1)
    team_a, _team_b = world["teams"]
    lead = create_user("team_lead", team_a)
    ids = url_values(world)
    # Every id points into team B (the household) or at team B itself.
    neighbour = world["households"][1]
    ids["household_id"] = neighbour.id
    member = service.add_member(db.session, None, neighbour.id, {"name": "林小明"})
    db.session.commit()
    ids["member_id"] = member.id
    ids["unit_id"] = ids["team_id"] = neighbour.team_id

    failures = check_routes(app, [Caller(app, lead)], ids, only_args={"household_id"})
    assert not failures, "team B's household reachable by team A's lead:\n" + "\n".join(failures)
    # The lead does reach their own household (the 404s above are not a broken route).
    own = world["households"][0]
    res = Caller(app, lead).call("GET", f"/api/v1/households/{own.id}")
    assert res.status_code == 200
