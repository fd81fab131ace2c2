"""What each kind of unit is called (the kinds themselves: ``models/units.py``).

A base module: people, the registry, tasks and the station all name units by
kind, and people's roles (``auth``) sit below the registry (``hierarchy``), so the
words cannot live in the registry's labels (which re-exports them)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

KIND_LABELS = {
    "county": _l("County"),
    "township": _l("Township"),
    "village": _l("Village"),
    "grid": _l("Grid"),
    "team": _l("Team"),
    "building": _l("Building"),
    "community": _l("Community"),
    "street": _l("Street"),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))
