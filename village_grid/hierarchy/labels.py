"""Display names for unit kinds (from ``kinds.py``), household flags and member relations
(translated)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from village_grid.kinds import KIND_LABELS, kind_label  # noqa: F401  (the registry's words too)

FLAG_LABELS = {
    "elderly_alone": _l("Elderly living alone"),
    "disabled": _l("Disabled or bedridden"),
    "young_children": _l("Young children"),
    "pregnant": _l("Pregnant"),
    "flood_prone": _l("Flood-prone / low-lying"),
    "rental": _l("Rental"),
    "party_member": _l("Party member"),
    "veteran": _l("Veteran"),
}

RELATION_LABELS = {
    "head": _l("Head"),
    "spouse": _l("Spouse"),
    "child": _l("Child"),
    "parent": _l("Parent"),
    "grandchild": _l("Grandchild"),
    "sibling": _l("Sibling"),
    "tenant": _l("Tenant"),
    "other": _l("Other"),
}

SEX_LABELS = {"M": _l("Male"), "F": _l("Female")}

# A household's fields as messages name them (the import's "already registered with
# other details").
HOUSEHOLD_FIELD_LABELS = {
    "door_no": _l("Door number"),
    "address": _l("Address"),
    "head_name": _l("Head of household"),
    "phone": _l("Phone"),
    "latitude": _l("Latitude"),
    "longitude": _l("Longitude"),
    "flags": _l("Flags"),
    "members": _l("Members"),
}


def unit_label(kind: str, name: str, parent_kind: str | None, parent_name: str | None) -> str:
    """A unit as people say it: a team with its grid ("第3网格 4小队", not "4小队" of which
    a village has fourteen), any other unit (and a team under a team, or with no unit
    above it) by its name. The one rule: ``tasks/graph.team_label`` on the cached graph
    and ``hierarchy/queries.labels_of`` on the units table both say it this way."""
    if kind != "team" or parent_kind is None or parent_kind == "team":
        return name
    return team_with_grid(name, parent_name)


def team_with_grid(team_name: str, grid_name: str | None) -> str:
    """A team as people say it: with its grid ("第3网格 4小队", not "4小队" of which a
    village has fourteen); a name that already holds the grid's stays as it is."""
    if grid_name and grid_name not in team_name:
        return f"{grid_name} {team_name}"
    return team_name


# Above this many units the tree page stops at the grids and links onward.
TREE_FULL_LIMIT = 600
# Kinds offered when adding a unit under a unit of a given kind (any known
# kind may still be chosen where a place needs it, e.g. buildings in Fuqing).
CHILD_KINDS = {
    "county": ["township", "street"],
    "township": ["village", "community", "street"],
    "street": ["community", "village", "grid"],
    "village": ["grid", "building"],
    "community": ["grid", "building"],
    "grid": ["team", "building"],
    "building": ["team"],
}

# A unit's code (letters and digits, used in household codes).
UNIT_CODE_MAX = 20
