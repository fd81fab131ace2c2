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


# Cards on one A4 page (2 across, 4 down).
CARDS_PER_PAGE = 8

# The in-app browsers of chat apps (WeChat, WeCom, DingTalk, QQ): their cookies are
# not the phone browser's, so a person signed in there is asked for a code once.
IN_APP_BROWSERS = ("MicroMessenger", "wxwork", "DingTalk", " QQ/", "Lark", "Feishu")

# The people list's search text.
SEARCH_MAX = 50

# People listed per page on the people page and by the API (at most).
PEOPLE_PAGE = 50
