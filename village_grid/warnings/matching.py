"""Which villages a warning's area covers, and (for a polygon or a circle) which of
their teams.

- By code: a village is covered when its division code — or, if it has none, the
  code of the nearest unit above it that has one — lies inside one of the area's
  geocodes (``hierarchy/divisions.py``: prefix after the zero padding). The whole
  village is swept.
- By shape: households with coordinates inside a ``<polygon>`` (shapely) or within a
  ``<circle>`` (great-circle distance) cover their team; the village's sweep reaches
  those teams. Households without coordinates are covered only by code.

Read-only; one query for the coded units, one per shape for the households in its
bounding box.
"""

from __future__ import annotations

import math
from collections import defaultdict

import networkx as nx
import shapely
from shapely.geometry import Polygon
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.hierarchy import divisions
from village_grid.models import Household, Unit
from village_grid.models.units import VILLAGE_KINDS
from village_grid.tasks import routing
from village_grid.tasks.graph import get_graph

EARTH_KM = 6371.0088
KM_PER_DEGREE = 111.32


def village_of(g: nx.DiGraph, unit_id: int) -> int | None:
    """The village (or community) a unit is in, or is; None above the villages."""
    for uid in reversed(routing.ancestors(g, unit_id)):
        if g.nodes[uid]["kind"] in VILLAGE_KINDS:
            return uid
    return None


def by_code(session: Session, g: nx.DiGraph, geocodes: list[str]) -> set[int]:
    """Villages whose own code, or nearest code above them, lies inside a geocode."""
    areas = [a for a in (divisions.normalise(c) for c in geocodes) if a]
    if not areas:
        return set()
    coded = dict(
        session.execute(select(Unit.id, Unit.division_code).where(Unit.division_code != "")).all()
    )
    covered = {uid for uid, code in coded.items() if any(divisions.inside(code, a) for a in areas)}
    if not covered:
        return set()
    villages = set()
    for uid in g.nodes:
        if g.nodes[uid]["kind"] not in VILLAGE_KINDS:
            continue
        nearest = next((a for a in reversed(routing.ancestors(g, uid)) if a in coded), None)
        if nearest in covered:
            villages.add(uid)
    return villages


def _households_in_box(session: Session, west, south, east, north) -> list[tuple]:
    return session.execute(
        select(Household.team_id, Household.longitude, Household.latitude).where(
            Household.latitude.between(south, north), Household.longitude.between(west, east)
        )
    ).all()


def _distance_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def teams_in_shapes(session: Session, polygons: list, circles: list) -> set[int]:
    """Teams with at least one household inside a polygon or within a circle."""
    teams: set[int] = set()
    for ring in polygons:
        shape = Polygon(ring)
        if not shape.is_valid:
            shape = shape.buffer(0)  # a self-crossing ring: its area as drawn
        rows = _households_in_box(session, *shape.bounds)
        if rows:
            inside = shapely.contains_xy(shape, [r[1] for r in rows], [r[2] for r in rows])
            teams.update(r[0] for r, hit in zip(rows, inside, strict=True) if hit)
    for lon, lat, radius in circles:
        dlat = radius / KM_PER_DEGREE
        dlon = radius / (KM_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
        rows = _households_in_box(session, lon - dlon, lat - dlat, lon + dlon, lat + dlat)
        teams.update(t for t, x, y in rows if _distance_km(lon, lat, x, y) <= radius)
    return teams


def affected(session: Session, areas: list[dict]) -> dict[int, list[int] | None]:
    """Village id → None (the whole village, covered by code) or the ids of its teams
    covered by a shape; villages the area does not reach are left out."""
    g = get_graph(session)
    whole: set[int] = set()
    teams: dict[int, set[int]] = defaultdict(set)
    for area in areas:
        whole |= by_code(session, g, area.get("geocodes") or [])
        for team_id in teams_in_shapes(
            session, area.get("polygons") or [], area.get("circles") or []
        ):
            village = village_of(g, team_id) if team_id in g else None
            if village is not None:
                teams[village].add(team_id)
    out: dict[int, list[int] | None] = {v: None for v in whole}
    for village, ids in teams.items():
        if village not in whole:
            out[village] = sorted(ids)
    return out
