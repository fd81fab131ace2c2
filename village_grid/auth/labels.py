"""The words for each role (the roles themselves are ``models.users.ROLES``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "cadre": _l("Village cadre"),
    "grid_member": _l("Grid member"),
    "team_lead": _l("Team lead"),
    "station_staff": _l("Station staff"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))
