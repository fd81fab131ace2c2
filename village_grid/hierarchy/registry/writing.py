"""Writing an import in bulk, and knowing a household already registered.

Rows checked by :mod:`.importing` are written a batch at a time below the ORM
(``database.bulk.insert_rows``: COPY on PostgreSQL, executemany on SQLite), in the
caller's transaction: units (with their audit events), households (with a door-plate
token each), members, then at the end the new people, their roles and the import's
events. Every row is on the audit log as if it came one at a time (``unit.create``,
``household.create``, ``user.create``, ``role.assign``).
"""

from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.auth.service import free_usernames
from village_grid.database.bulk import insert_rows
from village_grid.hierarchy import service
from village_grid.hierarchy.registry.tree import Node
from village_grid.models import (
    HOUSEHOLD_FLAGS,
    AuditEvent,
    Household,
    Member,
    RoleAssignment,
    Unit,
    User,
)
from village_grid.models.base import utcnow
from village_grid.models.households import plate_token_hash, seal_plate_token

# Households per batch written (with their members and audit events).
BATCH = 2000
FIELDS = ("door_no", "address", "head_name", "phone", "latitude", "longitude")
PRINT_NAMES = (*FIELDS, "flags", "members")


def prints(fields: dict, members: list[tuple]) -> tuple:
    """A household as a tuple of hashes, one per field (:data:`PRINT_NAMES`): what a row
    is compared with to know it names a household already registered, unchanged."""
    flags = tuple(f for f in HOUSEHOLD_FLAGS if fields.get(f))
    return (
        *(
            hash(fields.get(f) or ("" if f not in ("latitude", "longitude") else None))
            for f in FIELDS
        ),
        hash(flags),
        hash(tuple(members)),
    )


def member_tuple(m: dict) -> tuple:
    return (m["name"], m["relation"] or "", m["sex"] or "", m["birth_year"], m["phone"] or "")


def known_households(session: Session, grid_id: int) -> dict[str, tuple[int, tuple]]:
    """The households of a grid's teams: code → (team id, :func:`prints`). Two queries,
    whatever the grid's size."""
    h = Household.__table__
    u = Unit.__table__
    rows = session.execute(
        select(h).join(u, u.c.id == h.c.team_id).where(u.c.parent_id == grid_id)
    ).mappings()
    households = {r["id"]: r for r in rows}
    if not households:
        return {}
    members: dict[int, list[tuple]] = defaultdict(list)
    m = Member.__table__
    for r in session.execute(
        select(m)
        .join(h, h.c.id == m.c.household_id)
        .join(u, u.c.id == h.c.team_id)
        .where(u.c.parent_id == grid_id)
        .order_by(m.c.id)
    ).mappings():
        members[r["household_id"]].append(member_tuple(r))
    return {
        r["code"]: (r["team_id"], prints(dict(r), members.get(hid, [])))
        for hid, r in households.items()
    }


def _json(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False)


# A JSON string literal of a text, as json.dumps(..., ensure_ascii=False) writes it.
_text = json.encoder.encode_basestring


class Writer:
    """Rows waiting to be written, written a batch at a time (see the module's note)."""

    def __init__(self, session: Session, actor: User | None, client_addr: str, digest: str):
        self.session = session
        self.actor = actor
        self.now = utcnow()
        self.units: list[Node] = []
        self.households: list[dict] = []
        self.members: list[dict] = []
        self.events: list[dict] = []
        self.stopped = False
        self.joined: list[int] = []  # new households of teams that existed before
        # A household's event names the file it came in (its fields are in the file,
        # whose registry.import event holds the whole SHA-256).
        self.file = digest[:16]
        self.audit_base = {
            "at": self.now,
            "actor_id": actor.id if actor is not None else None,
            "actor_label": (actor.display_name if actor is not None else "")[:100],
            "client_addr": client_addr[:64],
        }

    def event(self, action: str, object_type: str, object_id, unit_path, after: dict) -> None:
        self.events.append(
            {
                **self.audit_base,
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "unit_path": unit_path,
                "before": None,
                "after": _json(after),
            }
        )

    def stop(self) -> None:
        """A bad row was found: nothing more is written (the import rolls back)."""
        self.stopped = True
        self.units.clear()
        self.households.clear()
        self.members.clear()
        self.events.clear()

    def unit(self, node: Node) -> None:
        if self.stopped:
            return
        self.units.append(node)
        after = {"kind": node.kind, "name": node.name, "code": node.code}
        after["parent"] = node.parent.name if node.parent is not None else None
        if node.division_code:
            after["division_code"] = node.division_code
        self.event("unit.create", "unit", node.id, node.path, after)

    def household(
        self, household_id: int, team: Node, seq: int, code: str, fields: dict, members: list
    ) -> None:
        if self.stopped:
            return
        token = service.new_qr_token()
        self.households.append(
            {
                "id": household_id,
                "team_id": team.id,
                "seq": seq,
                "code": code,
                **{f: fields[f] for f in FIELDS},
                **{f: bool(fields[f]) for f in HOUSEHOLD_FLAGS},
                "qr_token_hash": plate_token_hash(token),
                "qr_token_sealed": seal_plate_token(token),
                "qr_rotated_at": None,
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        for m in members:
            self.members.append({"household_id": household_id, **m})
        if not team.new:
            self.joined.append(household_id)
        # Written as JSON by hand: json.dumps of a dict per household was a tenth of a
        # county's import; only the strings need the encoder.
        after = (
            f'{{"code": {_text(code)}, "team": {_text(team.name)}, '
            f'"head_name": {_text(fields["head_name"])}, "members": {len(members)}, '
            f'"file": "{self.file}"}}'
        )
        self.events.append(
            {
                **self.audit_base,
                "action": "household.create",
                "object_type": "household",
                "object_id": household_id,
                "unit_path": team.path,
                "before": None,
                "after": after,
            }
        )

    def flush(self, *, force: bool = False) -> None:
        """Write what waits, when a batch is full (or ``force``)."""
        if self.stopped or (not force and len(self.households) < BATCH):
            return
        insert_rows(self.session, Unit, [self._unit_row(n) for n in self.units])
        insert_rows(self.session, Household, self.households)
        insert_rows(self.session, Member, self.members)
        insert_rows(self.session, AuditEvent, self.events)
        self.units.clear()
        self.households.clear()
        self.members.clear()
        self.events.clear()

    def _unit_row(self, node: Node) -> dict:
        return {
            "id": node.id,
            "parent_id": node.parent.id if node.parent is not None else None,
            "kind": node.kind,
            "name": node.name,
            "code": node.code,
            "path": node.path,
            "sort_path": node.sort_path,
            "depth": node.depth,
            "division_code": node.division_code,
            "lock_version": 0,
            "created_at": self.now,
        }

    def people(self, new_people, new_roles) -> None:
        """The new people (no password: they sign in by link) and the roles given."""
        if self.stopped:
            return
        self.flush(force=True)
        names = free_usernames(self.session, ["p" + p.phone.replace("-", "") for p in new_people])
        insert_rows(
            self.session,
            User,
            [
                {
                    "id": p.id,
                    "username": username,
                    "phone": p.phone,
                    "name": p.name,
                    "password_hash": "",
                    "active": True,
                    "available": True,
                    "created_at": self.now,
                }
                for p, username in zip(new_people, names, strict=True)
            ],
        )
        for p, username in zip(new_people, names, strict=True):
            self.event(
                "user.create",
                "user",
                p.id,
                None,
                {"username": username, "name": p.name, "phone": p.phone},
            )
        insert_rows(
            self.session,
            RoleAssignment,
            [
                {"user_id": uid, "role": role, "unit_id": unit.id, "created_at": self.now}
                for uid, role, unit in new_roles
            ],
        )
        for uid, role, unit in new_roles:
            self.event(
                "role.assign",
                "user",
                uid,
                unit.path,
                {"user_id": uid, "role": role, "unit_id": unit.id},
            )
        insert_rows(self.session, AuditEvent, self.events)
        self.events.clear()
