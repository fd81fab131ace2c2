"""Where a message goes: each unit's work-group robot, inherited down the tree.

A unit (a village, a grid, a township …) may have a robot: a WeCom group robot
(``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``) or any webhook URL.
A message goes to the robot of the nearest unit on its way up from the message's
unit; with none on the way, to the deployment's ``NOTIFY_WEBHOOK_URL``.

The URL carries the robot's key: whoever has it can post into the group. It is
kept sealed (:mod:`village_grid.vault`, purpose ``unit-robot``) and shown only
through :func:`mask_url` — on pages, in logs, in the audit log and in a delivery
error (:func:`scrub`).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid import vault
from village_grid.errors import InvalidInput
from village_grid.models import RoleAssignment, Unit, UnitRobot

PURPOSE = b"unit-robot"
URL_MAX = 500
# A WeCom group robot's address: this path, its key in the query.
WECOM_PATH = "/cgi-bin/webhook/send"
# Path segments and query values at least this long are secret-like (a Slack or
# DingTalk hook keeps its token in the path); shorter ones are shown.
SECRET_MIN = 12
SHOWN_TAIL = 4


@dataclass(frozen=True)
class Robot:
    """A channel a message is posted to: its kind (``wecom`` or ``webhook``), URL,
    and the name its budget and logs know it by (never the key)."""

    kind: str
    url: str
    masked: str

    @property
    def ident(self) -> str:
        """A stable name for the robot that says nothing of its key."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]


# --- masking --------------------------------------------------------------------


def _hide(value: str) -> str:
    tail = value[-SHOWN_TAIL:] if len(value) >= 2 * SHOWN_TAIL else ""
    return "****" + tail


def secrets_of(url: str) -> list[str]:
    """The parts of ``url`` that are secret: its user and password, every query
    value, long path segments; longest first."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url] if url else []
    found = [parts.password or "", parts.username or ""]
    found += [v for _k, v in parse_qsl(parts.query, keep_blank_values=True)]
    found += [seg for seg in parts.path.split("/") if len(seg) >= SECRET_MIN]
    return sorted({s for s in found if s}, key=len, reverse=True)


def mask_url(url: str) -> str:
    """``url`` as anyone may see it: every query value, long path segment and
    password replaced by ``****`` and at most its last four characters
    (``…send?key=****3f9a``). The one masking function: pages, logs, the audit log
    and delivery errors (:func:`scrub`) use it."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return _hide(url)
    user = "****@" if parts.username or parts.password else ""
    path = "/".join(_hide(seg) if len(seg) >= SECRET_MIN else seg for seg in parts.path.split("/"))
    query = "&".join(f"{k}={_hide(v)}" for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return f"{parts.scheme}://{user}{host}{port}{path}" + (f"?{query}" if query else "")


def scrub(text: str, url: str) -> str:
    """``text`` (an error, a log line) with ``url`` and each secret part of it masked."""
    if not url:
        return text
    text = text.replace(url, mask_url(url))
    for secret in secrets_of(url):
        if len(secret) >= 6:
            text = text.replace(secret, _hide(secret))
    return text


# --- checking -------------------------------------------------------------------


def robot_kind(url: str) -> str:
    """``wecom`` for a WeCom group robot's address (its path and a key), else ``webhook``."""
    parts = urlsplit(url)
    keys = {k for k, _v in parse_qsl(parts.query)}
    return "wecom" if parts.path == WECOM_PATH and "key" in keys else "webhook"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str | None) -> str:
    """A robot URL as it may be kept: https (plain http only to this machine, a local
    relay), a host, no password in it; a WeCom address with its key. Raises
    :class:`InvalidInput` on the field ``url``."""
    url = (url or "").strip()

    def bad(message: str, code: str = "invalid") -> InvalidInput:
        return InvalidInput(message, fields={"url": code})

    if not url:
        raise bad(_("Enter the robot's webhook URL."), "required")
    if len(url) > URL_MAX:
        raise bad(_("The URL is too long (at most %(n)s characters).", n=URL_MAX))
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise bad(_("A URL has no spaces."))
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise bad(_("This is not a URL.")) from None
    if parts.scheme not in ("https", "http") or not host:
        raise bad(_("The URL starts with https:// and names a host."))
    if parts.scheme == "http" and not _loopback(host):
        raise bad(_("Use https:// (plain http only to this server itself)."))
    if parts.username or parts.password:
        raise bad(_("Leave the password out of the URL."))
    if parts.path == WECOM_PATH and not dict(parse_qsl(parts.query)).get("key"):
        raise bad(
            _("A WeCom robot's URL ends in ?key=… (copy it from the group's robot)."), "wecom_key"
        )
    return url


# --- keeping --------------------------------------------------------------------


def seal(url: str) -> str:
    return vault.seal(PURPOSE, url)


def robot_of(row: UnitRobot) -> Robot:
    url = vault.unseal(PURPOSE, row.url_sealed)
    return Robot(kind=robot_kind(url), url=url, masked=row.url_masked)


# A robot whose URL this server cannot unseal (another data key): its messages wait.
UNREADABLE = "unreadable"


def _readable(row: UnitRobot) -> Robot:
    try:
        return robot_of(row)
    except vault.KeyProblem:
        return Robot(kind=UNREADABLE, url=f"unreadable:{row.unit_id}", masked=row.url_masked)


def default_robot() -> Robot | None:
    """The deployment's channel (``NOTIFY_CHANNEL`` and ``NOTIFY_WEBHOOK_URL``); None
    for the log channel."""
    config = current_app.config
    if config["NOTIFY_CHANNEL"] == "log":
        return None
    url = config["NOTIFY_WEBHOOK_URL"]
    return Robot(kind=config["NOTIFY_CHANNEL"], url=url, masked=mask_url(url))


def robot_row(session: Session, unit_id: int) -> UnitRobot | None:
    """The unit's own robot (not an inherited one)."""
    return session.get(UnitRobot, unit_id)


def nearest(session: Session, unit: Unit) -> tuple[Unit | None, UnitRobot | None]:
    """The unit whose robot serves ``unit`` (itself or the nearest ancestor), and that
    robot; (None, None) when the deployment's channel serves it."""
    ancestors = unit.ancestor_ids
    rows = {
        r.unit_id: r
        for r in session.scalars(select(UnitRobot).where(UnitRobot.unit_id.in_(ancestors)))
    }
    for uid in reversed(ancestors):
        if uid in rows:
            return session.get(Unit, uid), rows[uid]
    return None, None


def robots_for(session: Session, unit_ids: set[int]) -> dict[int, Robot]:
    """For each unit, the robot of the nearest unit with one on its way up (itself
    included); units served by the deployment's channel are left out."""
    if not unit_ids:
        return {}
    paths = dict(session.execute(select(Unit.id, Unit.path).where(Unit.id.in_(unit_ids))).all())
    chains = {uid: [int(p) for p in path.strip("/").split("/") if p] for uid, path in paths.items()}
    above = {a for chain in chains.values() for a in chain}
    rows = {
        r.unit_id: r for r in session.scalars(select(UnitRobot).where(UnitRobot.unit_id.in_(above)))
    }
    if not rows:
        return {}
    robots = {uid: _readable(row) for uid, row in rows.items()}
    found = {}
    for uid, chain in chains.items():
        for a in reversed(chain):
            if a in robots:
                found[uid] = robots[a]
                break
    return found


def units_of_people(session: Session, user_ids: set[int]) -> dict[int, int]:
    """Each person's own unit: the deepest unit they hold a role on (the work group
    they are in)."""
    found: dict[int, tuple[int, int]] = {}
    ids = sorted(user_ids)
    for i in range(0, len(ids), 500):
        rows = session.execute(
            select(RoleAssignment.user_id, Unit.id, Unit.depth)
            .join(Unit, Unit.id == RoleAssignment.unit_id)
            .where(RoleAssignment.user_id.in_(ids[i : i + 500]))
        ).all()
        for user_id, unit_id, depth in rows:
            best = found.get(user_id)
            if best is None or (depth, -unit_id) > (best[1], -best[0]):
                found[user_id] = (unit_id, depth)
    return {user_id: unit_id for user_id, (unit_id, _d) in found.items()}
