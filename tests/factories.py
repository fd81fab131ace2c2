"""Plain ``create_*`` functions that build committed rows through the services."""

from __future__ import annotations

import itertools

from flask.testing import FlaskClient

from village_grid.auth import service as auth_service
from village_grid.extensions import db
from village_grid.hierarchy import service
from village_grid.models import Household, Task, Unit, User

_n = itertools.count(1)
PASSWORD = "secret123"


def create_unit(
    kind: str, name: str | None = None, parent: Unit | None = None, code: str | None = None
) -> Unit:
    unit = service.create_unit(
        db.session,
        None,
        kind=kind,
        name=name or f"{kind}-{next(_n)}",
        parent_id=parent.id if parent else None,
        code=code,
    )
    db.session.commit()
    return unit


def create_household(team: Unit, head_name: str | None = None, **data) -> Household:
    data.setdefault("door_no", f"{next(_n)}号")
    data.setdefault("phone", "13800138000")
    data["head_name"] = head_name or f"户主{next(_n)}"
    members = data.pop("members", None)
    household = service.create_household(
        db.session, None, team_id=team.id, data=data, members=members
    )
    db.session.commit()
    return household


def create_tree(
    grids: int = 2, teams: int = 2, households: int = 0, village_code: str = "HG"
) -> dict:
    """township → village → ``grids`` grids → ``teams`` teams each → ``households`` each."""
    township = create_unit("township", "甘蔗街道")
    village = create_unit("village", "侯官村", township, code=village_code)
    tree: dict = {
        "township": township,
        "village": village,
        "grids": [],
        "teams": [],
        "households": [],
    }
    for g in range(grids):
        grid = create_unit("grid", f"第{g + 1}网格", village)
        tree["grids"].append(grid)
        for t in range(teams):
            team = create_unit("team", f"{g + 1}-{t + 1}小队", grid)
            tree["teams"].append(team)
            for _ in range(households):
                tree["households"].append(create_household(team))
    return tree


def create_user(
    role: str,
    unit: Unit | None = None,
    username: str | None = None,
    phone: str | None = None,
    name: str = "",
) -> User:
    user = auth_service.create_user(
        db.session,
        username=username or f"{role}{next(_n)}",
        password=PASSWORD,
        name=name or role,
        phone=phone,
    )
    auth_service.assign_role(
        db.session, None, user=user, role=role, unit_id=unit.id if unit else None
    )
    db.session.commit()
    return user


def login(client: FlaskClient, user: User, password: str = PASSWORD):
    return client.post(
        "/login", data={"login": user.username, "password": password}, follow_redirects=False
    )


def api_headers(client: FlaskClient, user: User, password: str = PASSWORD) -> dict:
    res = client.post("/api/v1/auth/token", json={"username": user.username, "password": password})
    assert res.status_code == 200, res.get_json()
    return {"Authorization": f"Bearer {res.get_json()['token']}"}


def create_task(
    unit: Unit,
    actor: User | None = None,
    *,
    kind: str = "sweep",
    title: str | None = None,
    deadline_minutes: int | None = 60,
    **kw,
) -> Task:
    """A task sent down to ``unit`` by ``actor`` (None: the command line), committed."""
    from village_grid.tasks.dispatch import dispatch_task

    task = dispatch_task(
        db.session,
        actor,
        kind=kind,
        title=title or f"{kind} 任务",
        unit_id=unit.id,
        deadline_minutes=deadline_minutes,
        **kw,
    )
    db.session.commit()
    return task
