"""Routing over the unit tree held in a networkx graph. Pure: graph in, decisions out.

No Flask, no database session. :mod:`village_grid.tasks.graph` loads the
rows and builds the graph once per process (rebuilt when the tree version
changes); dispatch, escalation and progress turn the decisions below into
rows and words.

Nodes are unit ids with attributes ``kind``, ``name``, ``path``, ``parent``,
``depth`` and ``people``: the responsible people on that unit, a list of
:class:`Person` (team leads on teams, grid members on grids, cadres on
villages and townships). Edges go from parent to child.

Who answers for a team: its team lead; if it has none, or the lead is away,
the grid member; then the village cadre; then the township. Escalation walks
the same way up: team lead → grid member → village cadre → township.
"""

from __future__ import annotations

import struct
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import add

import networkx as nx

# Roles that answer for a unit, in the order tried on one unit.
RESPONSIBLE_ROLES = ("team_lead", "grid_member", "cadre")
# Kinds at the top of the tree: a cadre there is labelled "township".
TOWNSHIP_KINDS = ("county", "township", "street")
# Unit kinds whose missing person is worth saying in words (a "building"
# level without anyone on it is passed over silently).
EXPECTED_ROLE = {
    "team": "team_lead",
    "grid": "grid_member",
    "village": "cadre",
    "community": "cadre",
    "township": "cadre",
    "street": "cadre",
    "county": "cadre",
}


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who answers for a unit."""

    id: int
    name: str
    phone: str = ""
    role: str = ""
    available: bool = True
    active: bool = True

    @property
    def on_duty(self) -> bool:
        return self.available and self.active


@dataclass(frozen=True)
class Skip:
    """A level routing passed over, and why: ``none`` (nobody there) or ``away``."""

    unit_id: int
    unit_name: str
    role: str
    problem: str
    person: Person | None = None


@dataclass(frozen=True)
class Stop:
    """One step of the escalation chain: a unit and the person on duty there."""

    unit_id: int
    unit_kind: str
    unit_name: str
    role: str  # team_lead | grid_member | cadre | township
    person: Person


@dataclass(frozen=True)
class Decision:
    """Who answers for one team and why."""

    team_id: int
    team_name: str
    assignee: Person | None
    role: str  # team_lead | grid_member | cadre | township | "" (nobody)
    unit_id: int | None  # the unit whose person it went to
    unit_name: str = ""
    skipped: tuple[Skip, ...] = field(default_factory=tuple)


# --- building -------------------------------------------------------------------


def build_graph(
    units: Iterable[tuple],
    people: Iterable[tuple[int, str, int, str, str, bool, bool]] = (),
    *,
    version: int = 0,
) -> nx.DiGraph:
    """The tree as a DiGraph.

    ``units``: ``(id, parent_id, kind, name, code, path[, sort_path])`` rows; children
    come in ``sort_path`` order (the natural order, ``hierarchy/ordering.py``), then by code.
    ``people``: ``(unit_id, role, user_id, name, phone, available, active)`` rows;
    roles other than :data:`RESPONSIBLE_ROLES` are ignored.
    """
    # A district's graph is held by every process (about 300 MB at a million households):
    # the words every unit repeats (its kind, a role) are kept once, and the sort keys
    # are used while the graph is indexed and then let go.
    g = nx.DiGraph(version=version)
    edges = []
    child_key: dict[int, tuple] = {}
    for uid, parent_id, kind, name, code, path, *sort_path in units:
        g.add_node(
            uid,
            kind=sys.intern(kind),
            name=name,
            path=path,
            depth=path.count("/") - 2,
            parent=parent_id,
            people=(),
        )
        child_key[uid] = (sort_path[0] if sort_path else "", code or "", name, uid)
        if parent_id is not None:
            edges.append((parent_id, uid))
    g.add_edges_from(e for e in edges if e[0] in g)
    by_unit: dict[int, list[Person]] = defaultdict(list)
    for unit_id, role, user_id, name, phone, available, active in people:
        if role in RESPONSIBLE_ROLES and unit_id in g:
            by_unit[unit_id].append(
                Person(
                    user_id,
                    name or "",
                    phone or "",
                    sys.intern(role),
                    bool(available),
                    bool(active),
                )
            )
    for unit_id, persons in by_unit.items():
        persons.sort(key=lambda p: (RESPONSIBLE_ROLES.index(p.role), p.id))
        g.nodes[unit_id]["people"] = tuple(persons)
    _index(g, child_key.__getitem__)
    return g


def _index(g: nx.DiGraph, child_key: Callable[[int], tuple]) -> None:
    """Precompute what every request needs, once per build: each node's
    ancestors, the depth-first order of the whole tree (children in the natural order,
    ``child_key``) and each subtree's size, so a subtree is a slice of that order."""
    info = {n: g.nodes[n] for n in g}
    order: list[int] = []
    roots = sorted((n for n in g if g.in_degree(n) == 0), key=child_key)
    stack = [(r, ()) for r in reversed(roots)]
    while stack:
        uid, above = stack.pop()
        anc = (*above, uid)
        info[uid]["anc"] = anc
        node = info[uid]
        node["row"] = (uid, node["kind"], node["name"], node["parent"], node["depth"])
        order.append(uid)
        children = sorted(g.successors(uid), key=child_key)
        stack.extend((c, anc) for c in reversed(children))
    index = {uid: i for i, uid in enumerate(order)}
    size = dict.fromkeys(order, 1)
    for uid in reversed(order):
        parent = info[uid]["parent"]
        if parent in size:
            size[parent] += size[uid]
    g.graph.update(info=info, order=order, index=index, size=size)


def ancestors(g: nx.DiGraph, unit_id: int) -> list[int]:
    """Ids from the root down to and including ``unit_id``."""
    return list(g.graph["info"][unit_id]["anc"])


def in_subtree(g: nx.DiGraph, unit_id: int, root_id: int) -> bool:
    return g.nodes[unit_id]["path"].startswith(g.nodes[root_id]["path"])


def role_label(g: nx.DiGraph, unit_id: int, role: str) -> str:
    """``cadre`` on a township-level unit is reported as ``township``."""
    if role == "cadre" and g.nodes[unit_id]["kind"] in TOWNSHIP_KINDS:
        return "township"
    return role


def person_on_duty(g: nx.DiGraph, unit_id: int, person_id: int | None) -> Person | None:
    """``person_id`` as the graph knows them now, if they answer for ``unit_id`` and are
    on duty there (a lead marked away since a dispatch is away, not silent)."""
    if unit_id not in g or person_id is None:
        return None
    person = next((p for p in g.nodes[unit_id]["people"] if p.id == person_id), None)
    return person if person is not None and person.on_duty else None


def _on_duty(g: nx.DiGraph, unit_id: int) -> tuple[Person | None, Skip | None]:
    node = g.nodes[unit_id]
    people = node["people"]
    for p in people:
        if p.on_duty:
            return p, None
    expected = EXPECTED_ROLE.get(node["kind"])
    if people:
        return None, Skip(unit_id, node["name"], people[0].role, "away", people[0])
    if expected:
        return None, Skip(unit_id, node["name"], expected, "none")
    return None, None


# --- routing down -----------------------------------------------------------------


def responsible(g: nx.DiGraph, team_id: int) -> Decision:
    """Who answers for ``team_id``: the nearest person on duty from the team up."""
    skipped: list[Skip] = []
    team = g.nodes[team_id]
    for uid in reversed(ancestors(g, team_id)):
        person, skip = _on_duty(g, uid)
        if person is not None:
            return Decision(
                team_id,
                team["name"],
                person,
                role_label(g, uid, person.role),
                uid,
                g.nodes[uid]["name"],
                tuple(skipped),
            )
        if skip is not None:
            skipped.append(skip)
    return Decision(team_id, team["name"], None, "", None, "", tuple(skipped))


def route(g: nx.DiGraph, team_ids: Iterable[int]) -> dict[int, Decision]:
    """:func:`responsible` for many teams."""
    return {t: responsible(g, t) for t in team_ids if t in g}


def escalation_chain(g: nx.DiGraph, team_id: int) -> list[Stop]:
    """The people a case climbs through, from the team up: team lead (if on
    duty) → grid member → village cadre → township. Levels with nobody on duty
    are skipped."""
    chain = []
    for uid in reversed(ancestors(g, team_id)):
        person, _skip = _on_duty(g, uid)
        if person is not None:
            node = g.nodes[uid]
            chain.append(
                Stop(uid, node["kind"], node["name"], role_label(g, uid, person.role), person)
            )
    return chain


def escalation_stop(
    g: nx.DiGraph, team_id: int, level: int, *, besides: int | None = None
) -> Stop | None:
    """Who holds a case of ``team_id`` at escalation ``level`` (1 = the first
    person on duty above the team, usually the grid member). None past the top.

    ``besides``: a person the case is about, passed over (a notice the team's
    grid member was told for a team without a lead goes to the cadre first)."""
    above = [
        s
        for s in escalation_chain(g, team_id)
        if s.unit_id != team_id and (besides is None or s.person.id != besides)
    ]
    return above[level - 1] if 1 <= level <= len(above) else None


# --- filters and roll-ups ---------------------------------------------------------


def filter_paths(g: nx.DiGraph, target_id: int, unit_ids: Iterable[int]) -> list[str]:
    """Paths of the chosen sub-units, each of which must lie under the target.

    Raises ``ValueError`` listing the ids that are unknown or outside the target.
    Nested choices collapse to the outermost.
    """
    bad = [u for u in unit_ids if u not in g or not in_subtree(g, u, target_id)]
    if bad:
        raise ValueError(bad)
    paths = sorted({g.nodes[u]["path"] for u in unit_ids}, key=len)
    kept: list[str] = []
    for p in paths:
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return kept


def rollup_vectors(
    g: nx.DiGraph, root_id: int, team_vectors: dict[int, list[int]]
) -> dict[int, list[int]]:
    """Sum count vectors of teams into every unit of ``root_id``'s subtree.

    Walks the subtree's slice of the precomputed depth-first order backwards,
    so every unit has its children's sums before it adds itself to its
    parent: one vector addition per unit reached. ``team_vectors`` is
    extended in place and returned.
    """
    info, order, index, size = (
        g.graph["info"],
        g.graph["order"],
        g.graph["index"],
        g.graph["size"],
    )
    vectors = team_vectors
    start = index[root_id]
    for uid in reversed(order[start : start + size[root_id]]):
        vec = vectors.get(uid)
        if vec is None or uid == root_id:
            continue
        parent = info[uid]["parent"]
        pvec = vectors.get(parent)
        vectors[parent] = list(vec) if pvec is None else list(map(add, pvec, vec))
    return vectors


def rollup(
    g: nx.DiGraph, team_counts: Mapping[int, Mapping[str, int]], keys: Iterable[str]
) -> dict[int, dict[str, int]]:
    """Sum per-team counts into every unit above each team (and the team itself)."""
    keys = tuple(keys)
    info = g.graph["info"]
    vectors = {t: [c.get(k, 0) for k in keys] for t, c in team_counts.items() if t in info}
    for root in {info[t]["anc"][0] for t in vectors}:
        rollup_vectors(g, root, vectors)
    return {uid: dict(zip(keys, vec, strict=True)) for uid, vec in vectors.items()}


def tree_order(g: nx.DiGraph, root_id: int, keep: Callable[[int], bool]) -> list[int]:
    """Units of the subtree in depth-first order (children by code, then name),
    only those ``keep`` accepts (a skipped unit's subtree is skipped too)."""
    order, index, size = g.graph["order"], g.graph["index"], g.graph["size"]
    out: list[int] = []
    i = index[root_id]
    end = i + size[root_id]
    while i < end:
        uid = order[i]
        if keep(uid):
            out.append(uid)
            i += 1
        else:
            i += size[uid]
    return out


def flat_tree(g: nx.DiGraph) -> dict:
    """Plain lists over the whole tree's depth-first order, built once per
    graph (kept in ``g.graph``): ``pos`` (unit id → position), ``parent``
    (parent's position, -1 at a root), ``end`` (one past the subtree's last
    position), ``rows`` (``(id, kind, name, parent_id, depth)``) and ``paths``.
    Per-request roll-ups index these instead of walking the graph."""
    flat = g.graph.get("flat")
    if flat is None:
        info, order, index, size = (
            g.graph["info"],
            g.graph["order"],
            g.graph["index"],
            g.graph["size"],
        )
        flat = {
            "pos": index,
            "parent": [index.get(info[u]["parent"], -1) for u in order],
            "end": [index[u] + size[u] for u in order],
            "rows": [info[u]["row"] for u in order],
            "paths": [info[u]["path"] for u in order],
        }
        g.graph["flat"] = flat
    return flat


def rollup_flat(flat: dict, start: int, packed: list[int]) -> None:
    """Add every value of ``packed`` (indexed by position) into its parent's,
    within the subtree starting at ``start``, deepest first: afterwards each
    unit holds its subtree's sum. Values are numbers (packed count vectors
    in the service), so one addition per unit reached."""
    parent = flat["parent"]
    for i in range(flat["end"][start] - 1, start, -1):
        v = packed[i]
        if v:
            packed[parent[i]] += v


# Count vectors packed into one int, one 64-bit field per count, so a
# roll-up adds whole vectors with one integer addition.
PACK_BITS = 64
_PACK_MASK = (1 << PACK_BITS) - 1


def pack_unit(field_no: int) -> int:
    """The packed vector with 1 in field ``field_no`` (0 is the first)."""
    return 1 << (PACK_BITS * field_no)


def unpack(value: int, width: int) -> list[int]:
    """The ``width`` counts of one packed vector."""
    return [(value >> (PACK_BITS * k)) & _PACK_MASK for k in range(width)]


def unpack_reached(flat: dict, start: int, packed: list[int], width: int):
    """``(position, counts)`` for every unit of the subtree at ``start`` whose
    packed vector is not zero, in tree order (a unit at zero has nothing
    under it). Unpacks them all in one go through :mod:`struct`."""
    values = packed[start : flat["end"][start]]
    positions = compress(range(start, start + len(values)), values)
    nbytes = PACK_BITS // 8 * width
    blob = b"".join(map(int.to_bytes, compress(values, values), repeat(nbytes), repeat("little")))
    return zip(positions, struct.iter_unpack(f"<{width}Q", blob), strict=True)


def responsible_cached(g: nx.DiGraph, team_id: int) -> Decision:
    """:func:`responsible`, remembered for the life of this graph (a graph is
    rebuilt whenever the tree, its people or their availability change)."""
    memo = g.graph.setdefault("responsible", {})
    d = memo.get(team_id)
    if d is None:
        d = memo[team_id] = responsible(g, team_id)
    return d


# --- words ------------------------------------------------------------------------


def _identity(s: str, **kw) -> str:
    return s % kw if kw else s


def role_words(role: str, _: Callable[..., str] = _identity) -> str:
    return {
        "team_lead": _("team lead"),
        "grid_member": _("grid member"),
        "cadre": _("village cadre"),
        "township": _("township cadre"),
    }.get(role, role)


def describe(decision: Decision, _: Callable[..., str] = _identity) -> str:
    """The decision in words, e.g. "Team 3 has no team lead → grid member Wang Fang".

    ``_`` is the translation function (flask_babel.gettext in the app).
    """
    parts = []
    for s in decision.skipped:
        if s.problem == "away" and s.person is not None:
            parts.append(
                _(
                    "%(role)s %(name)s of %(unit)s is away",
                    role=role_words(s.role, _),
                    name=s.person.name,
                    unit=s.unit_name,
                )
            )
        else:
            parts.append(
                _("%(unit)s has no %(role)s", unit=s.unit_name, role=role_words(s.role, _))
            )
    if decision.assignee is None:
        final = _("nobody on duty anywhere above")
    else:
        final = _(
            "%(role)s %(name)s (%(unit)s)",
            role=role_words(decision.role, _),
            name=decision.assignee.name,
            unit=decision.unit_name,
        )
    if not parts:
        return final
    return _("; ").join(parts) + " → " + final
