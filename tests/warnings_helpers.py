"""A county deployment for the warnings tests: 闽侯县 (350121) → 甘蔗街道 (350121001) →
侯官村 (350121001201) and 颜岐村 (350121001202); and 连江县 (350122) → 琯头镇 → 塘头村
(350122100201), a county the CMA's 闽侯 warnings do not cover. Each village has a
cadre, one grid, two teams with leads, and households with coordinates."""

from __future__ import annotations

from pathlib import Path

from tests.factories import create_household, create_unit, create_user

FIXTURES = Path(__file__).parent / "fixtures" / "cap"

# Houguan's households stand inside the polygon fixture (26.00–26.10 N, 119.00–119.10 E),
# Yanqi's and Tangtou's outside it.
PLACES = {"侯官村": (26.05, 119.05), "颜岐村": (26.30, 119.40), "塘头村": (26.20, 119.60)}


def cap_file(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def village(parent, name: str, code: str, division: str, *, cadre: str, households: int = 2):
    v = create_unit("village", name, parent, code=code, division_code=division)
    grid = create_unit("grid", "第1网格", v)
    lat, lon = PLACES[name]
    out = {"village": v, "grid": grid, "teams": [], "leads": [], "households": []}
    for t in range(2):
        team = create_unit("team", f"{t + 1}小队", grid)
        out["teams"].append(team)
        out["leads"].append(create_user("team_lead", team, name=f"{name}{t + 1}队长"))
        for h in range(households):
            out["households"].append(
                create_household(
                    team,
                    latitude=lat + 0.001 * h,
                    longitude=lon + 0.001 * t,
                    flags=["elderly_alone"] if h == 0 else [],
                )
            )
    out["cadre"] = create_user("cadre", v, name=cadre)
    return out


def deployment() -> dict:
    county = create_unit("county", "闽侯县", code="MH", division_code="350121")
    township = create_unit("township", "甘蔗街道", county, code="GZ", division_code="350121001")
    other_county = create_unit("county", "连江县", code="LJ", division_code="350122")
    other_town = create_unit(
        "township", "琯头镇", other_county, code="GT", division_code="350122100"
    )
    return {
        "county": county,
        "township": township,
        "houguan": village(township, "侯官村", "HG", "350121001201", cadre="李书记"),
        "yanqi": village(township, "颜岐村", "YQ", "350121001202", cadre="陈书记"),
        "tangtou": village(other_town, "塘头村", "TT", "350122100201", cadre="林书记"),
        "county_cadre": create_user("cadre", county, name="县防汛办"),
        "admin": create_user("admin"),
    }


def post_cap(client, headers: dict, document: bytes, content_type: str = "application/cap+xml"):
    return client.post(
        "/api/v1/warnings", data=document, headers={**headers, "Content-Type": content_type}
    )
