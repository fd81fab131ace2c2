"""Realistic demo data of any size, written with bulk inserts.

The default is one township with one village, 侯官村 (code HG), of about
1,300 households in about 140 teams across 14 grids, as in Houguan. Larger
sizes add villages (about 1,300 households each) under more townships, so a
county of 100,000 households builds in seconds: rows are made in Python with
their ids, materialised paths and household codes already set, then inserted
in batches. No team gets more than ``TEAM_MAX_HOUSEHOLDS`` households.

The same seed gives the same tree, names, flags and members. Door-plate
tokens stay random: they are secrets even in a demo.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from village_grid.database.bulk import (
    BATCH,
    OrderedWriter,
    fix_sequences,
    insert_rows,
    next_id,
)
from village_grid.hierarchy import ordering, service
from village_grid.hierarchy.service import code_of
from village_grid.models import Household, Member, RoleAssignment, Unit, User
from village_grid.models.base import utcnow
from village_grid.models.households import plate_token_hash, seal_plate_token

DEMO_PASSWORD = "demo1234"
HOUSEHOLDS_PER_VILLAGE = 1300
VILLAGES_PER_TOWNSHIP = 10
TEAMS_PER_GRID = 10

# Flag → share of households (village surveys put them about here).
FLAG_SHARES = {
    "elderly_alone": 0.08,
    "disabled": 0.03,
    "young_children": 0.12,
    "pregnant": 0.01,
    "flood_prone": 0.15,
    "rental": 0.10,
    "party_member": 0.06,
    "veteran": 0.03,
}

SURNAMES = (
    "林陈黄郑王李张刘吴杨刘张陈林黄郑许何周游翁潘江邱罗高叶魏蔡谢曾程唐宋徐詹施卢"
    "方朱胡肖吕洪苏薛余杜严倪连庄董阮"
)
GIVEN_CHARS = (
    "建国华明伟强军平秀英丽芳玉兰桂金春梅志文德水清福海宝荣生辉龙俊杰婷娜静敏燕"
    "红霞云峰宇浩鹏涛磊斌雪琴凤珍雅欣怡思佳颖嘉晨阳天翔依诗梓涵子轩"
)
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "177",
    "180",
    "181",
    "182",
    "183",
    "186",
    "187",
    "188",
    "189",
    "199",
]

COUNTY = ("闽侯县", "MH", None)
# Administrative division codes (hierarchy/divisions.py): the county is 闽侯县's real
# code; townships and villages get real-looking codes under it (street offices 0xx,
# towns 1xx; villages 2xx), so an official warning for 350121000000 reaches them.
COUNTY_DIVISION = "350121"


def township_division(t: int) -> str:
    """The ``t``-th township's code (0-based): 甘蔗街道 is a street office (001)."""
    return f"{COUNTY_DIVISION}{1 if t == 0 else min(99 + t, 999):03d}"


def village_division(township_code: str, i: int) -> str:
    """The ``i``-th village's code (0-based) in the township with ``township_code``."""
    return f"{township_code}{201 + i:03d}"


TOWNSHIPS = (
    ("甘蔗街道", "GZ"),
    ("上街镇", "SJ"),
    ("南屿镇", "NY"),
    ("竹岐乡", "ZQ"),
    ("白沙镇", "BS"),
    ("荆溪镇", "JX"),
    ("祥谦镇", "XQ"),
    ("青口镇", "QK"),
    ("南通镇", "NT"),
    ("鸿尾乡", "HW"),
    ("洋里乡", "YL"),
    ("大湖乡", "DH"),
    ("廷坪乡", "TP"),
    ("小箬乡", "XR"),
)
_FIRST = (
    ("上", "S"),
    ("下", "X"),
    ("东", "D"),
    ("西", "X"),
    ("南", "N"),
    ("北", "B"),
    ("新", "X"),
    ("大", "D"),
    ("竹", "Z"),
    ("溪", "X"),
    ("洋", "Y"),
    ("坂", "B"),
    ("岭", "L"),
    ("桥", "Q"),
    ("江", "J"),
    ("湖", "H"),
)
_SECOND = (
    ("岐", "Q"),
    ("源", "Y"),
    ("头", "T"),
    ("口", "K"),
    ("厝", "C"),
    ("山", "S"),
    ("坑", "K"),
    ("里", "L"),
    ("埔", "P"),
    ("林", "L"),
    ("尾", "W"),
    ("墩", "D"),
)
LANES = ("侯官路", "溪边路", "上街", "下街", "榕树巷", "祠堂巷", "江滨路", "新村路", "后山路")


def village_names(n: int) -> list[tuple[str, str]]:
    """``n`` village (name, code) pairs: Houguan and Yanqi first, then made-up local names."""
    out = [("侯官村", "HG"), ("颜岐村", "YQ")]
    used_codes = {"HG", "YQ"}
    used_names = {"侯官村", "颜岐村"}
    round_no = 0
    while len(out) < n:
        for a, ca in _FIRST:
            for b, cb in _SECOND:
                if a == b:
                    continue
                name = f"{a}{b}村" if round_no == 0 else f"{a}{b}{round_no + 1}村"
                if name in used_names:
                    continue
                code = ca + cb
                k = 2
                while code in used_codes:
                    code = f"{ca}{cb}{k}"
                    k += 1
                out.append((name, code))
                used_codes.add(code)
                used_names.add(name)
                if len(out) >= n:
                    return out[:n]
        round_no += 1
    return out[:n]


@dataclass
class DemoLogin:
    username: str
    role: str
    unit: str
    phone: str = ""
    note: str = ""


@dataclass
class DemoSummary:
    townships: int = 0
    villages: int = 0
    grids: int = 0
    teams: int = 0
    households: int = 0
    members: int = 0
    users: int = 0
    logins: list[DemoLogin] = field(default_factory=list)


class _Gen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    # rng.random() with indexing: a few times faster than choice()/randint(), which
    # matters at county size.
    def pick(self, seq):
        return seq[int(self.rng.random() * len(seq))]

    def between(self, low: int, high: int) -> int:
        return low + int(self.rng.random() * (high - low + 1))

    def name(self) -> str:
        r = self.rng.random
        given = self.pick(GIVEN_CHARS)
        if r() < 0.75:
            given += self.pick(GIVEN_CHARS)
        return self.pick(SURNAMES) + given

    def mobile(self) -> str:
        return self.pick(MOBILE_PREFIXES) + f"{int(self.rng.random() * 10**8):08d}"

    def team_sizes(self, households: int, cap: int) -> list[int]:
        sizes: list[int] = []
        left = households
        choices = [s for s in (cap, cap - 1, cap - 2, cap - 3) if s >= 1]
        weights = [60, 25, 10, 5][: len(choices)]
        while left > 0:
            size = min(left, self.rng.choices(choices, weights)[0])
            sizes.append(size)
            left -= size
        return sizes


def build_demo(
    session: Session,
    *,
    households: int = HOUSEHOLDS_PER_VILLAGE,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Write the demo tree, households, members and users. The caller commits.

    ``progress`` is called with the number of households just written.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    gen = _Gen(seed)
    rng = gen.rng
    cap = service.team_max_households()
    now = utcnow()
    summary = DemoSummary()

    n_villages = max(1, round(households / HOUSEHOLDS_PER_VILLAGE))
    n_townships = math.ceil(n_villages / VILLAGES_PER_TOWNSHIP)
    per_village = [households // n_villages] * n_villages
    for i in range(households % n_villages):
        per_village[i] += 1

    unit_id = next_id(session, Unit)
    household_id = next_id(session, Household)
    member_id = next_id(session, Member)
    units: list[dict] = []

    def add_unit(kind: str, name: str, code: str, parent: dict | None, division: str = "") -> dict:
        nonlocal unit_id
        row = {
            "id": unit_id,
            "parent_id": parent["id"] if parent else None,
            "kind": kind,
            "name": name,
            "code": code,
            "division_code": division,
            "path": f"{parent['path'] if parent else '/'}{unit_id}/",
            "sort_path": ordering.sort_path(parent["sort_path"] if parent else None, name, unit_id),
            "depth": parent["depth"] + 1 if parent else 0,
            "lock_version": 0,
            "created_at": now,
        }
        unit_id += 1
        units.append(row)
        return row

    # More than one township: a county on top, so one cadre (and one sweep) can
    # cover the whole deployment.
    county = add_unit("county", *COUNTY, COUNTY_DIVISION) if n_townships > 1 else None
    townships = []
    for t in range(n_townships):
        name, code = TOWNSHIPS[t % len(TOWNSHIPS)]
        if t >= len(TOWNSHIPS):
            name, code = f"{name[:-1]}{t // len(TOWNSHIPS) + 1}{name[-1]}", f"{code}{t}"
        townships.append(add_unit("township", name, code, county, township_division(t)))

    # Each village is written as soon as it is made (its units, then its households with
    # their members): on PostgreSQL while the next village is being made.
    writer = OrderedWriter(session, progress)
    units_written = 0
    n_households_written = n_members_written = 0
    teams_by_village: list[tuple[dict, list[tuple[dict, list[dict]]]]] = []
    for v, ((vname, vcode), n_households) in enumerate(
        zip(village_names(n_villages), per_village, strict=True)
    ):
        township = townships[v // VILLAGES_PER_TOWNSHIP]
        village = add_unit(
            "village",
            vname,
            vcode,
            township,
            village_division(township["division_code"], v % VILLAGES_PER_TOWNSHIP),
        )
        centre = (26.05 + rng.uniform(-0.25, 0.25), 119.23 + rng.uniform(-0.3, 0.3))
        sizes = gen.team_sizes(n_households, cap)
        grids: list[tuple[dict, list[dict]]] = []
        household_rows: list[dict] = []
        member_rows: list[dict] = []
        door = 0
        for g in range(math.ceil(len(sizes) / TEAMS_PER_GRID)):
            grid = add_unit("grid", f"第{g + 1}网格", f"{g + 1:02d}", village)
            lane = rng.choice(LANES)
            flood_share = rng.choice((0.02, 0.05, 0.1, 0.2, 0.45))
            grid_centre = (
                centre[0] + rng.uniform(-0.01, 0.01),
                centre[1] + rng.uniform(-0.01, 0.01),
            )
            grid_teams: list[dict] = []
            for t, size in enumerate(sizes[g * TEAMS_PER_GRID : (g + 1) * TEAMS_PER_GRID]):
                team = add_unit("team", f"{t + 1}小队", f"{t + 1:02d}", grid)
                grid_teams.append(team)
                for seq in range(1, size + 1):
                    door += 1
                    flags = {
                        f: rng.random() < (flood_share if f == "flood_prone" else share)
                        for f, share in FLAG_SHARES.items()
                    }
                    if flags["elderly_alone"]:
                        flags["young_children"] = flags["pregnant"] = False
                    members = _members(gen, flags)
                    head = members[0]
                    token = service.new_qr_token()
                    household_rows.append(
                        {
                            "id": household_id,
                            "team_id": team["id"],
                            "seq": seq,
                            "code": code_of([vcode, grid["code"], team["code"]], seq),
                            "door_no": f"{door}号",
                            "address": f"{vname}{lane}{door}号",
                            "head_name": head["name"],
                            "phone": gen.mobile() if rng.random() < 0.95 else "",
                            "latitude": round(grid_centre[0] + rng.uniform(-0.003, 0.003), 6),
                            "longitude": round(grid_centre[1] + rng.uniform(-0.003, 0.003), 6),
                            **flags,
                            "qr_token_hash": plate_token_hash(token),
                            "qr_token_sealed": seal_plate_token(token),
                            "qr_rotated_at": None,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    for m in members:
                        m.update(id=member_id, household_id=household_id)
                        member_id += 1
                    member_rows.extend(members)
                    household_id += 1
            grids.append((grid, grid_teams))
        teams_by_village.append((village, grids))
        writer.put(Unit, units[units_written:])
        units_written = len(units)
        # Households with their members, batch by batch, so the bar moves evenly.
        m = 0
        for i in range(0, len(household_rows), BATCH):
            batch = household_rows[i : i + BATCH]
            last_id = batch[-1]["id"]
            start = m
            while m < len(member_rows) and member_rows[m]["household_id"] <= last_id:
                m += 1
            writer.put(Household, batch)
            writer.put(Member, member_rows[start:m], count=len(batch))
        n_households_written += len(household_rows)
        n_members_written += len(member_rows)
    writer.put(Unit, units[units_written:])  # a county or township with no village
    writer.close()

    summary.logins = _demo_users(session, gen, townships, teams_by_village, now)
    summary.users = session.scalar(select(func.count(User.id))) or 0
    fix_sequences(session, (Unit, Household, Member, User, RoleAssignment))
    service.bump_tree_version(session)
    session.flush()

    summary.townships = len(townships)
    summary.villages = n_villages
    summary.grids = sum(1 for u in units if u["kind"] == "grid")
    summary.teams = sum(1 for u in units if u["kind"] == "team")
    summary.households = n_households_written
    summary.members = n_members_written
    return summary


def _members(gen: _Gen, flags: dict[str, bool]) -> list[dict]:
    """The household's people, head first, consistent with its flags."""
    r = gen.rng
    surname_head = gen.name()
    out: list[dict] = []

    def person(name: str, relation: str, sex: str, year: int, phone: bool) -> dict:
        return {
            "name": name,
            "relation": relation,
            "sex": sex,
            "birth_year": year,
            "phone": gen.mobile() if phone else "",
        }

    if flags["elderly_alone"]:
        out.append(person(surname_head, "head", gen.pick("MF"), gen.between(1932, 1958), False))
        return out
    head_sex = "M" if r.random() < 0.8 else "F"
    head_year = gen.between(1950, 1995)
    if flags["young_children"] or flags["pregnant"]:
        head_year = gen.between(1982, 1998)
    out.append(person(surname_head, "head", head_sex, head_year, False))
    surname = surname_head[0]
    if r.random() < 0.85 or flags["pregnant"]:
        spouse_year = head_year + gen.between(-4, 4)
        if flags["pregnant"]:
            spouse_year = max(spouse_year, 1988)
        out.append(
            person(
                gen.name(),
                "spouse",
                "F" if head_sex == "M" else "M",
                min(spouse_year, 2004),
                r.random() < 0.6,
            )
        )
    for _ in range(gen.pick((0, 1, 1, 2, 2, 3))):
        year = head_year + gen.between(22, 34)
        if year > 2024:
            continue
        out.append(
            person(
                surname + gen.name()[1:],
                "child",
                gen.pick("MF"),
                year,
                year < 2006 and r.random() < 0.5,
            )
        )
    if flags["young_children"] and not any((m["birth_year"] or 0) >= 2019 for m in out):
        relation = "grandchild" if head_year < 1975 else "child"
        out.append(
            person(
                surname + gen.name()[1:], relation, gen.pick("MF"), gen.between(2019, 2024), False
            )
        )
    if head_year > 1970 and r.random() < 0.25:
        out.append(
            person(gen.name(), "parent", gen.pick("MF"), head_year - gen.between(24, 32), False)
        )
    return out


def _demo_users(
    session: Session,
    gen: _Gen,
    townships: list[dict],
    teams_by_village: list[tuple[dict, list[tuple[dict, list[dict]]]]],
    now,
) -> list[DemoLogin]:
    """Logins for every level: the few printed ones, plus a cadre per village, a grid
    member per grid and a team lead for most teams (one away, some teams with none,
    so routing fallbacks show)."""
    r = gen.rng
    password_hash = generate_password_hash(DEMO_PASSWORD)  # hashed once, shared
    user_id = next_id(session, User)
    role_id = next_id(session, RoleAssignment)
    users: list[dict] = []
    roles: list[dict] = []
    logins: list[DemoLogin] = []
    lead_phone = iter(range(1, 10**8))
    member_phone = iter(range(1, 10**8))

    def add(username, name, role, unit, phone=None, available=True, login_note=None) -> None:
        nonlocal user_id, role_id
        users.append(
            {
                "id": user_id,
                "username": username,
                "phone": phone,
                "name": name,
                "password_hash": password_hash,
                "active": True,
                "available": available,
                "created_at": now,
            }
        )
        roles.append(
            {
                "id": role_id,
                "user_id": user_id,
                "role": role,
                "unit_id": unit["id"] if unit else None,
                "created_at": now,
            }
        )
        if login_note is not None:
            logins.append(
                DemoLogin(username, role, unit["name"] if unit else "", phone or "", login_note)
            )
        user_id += 1
        role_id += 1

    add("admin", "系统管理员", "admin", None, login_note="")
    add("town", gen.name(), "cadre", townships[0], login_note="")
    for v, (village, grids) in enumerate(teams_by_village):
        first = v == 0
        add(
            "cadre" if first else f"cadre_{village['code'].lower()}",
            gen.name(),
            "cadre",
            village,
            login_note="" if first else None,
        )
        if first:
            add("station", gen.name(), "station_staff", village, login_note="")
        for g, (grid, teams) in enumerate(grids):
            gname = "grid" if first and g == 0 else f"grid_{village['code']}_{grid['code']}".lower()
            add(
                gname,
                gen.name(),
                "grid_member",
                grid,
                phone=f"138{next(member_phone):08d}",
                login_note="" if first and g == 0 else None,
            )
            for t, team in enumerate(teams):
                special = first and g == 0
                if special and t == 2:
                    continue  # a team with no lead: its grid member answers for it
                if not special and r.random() < 0.05:
                    continue
                phone = f"139{next(lead_phone):08d}"
                if special and t == 0:
                    add("lead", gen.name(), "team_lead", team, phone=phone, login_note="")
                elif special and t == 1:
                    add(
                        "lead_away",
                        gen.name(),
                        "team_lead",
                        team,
                        phone=phone,
                        available=False,
                        login_note="unavailable",
                    )
                else:
                    add(
                        f"lead_{village['code']}_{grid['code']}_{team['code']}".lower(),
                        gen.name(),
                        "team_lead",
                        team,
                        phone=phone,
                    )
    insert_rows(session, User, users)
    insert_rows(session, RoleAssignment, roles)
    return logins


def demo_logins(session: Session) -> list[DemoLogin]:
    """The printed demo logins that exist in this database (for ``--if-empty``)."""
    names = ("admin", "town", "cadre", "grid", "lead", "lead_away", "station")
    found = {u.username: u for u in session.scalars(select(User).where(User.username.in_(names)))}
    out = []
    for name in names:
        user = found.get(name)
        if user is None:
            continue
        for ra in user.roles:
            out.append(
                DemoLogin(
                    user.username,
                    ra.role,
                    ra.unit.name if ra.unit else "",
                    user.phone or "",
                    "" if user.available else "unavailable",
                )
            )
    return out
