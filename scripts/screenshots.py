"""Screenshots of the main pages at phone (360 px) and desktop (1280 px) width.

Builds a throwaway SQLite database in a temporary folder with demo-like data
(through the services, like any other path), serves the app on a free
loopback port in a thread, logs in as each role with headless Chromium and
saves ``docs/screenshots/<name>-<width>.png``; pages named in ``LANDSCAPE`` also
as a phone turned on its side (``<name>-740x360.png``), and pages named in
``ELEMENT`` as that part of the page only.

Add a page by appending to ``PAGES``: ``(name, path, role)``. ``path`` may use
the ids in ``Demo.ids`` (``{team_id}``, ``{household_id}`` ...); ``role`` is
``None`` (not logged in) or a key of ``Demo.logins``. Add ids a new page
needs in ``build_demo``.

Usage: scripts/screenshots [NAME ...]   (default: every page)
"""

from __future__ import annotations

import logging
import os
import random
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
OUT_DIR = PROJECT_DIR / "docs" / "screenshots"
WIDTHS = (360, 1280)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PASSWORD = "demo-pass-1"

# (name, path, role): the pages to photograph. Other domains append theirs.
PAGES: list[tuple[str, str, str | None]] = [
    ("login", "/login", None),
    ("tree", "/units", "cadre"),
    ("team", "/units/{team_id}", "cadre"),
    ("team-lead-view", "/units/{team_id}", "team_lead"),
    ("household", "/households/{household_id}", "cadre"),
    ("household-form", "/units/{roomy_team_id}/households/new", "cadre"),
    ("move", "/households/{household_id}/move", "cadre"),
    ("split", "/units/{full_team_id}/split", "cadre"),
    ("people", "/people", "cadre"),
    ("tasks", "/tasks/", "cadre"),
    ("task-dispatch", "/tasks/new", "cadre"),
    ("task-progress", "/tasks/{task_id}", "cadre"),
    ("task-progress-grid", "/tasks/{task_id}", "grid_member"),
    ("task-progress-telling", "/tasks/{telling_task_id}", "cadre"),
    ("task-team-lead", "/tasks/{task_id}/team", "team_lead"),
    ("escalations", "/tasks/escalations", "cadre"),
]

# Door plates (QR issue): the public page a household sees when it scans its
# plate (not logged in), a print sheet, and the red mailbox. Ids from add_demo_plates.
PAGES += [
    ("plate-household", "/h/{plate_token}", None),
    ("plate-replaced", "/h/{old_plate_token}", None),
    ("plate-sheet", "/units/{team_id}/plates/sheet", "cadre"),
    ("plates", "/units/{team_id}/plates", "cadre"),
    ("mailbox", "/mailbox", "team_lead"),
    ("mailbox-message", "/mailbox/{message_id}", "cadre"),
]

# The migrant-worker station (issue 15): its home, the counter form sent with
# mistakes (PREPARE below), placement, a newcomer, the dashboard and a broadcast's
# read receipts. Ids from add_demo_station.
PAGES += [
    ("station-home", "/station/", "station_staff"),
    ("station-register-errors", "/station/newcomers/new", "station_staff"),
    ("station-placement", "/station/newcomers/{unhoused_newcomer_id}/placement", "station_staff"),
    ("station-newcomer", "/station/newcomers/{housed_newcomer_id}", "station_staff"),
    ("station-dashboard", "/station/dashboard", "station_staff"),
    ("station-broadcast", "/station/broadcasts/{broadcast_id}", "station_staff"),
]


def _send_bad_registration(page) -> None:
    """The counter form sent with a mistyped ID number, no name and a short phone."""
    page.fill("input[name=id_number]", "35012119900101123")
    page.fill("input[name=phone]", "1370013")
    page.click("form[data-id-check] button[type=submit]")
    page.wait_for_load_state()


# name -> a step run on the loaded page before the picture (e.g. sending a form).
PREPARE = {"station-register-errors": _send_bad_registration}

# The team lead's "my team" page (issue 14): online at 360 px and turned on its side,
# offline with three taps waiting (its own login: the phone stays offline), a grid
# member's teams, and the silent leads on the progress page (shot before the lead's
# page is opened: opening it is a sign of life).
PAGES += [
    ("task-progress-silent", "/tasks/{task_id}", "cadre"),
    ("field", "/field", "team_lead"),
    ("field-offline", "/field", "team_lead_offline"),
    ("field-grid", "/field", "grid_member"),
]
PAGES += [
    ("warnings", "/warnings/", "cadre"),
    ("warning-draft", "/warnings/drafts/{draft_task_id}", "cadre"),
]
LANDSCAPE = {
    "field",
    "field-offline",
    "task-progress",
    "task-team-lead",
    "warnings",
    "warning-draft",
}
LANDSCAPE_SIZE = (740, 360)
ELEMENT = {"task-progress-silent": "#silent"}


def _tap_three_offline(page) -> None:
    """Three households confirmed with no network, then the page reloaded offline."""
    for _ in range(100):  # the service worker has kept a copy of the page
        if page.evaluate(
            "async () => !!(await navigator.serviceWorker.getRegistration())?.active"
            " && !!(await (await caches.open('vg-pages')).match(location.pathname))"
        ):
            break
        page.wait_for_timeout(100)
    page.context.set_offline(True)
    # The households not yet safe first (a tap makes them safe), then from the top.
    for _tap in range(3):
        rows = page.locator(".hh:not(.st-safe):not(.queued)")
        row = rows.first if rows.count() else page.locator(".hh:not(.queued)").first
        row.locator("button.tap-btn.safe").click()
        page.wait_for_timeout(150)
    page.reload()
    page.wait_for_selector("#netbar:not([hidden])")
    page.evaluate("window.scrollTo(0, 0)")  # the reload keeps the place; the bar is on top


PREPARE["field-offline"] = _tap_three_offline

# People and signing in without a password (issue 25): the people page, a lead's page
# (a grid member's view, with a link just made), a grid's sign-in sheet as the grid
# member prints it, and a used link opened again. Ids from add_demo_people.
PAGES += [
    ("person", "/people/{lead_user_id}", "grid_member"),
    ("sign-in-sheet", "/units/{grid_id}/sign-in-sheet", "grid_member"),
    ("sign-in-refused", "/in/{used_token}", None),
]


def _make_link(page) -> None:
    page.click("form[action$='/sign-in-link'] button[type=submit]")
    page.wait_for_load_state()


def _make_sheet(page) -> None:
    page.check("input[name=who][value=all]")
    page.click("form button.primary")
    page.wait_for_load_state()


PREPARE["person"] = _make_link
PREPARE["sign-in-sheet"] = _make_sheet

SURNAMES = "陈林黄张李王吴刘蔡杨郑许谢郭洪曾邱廖赖周叶苏庄吕江何"
GIVEN = [
    "秀英",
    "桂兰",
    "建华",
    "国强",
    "美玲",
    "志明",
    "丽华",
    "文斌",
    "玉珍",
    "金水",
    "春花",
    "宝珠",
    "永福",
    "德清",
    "淑芬",
    "炳坤",
    "雅琴",
    "少华",
    "海燕",
    "阿福",
]
# Rough share of households carrying each flag.
FLAG_SHARE = {
    "elderly_alone": 0.12,
    "disabled": 0.05,
    "young_children": 0.2,
    "pregnant": 0.03,
    "flood_prone": 0.15,
    "rental": 0.1,
    "party_member": 0.08,
    "veteran": 0.04,
}


@dataclass
class Demo:
    ids: dict[str, int] = field(default_factory=dict)
    # role -> (login, password)
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _phone(rng: random.Random) -> str:
    return (
        rng.choice(["138", "139", "137", "135", "158", "159", "188"])
        + f"{rng.randrange(10**8):08d}"
    )


def build_demo(seed: int = 7) -> Demo:
    """One village, three grids of four teams, 6-10 households a team; one login per role."""
    from village_grid.auth import service as auth_service
    from village_grid.extensions import db
    from village_grid.hierarchy import service

    rng = random.Random(seed)
    s = db.session
    demo = Demo()
    township = service.create_unit(
        s, None, kind="township", name="甘蔗街道", parent_id=None, code="GZ"
    )
    village = service.create_unit(
        s, None, kind="village", name="侯官村", parent_id=township.id, code="HG"
    )
    teams = []
    for g in range(1, 4):
        grid = service.create_unit(s, None, kind="grid", name=f"第{g}网格", parent_id=village.id)
        for t in range(1, 5):
            team = service.create_unit(s, None, kind="team", name=f"{g}-{t}小队", parent_id=grid.id)
            teams.append((grid, team))
    for i, (_grid, team) in enumerate(teams):
        n = 10 if i == 0 else rng.randint(6, 9)
        for k in range(n):
            head = _name(rng)
            members = [
                {
                    "name": head,
                    "relation": "head",
                    "sex": rng.choice("MF"),
                    "birth_year": rng.randint(1940, 1990),
                    "phone": "",
                }
            ]
            if rng.random() < 0.7:
                members.append(
                    {
                        "name": head[0] + rng.choice(GIVEN),
                        "relation": "spouse",
                        "sex": rng.choice("MF"),
                        "birth_year": rng.randint(1945, 1992),
                    }
                )
            if rng.random() < 0.5:
                members.append(
                    {
                        "name": head[0] + rng.choice(GIVEN),
                        "relation": "child",
                        "sex": rng.choice("MF"),
                        "birth_year": rng.randint(2005, 2022),
                    }
                )
            service.create_household(
                s,
                None,
                team_id=team.id,
                data={
                    "door_no": f"侯官路{10 + i * 12 + k}号",
                    "address": f"侯官村{team.name}",
                    "head_name": head,
                    "phone": _phone(rng) if rng.random() < 0.9 else "",
                    "latitude": round(26.03 + rng.random() / 100, 6),
                    "longitude": round(119.21 + rng.random() / 100, 6),
                    "flags": [f for f, p in FLAG_SHARE.items() if rng.random() < p],
                },
                members=members,
            )
    # The showcase household: flagged, with members and a landline.
    first_grid, first_team = teams[1]
    showcase = service.create_household(
        s,
        None,
        team_id=first_team.id,
        data={
            "door_no": "侯官路1号",
            "address": "侯官村东片江边",
            "head_name": "林秀英",
            "phone": "13805910001",
            "latitude": 26.031245,
            "longitude": 119.210876,
            "flags": ["elderly_alone", "flood_prone", "party_member"],
        },
        members=[
            {"name": "林秀英", "relation": "head", "sex": "F", "birth_year": 1941},
            {
                "name": "陈阿福",
                "relation": "child",
                "sex": "M",
                "birth_year": 1968,
                "phone": "0591-22876543",
            },
        ],
    )

    def user(role: str, unit_id: int | None, username: str, name: str) -> None:
        u = auth_service.create_user(
            s, username=username, password=PASSWORD, name=name, phone=_phone(rng)
        )
        auth_service.assign_role(s, None, user=u, role=role, unit_id=unit_id)

    user("cadre", village.id, "cadre", "陈书记")
    user("grid_member", first_grid.id, "grid1", "王网格")
    user("team_lead", first_team.id, "lead", "李队长")
    for _grid, team in teams[2:]:
        user("team_lead", team.id, f"lead{team.id}", _name(rng))
    user("admin", None, "admin", "管理员")
    s.commit()

    demo.ids.update(
        village_id=village.id,
        grid_id=first_grid.id,
        team_id=first_team.id,
        full_team_id=teams[0][1].id,
        roomy_team_id=first_team.id,
        household_id=showcase.id,
    )
    for role, login in [
        ("cadre", "cadre"),
        ("grid_member", "grid1"),
        ("team_lead", "lead"),
        ("admin", "admin"),
    ]:
        demo.logins[role] = (login, PASSWORD)
    demo.logins["team_lead_offline"] = demo.logins["team_lead"]  # a second phone
    add_demo_task(demo)
    add_demo_warnings(demo)
    return demo


def add_demo_warnings(demo: Demo) -> None:
    """The village under 闽侯县's codes; a rainstorm warning sent, a typhoon's draft waiting."""
    from village_grid.extensions import db
    from village_grid.hierarchy.units import update_unit
    from village_grid.models import Unit
    from village_grid.tasks.drafts import send_draft
    from village_grid.warnings.intake import receive

    s = db.session
    village = s.get(Unit, demo.ids["village_id"])
    update_unit(s, None, village.parent_id, division_code="350121001")
    update_unit(s, None, village.id, division_code="350121001201")
    fixtures = PROJECT_DIR / "tests" / "fixtures" / "cap"
    rain, _new = receive(s, None, (fixtures / "rainstorm_village.xml").read_bytes(), via="feed")
    send_draft(s, None, rain.drafts[0].task_id)
    typhoon, _new = receive(s, None, (fixtures / "typhoon_county.xml").read_bytes(), via="api")
    s.commit()
    demo.ids.update(draft_task_id=typhoon.drafts[0].task_id)


def add_demo_task(demo: Demo, seed: int = 3) -> None:
    """A flood check sent 40 minutes ago: most households reached, two calls for help."""
    from datetime import timedelta

    from sqlalchemy import select

    from village_grid.extensions import db
    from village_grid.models import User
    from village_grid.models.base import utcnow
    from village_grid.tasks import labels
    from village_grid.tasks.dispatch import dispatch_task
    from village_grid.tasks.membership import members
    from village_grid.tasks.statuses import record_status

    s = db.session
    rng = random.Random(seed)
    cadre = s.scalar(select(User).where(User.username == "cadre"))
    start = utcnow() - timedelta(minutes=40)
    task = dispatch_task(
        s,
        cadre,
        kind="sweep",
        subkind="flood",
        title="防汛排查：台风格美",
        unit_id=demo.ids["village_id"],
        deadline_minutes=60,
        now=start,
    )
    m = members(task)
    households = list(s.scalars(select(m.c.household_id).order_by(m.c.household_id)))
    helped = 0
    for i, household_id in enumerate(households):
        if rng.random() < 0.3:
            continue
        extra = {}
        status = rng.choices(["safe", "not_home", "unreachable"], [90, 7, 3])[0]
        if helped < 2 and rng.random() < 0.06:
            helped += 1
            status = "needs_help"
            extra = {
                "help_kind": ["flooding", "medical"][helped - 1],
                "note": ["一楼进水约30厘米，需要抽水泵", "老人腿脚不便，需要转移"][helped - 1],
            }
        record_status(
            s,
            cadre,
            task_id=task.id,
            household_id=household_id,
            status=status,
            now=start + timedelta(minutes=3 + 34 * (i / len(households)) ** 0.7),
            **extra,
        )
    # The showcase household calls for help from its door plate: the lead's page lists it.
    record_status(
        s,
        None,
        task_id=task.id,
        household_id=demo.ids["household_id"],
        status="needs_help",
        help_kind="medical",
        note="老人摔倒，腿疼走不了路",
        now=start + timedelta(minutes=39),  # after the lead's round
    )
    s.commit()
    demo.ids["task_id"] = task.id
    # A county-size sweep just sent: its people are told by the worker a moment later.
    inline, labels.TELL_INLINE_TEAMS = labels.TELL_INLINE_TEAMS, 0
    try:
        telling = dispatch_task(
            s,
            cadre,
            kind="sweep",
            subkind="typhoon",
            title="台风过境后全村排查",
            unit_id=demo.ids["village_id"],
            deadline_minutes=120,
        )
    finally:
        labels.TELL_INLINE_TEAMS = inline
    s.commit()
    demo.ids["telling_task_id"] = telling.id


def add_demo_plates(demo: Demo) -> None:
    """Door-plate demo: the showcase household's token, a replaced plate, red-mailbox notes."""
    from village_grid.extensions import db
    from village_grid.models import Household, User
    from village_grid.qr import mailbox, service

    s = db.session
    showcase = s.get(Household, demo.ids["household_id"])
    lead = s.query(User).filter_by(username="lead").one()
    first = mailbox.create_message(
        s, showcase, category="facilities", text="村口路灯坏了三天，晚上看不见路。"
    )
    mailbox.reply(s, lead, first.id, "已报村委会，明天上午电工来换灯。")
    second = mailbox.create_message(
        s,
        showcase,
        category="safety",
        text="江边护栏松了，小孩常在那里玩，担心掉下去。",
        callback_phone="13805910001",
    )
    other = s.query(Household).filter(Household.id != showcase.id).first()
    old_token = other.qr_token
    service.rotate_household(s, None, other.id)
    s.commit()
    demo.ids.update(plate_token=showcase.qr_token, old_plate_token=old_token, message_id=second.id)


def add_demo_people(demo: Demo, app) -> None:
    """Leads of the first grid who sign in by link (no password), one who has signed in
    on a phone with a link that is then opened again (the refused page)."""
    from village_grid.auth import service as auth_service
    from village_grid.auth import signin
    from village_grid.extensions import db
    from village_grid.models import Unit, User

    s = db.session
    grid = s.get(Unit, demo.ids["grid_id"])
    teams = [u for u in grid.children if u.kind == "team"]
    names = [("张桂兰", "13905910021"), ("林德清", "13905910022"), ("郑阿福", "13905910023")]
    people = []
    for team, (name, phone) in zip(teams[1:], names, strict=False):
        person = auth_service.create_person(s, name=name, phone=phone)
        auth_service.assign_role(s, None, user=person, role="team_lead", unit_id=team.id)
        people.append(person)
    s.commit()
    grid_member = s.query(User).filter_by(username="grid1").one()
    used = signin.make_link(
        s, grid_member, people[0].id, secret_key=app.config["SECRET_KEY"], days=7
    )
    s.commit()
    signin.redeem(
        s,
        secret_key=app.config["SECRET_KEY"],
        token=used.token,
        client_addr="127.0.0.1",
        user_agent="Mozilla/5.0 (Linux; Android 10; V2036A) AppleWebKit/537.36 Chrome/120 Mobile",
    )
    s.commit()
    demo.ids.update(lead_user_id=people[0].id, used_token=used.token)


def add_demo_station(demo: Demo, seed: int = 5) -> None:
    """The station's month: 36 newcomers from six counties (most housed, some with a
    job referral), two trainings, one departure, and a missing-child broadcast read by
    most team leads. Logs in as ``station_staff``."""
    from datetime import timedelta

    from sqlalchemy import select
    from stdnum.cn import ric

    from village_grid.auth import service as auth_service
    from village_grid.extensions import db
    from village_grid.models import TaskTeam, User
    from village_grid.models.base import utcnow
    from village_grid.station import (
        broadcast,
        departures,
        placement,
        referrals,
        registration,
        trainings,
    )
    from village_grid.station.fields import local_today
    from village_grid.tasks.statuses import mark_notice_read

    s = db.session
    rng = random.Random(seed)
    village_id = demo.ids["village_id"]
    staff = auth_service.create_user(
        s, username="station", password=PASSWORD, name="驿站小郑", phone="13905910099"
    )
    auth_service.assign_role(s, None, user=staff, role="station_staff", unit_id=village_id)
    demo.logins["station_staff"] = ("station", PASSWORD)
    counties = ["510722", "430524", "522422", "452424", "350181", "350121"]
    skills = ["电焊", "叉车", "普工", "厨师", "电工", "装卸", ""]
    today = local_today()
    people = []
    for i in range(36):
        first17 = f"{rng.choice(counties)}{rng.randint(1975, 2004)}{rng.randint(1, 12):02d}"
        first17 += f"{rng.randint(1, 28):02d}{rng.randint(100, 999)}"
        arrived = today - timedelta(days=0 if i < 3 else rng.randint(1, 40))
        person = registration.register(
            s,
            staff,
            village_id=village_id,
            data={
                "name": _name(rng),
                "id_number": first17 + ric.calc_check_digit(first17 + "0"),
                "phone": _phone(rng),
                "arrived_on": arrived.isoformat(),
                "skills": rng.choice(skills),
                "wants_work": rng.random() < 0.7,
                "employer": rng.choice(["", "", "港务集团", "江阴船厂"]),
            },
        )
        people.append(person)
    s.commit()
    for i, person in enumerate(people[3:30]):
        placement.place(s, staff, person.id, door_no=f"港口路{20 + i}号")
        s.commit()
    for person in people[5:17]:
        referrals.refer(
            s,
            staff,
            person.id,
            {
                "employer": rng.choice(["港务集团", "江阴船厂", "福耀配套厂"]),
                "position": rng.choice(["装卸工", "焊工", "普工"]),
                "outcome": rng.choice(["pending", "hired", "hired", "not_hired"]),
            },
        )
    for subject, title in [("fire_safety", "消防安全第一课"), ("legal", "劳动合同与工资")]:
        training = trainings.create_training(
            s, staff, village_id=village_id, data={"subject": subject, "title": title}
        )
        trainings.record_attendance(s, staff, training.id, [p.id for p in rng.sample(people, 14)])
    departures.depart(s, staff, people[29].id, departed_on="", reason="job_ended", to="四川绵阳")
    sent_at = utcnow() - timedelta(minutes=25)
    item = broadcast.send(
        s,
        staff,
        village_id=village_id,
        data={
            "kind": "missing_person",
            "title": "寻找走失儿童",
            "description": "男孩，6岁，身高约1.1米，穿红色外套、蓝色运动鞋",
            "last_seen": "港口路菜市场门口，今天下午3点",
            "phone": "13905910099",
            "deadline_minutes": 15,
        },
        now=sent_at,
    )
    told = s.scalars(select(TaskTeam.assignee_id).where(TaskTeam.task_id == item.task_id))
    for n, uid in enumerate(sorted({u for u in told if u})[:-2]):
        mark_notice_read(s, s.get(User, uid), item.task_id, now=sent_at + timedelta(minutes=2 + n))
    s.commit()
    demo.ids.update(
        unhoused_newcomer_id=people[0].id,
        housed_newcomer_id=people[5].id,
        broadcast_id=item.id,
    )


def make_app(tmp: Path):
    os.environ["INSTANCE_PATH"] = str(tmp / "instance")
    from flask_migrate import upgrade

    from village_grid import create_app

    app = create_app(
        {
            "SECRET_KEY": "screenshots-only",
            "ID_NUMBER_KEY": "screenshots-only-id-number-key-0123",
            "DATABASE_URL": f"sqlite:///{tmp / 'screens.db'}",
            "RATELIMIT_ENABLED": False,
            "BASE_URL": "http://127.0.0.1",
        }
    )
    with app.app_context():
        upgrade()
    return app


def take(app, demo: Demo, pages, out_dir: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    out_dir.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
            )
            sizes = [(w, 800, f"{w}") for w in WIDTHS]
            sizes.append((*LANDSCAPE_SIZE, "{}x{}".format(*LANDSCAPE_SIZE)))
            for width, height, suffix in sizes:
                contexts: dict[str | None, object] = {}
                for name, path, role in pages:
                    if (width, height) == LANDSCAPE_SIZE and name not in LANDSCAPE:
                        continue
                    if role not in contexts:
                        ctx = browser.new_context(
                            viewport={"width": width, "height": height},
                            locale="zh-CN",
                            timezone_id="Asia/Shanghai",  # the phone's clock, as the pages'
                            device_scale_factor=1,
                        )
                        if role is not None:
                            login, password = demo.logins[role]
                            p = ctx.new_page()
                            p.goto(f"{base}/login")
                            p.fill("input[name=login]", login)
                            p.fill("input[name=password]", password)
                            p.click("button[type=submit]")
                            p.wait_for_load_state()
                            p.close()
                        contexts[role] = ctx
                    page = contexts[role].new_page()
                    url = base + path.format(**demo.ids)
                    res = page.goto(url)
                    if name in PREPARE:
                        PREPARE[name](page)
                    if res is None or res.status >= 400:
                        print(
                            f"warning: {name}: {url} answered {res.status if res else '?'}",
                            file=sys.stderr,
                        )
                    target = out_dir / f"{name}-{suffix}.png"
                    if name in ELEMENT:
                        page.locator(ELEMENT[name]).screenshot(path=str(target))
                    else:
                        page.screenshot(path=str(target), full_page=True)
                    page.close()
                    saved.append(target)
                    print(f"  {target.relative_to(PROJECT_DIR)}")
                for ctx in contexts.values():
                    ctx.close()
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
    return saved


def main(argv: list[str]) -> int:
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: install Debian's chromium package", file=sys.stderr)
        return 1
    wanted = set(argv)
    pages = [p for p in PAGES if not wanted or p[0] in wanted]
    unknown = wanted - {p[0] for p in PAGES}
    if unknown:
        print(f"unknown page(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="vg-screens-") as tmp:
        app = make_app(Path(tmp))
        with app.app_context():
            demo = build_demo()
            add_demo_plates(demo)
            add_demo_station(demo)
            add_demo_people(demo, app)
        take(app, demo, pages, OUT_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
