"""The unit tree with its responsible people as a networkx graph, cached per process.

Routing (``tasks/routing.py``) works on this graph. It is built once per
process and database and rebuilt only when the tree version (bumped on unit
changes, household moves, role and availability changes) differs: one small
query per call when nothing changed, never a rebuild per request at county
scale.
"""

from __future__ import annotations

import gc
import logging
import threading

import networkx as nx
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from village_grid.hierarchy.labels import unit_label
from village_grid.models import RoleAssignment, Unit, User
from village_grid.models.units import tree_version
from village_grid.tasks import routing

log = logging.getLogger(__name__)
_graphs: dict[str, tuple[int, nx.DiGraph]] = {}
_graph_lock = threading.Lock()


# From this many units (a county and up) the graph is kept out of the garbage
# collector's full passes: a district's is millions of objects, and each pass over
# them stopped a request for 200-300 ms (a level's answer at the root: median 386
# ms with the passes, 180 ms without).
LARGE_TREE = 10_000
# Rows of units and people read per fetch while a graph is built.
STREAM_ROWS = 5_000


def _keep_out_of_gc(graph: nx.DiGraph) -> None:
    """Move what the process holds now — the new graph and its flat tree — to the
    collector's permanent generation (``gc.freeze``); the graph it replaces is let
    go first (``gc.unfreeze`` and one full pass, once per tree change)."""
    routing.flat_tree(graph)  # built now, so frozen with the graph
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def get_graph(session: Session) -> nx.DiGraph:
    """The unit tree with its responsible people (see :func:`routing.build_graph`)."""
    version = tree_version(session)  # read first: data read after is at least this new
    key = str(session.get_bind().url)
    cached = _graphs.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    with _graph_lock:
        cached = _graphs.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        # Rows streamed into the graph, a few thousand at a time: a district's are
        # hundreds of thousands, and held all at once they set the process's memory
        # high-water mark (its RSS) far above what the graph keeps.
        units = session.execute(
            select(
                Unit.id, Unit.parent_id, Unit.kind, Unit.name, Unit.code, Unit.path, Unit.sort_path
            ).execution_options(yield_per=STREAM_ROWS)
        )
        people = (
            (unit_id, role, uid, name or username, phone, available, active)
            for unit_id, role, uid, name, username, phone, available, active in session.execute(
                select(
                    RoleAssignment.unit_id,
                    RoleAssignment.role,
                    User.id,
                    User.name,
                    User.username,
                    User.phone,
                    User.available,
                    User.active,
                )
                .join(User, User.id == RoleAssignment.user_id)
                .where(
                    RoleAssignment.role.in_(routing.RESPONSIBLE_ROLES),
                    RoleAssignment.unit_id.is_not(None),
                )
                .execution_options(yield_per=STREAM_ROWS)
            )
        )
        graph = routing.build_graph(units, people, version=version)
        _graphs[key] = (version, graph)
        if graph.number_of_nodes() >= LARGE_TREE:
            _keep_out_of_gc(graph)
        return graph


def preload(app) -> bool:
    """Load the tree graph of ``app``'s database before anyone asks: in gunicorn's master
    before it forks its workers (``gunicorn.conf.py``), whose copies share its pages,
    and in a worker process before it takes jobs. The connections used are closed (a
    forked process must not share them) and what the process holds is moved out of the
    collector's passes (``gc.freeze``), which would otherwise write to every shared
    page. Each process rebuilds only when the tree version changes (:func:`get_graph`).
    False, with a warning, when the database cannot say (not migrated yet): the first
    request builds it then."""
    from village_grid.extensions import db

    with app.app_context():
        try:
            get_graph(db.session)
            loaded = True
        except SQLAlchemyError:
            log.warning("tree graph not preloaded; the first request builds it", exc_info=True)
            loaded = False
        finally:
            db.session.remove()
            db.engine.dispose()
    gc.collect()
    gc.freeze()
    return loaded


def forget_graph() -> None:
    """Drop every cached graph (tests that wipe the database call this)."""
    with _graph_lock:
        _graphs.clear()


def team_label(g: nx.DiGraph, team_id: int | None) -> str:
    """A unit as people say it, read from the cached graph (``hierarchy/labels.unit_label``:
    a team with its grid, any other unit by its name). Empty for an unknown id."""
    if team_id is None or team_id not in g:
        return ""
    node = g.nodes[team_id]
    parent = g.nodes[node["parent"]] if node["parent"] in g else None
    if parent is None:
        return unit_label(node["kind"], node["name"], None, None)
    return unit_label(node["kind"], node["name"], parent["kind"], parent["name"])
