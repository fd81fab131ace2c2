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
    kind: str,
    name: str | None = None,
    parent: Unit | None = None,
    code: str | None = None,
    division_code: str | None = None,
) -> Unit:
    unit = service.create_unit(
        db.session,
        None,
        kind=kind,
        name=name or f"{kind}-{next(_n)}",
        parent_id=parent.id if parent else None,
        code=code,
        division_code=division_code,
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


def create_report(actor: User | None, task: Task, household: Household, status: str, **kw):
    """A status reported on a household of a task by ``actor`` (None: from its door plate), committed."""
    from village_grid.tasks.statuses import record_status

    event = record_status(
        db.session, actor, task_id=task.id, household_id=household.id, status=status, **kw
    ).event
    db.session.commit()
    return event


def task_members(task: Task) -> dict[int, dict]:
    """Every household a task reaches, as pages and exports read it
    (``tasks/membership.py``): household id → its status, team, note, answers …"""
    from sqlalchemy import select

    from village_grid.tasks.membership import members

    m = members(task)
    return {r["household_id"]: dict(r) for r in db.session.execute(select(m)).mappings()}


def task_member(task: Task, household: Household) -> dict | None:
    """One household's place in a task (:func:`task_members`); None if it is not reached."""
    return task_members(task).get(household.id)


# --- a village and its people ---------------------------------------------------------
# Stable names and phones, so a test can look for them on a page or in an export.
CADRE = ("李书记", "13900000001")
TOWNSHIP_CADRE = ("周镇长", "13900000002")
GRID_MEMBER_NAMES = ("王芳", "陈刚", "刘洋", "赵敏", "黄磊", "周婷")
LEAD_NAMES = ("张三", "林队长", "吴队长", "郑队长", "孙队长", "马队长")


def grid_member_person(i: int) -> tuple[str, str]:
    """Name and phone of the ``i``-th grid member (0-based) ``create_village`` makes."""
    name = GRID_MEMBER_NAMES[i] if i < len(GRID_MEMBER_NAMES) else f"网格员{i + 1}"
    return name, f"139100{i + 1:05d}"


def lead_person(i: int) -> tuple[str, str]:
    """Name and phone of the ``i``-th team lead (0-based) ``create_village`` makes."""
    name = LEAD_NAMES[i] if i < len(LEAD_NAMES) else f"小队长{i + 1}"
    return name, f"139200{i + 1:05d}"


def create_village(
    grids: int = 2,
    teams: int = 2,
    households: int = 2,
    *,
    leads: int = 1,
    grid_members: int | None = None,
    township_cadre: bool = False,
    village_code: str = "HG",
) -> dict:
    """``create_tree`` plus its people, created in this order (so their ids are too):

    - ``township_cadre`` (周镇长) on the township, only when asked;
    - ``cadre`` (李书记) on the village;
    - ``grid_members``: one per grid by default; the i-th sits on grid ``i % grids``
      (王芳 on grid 1, 陈刚 on grid 2, …); 0 for none;
    - ``leads``: team leads of the first ``leads`` teams (张三, 林队长, …).

    A team without a lead falls back to its grid member, a grid without one to the
    cadre: keep the leads and grid members a test's routing expects.
    Shortcuts: ``gm``/``gm_b`` and ``lead``/``lead_b`` for the first two of each.
    Everyone has a phone; see ``CADRE``, ``grid_member_person`` and ``lead_person``.
    """
    tree = create_tree(grids=grids, teams=teams, households=households, village_code=village_code)
    if township_cadre:
        name, phone = TOWNSHIP_CADRE
        tree["township_cadre"] = create_user("cadre", tree["township"], name=name, phone=phone)
    tree["cadre"] = create_user("cadre", tree["village"], name=CADRE[0], phone=CADRE[1])
    count = grids if grid_members is None else grid_members
    if count and not grids:
        raise ValueError("grid members need a grid")
    if leads > len(tree["teams"]):
        raise ValueError(f"{leads} leads for {len(tree['teams'])} teams")
    tree["grid_members"] = []
    for i in range(count):
        name, phone = grid_member_person(i)
        grid = tree["grids"][i % grids]
        tree["grid_members"].append(create_user("grid_member", grid, name=name, phone=phone))
    tree["leads"] = []
    for i in range(leads):
        name, phone = lead_person(i)
        team = tree["teams"][i]
        tree["leads"].append(create_user("team_lead", team, name=name, phone=phone))
    for key, people in (("gm", tree["grid_members"]), ("lead", tree["leads"])):
        for suffix, person in zip(("", "_b"), people, strict=False):
            tree[key + suffix] = person
    return tree


# --- the migrant-worker station ----------------------------------------------------------


def resident_id(first17: str) -> str:
    """A resident ID number with the right check digit for its first 17 digits."""
    from stdnum.cn import ric

    return first17 + ric.calc_check_digit(first17 + "0")


def create_newcomer(village: Unit, name: str = "王小明", *, id_number: str | None = None, **data):
    """A newcomer registered at ``village``'s station by the system, committed."""
    from village_grid.station import registration

    data.setdefault("phone", "13700137000")
    data["name"] = name
    data["id_number"] = id_number or resident_id(f"35012119900101{next(_n) % 1000:03d}")
    newcomer = registration.register(db.session, None, village_id=village.id, data=data)
    db.session.commit()
    return newcomer
