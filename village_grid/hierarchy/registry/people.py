"""The roster's people: each row may name its team's lead and its grid's member.

A person is matched by phone (one phone, one person), in the file and in the
database; a new one is made without a password (they sign in by one-time link,
``auth/signin.py``), and given the role on the team or grid. What a file may not
say: a phone that is not a phone, one person under two names, a team with two
leads (or a grid with two members) in one file, a unit whose lead or member is
already someone else (the import adds people, it never takes a role away: change
a lead on the people page). Naming who already holds the role changes nothing, so
re-importing a file changes nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.database.bulk import IdSource
from village_grid.errors import DomainError
from village_grid.hierarchy.registry.columns import heading
from village_grid.hierarchy.registry.rejections import problem
from village_grid.hierarchy.registry.tree import Node
from village_grid.models import User
from village_grid.validation import clean_text, normalise_phone

# (role, its unit's level, name column, phone column) — the people columns.
PEOPLE_COLUMNS = (
    ("team_lead", "team", "team_lead", "team_lead_phone"),
    ("grid_member", "grid", "grid_member", "grid_member_phone"),
)


@dataclass
class Person:
    id: int
    name: str
    phone: str
    new: bool
    # The first line of the file that named them (0: known from the database only).
    line: int = 0


@dataclass
class Claim:
    """A person a row names for a unit's role, checked but not yet taken."""

    role: str
    unit: Node
    phone: str
    name: str
    written: tuple = ()


class People:
    """Everyone the file names, by phone; the new people and roles to write."""

    def __init__(self, session: Session, ids: IdSource):
        self.session = session
        self.ids = ids
        self.by_phone: dict[str, Person] = {}
        # unit id → (phone, line) of the person the file names for its role.
        self.named: dict[int, tuple[str, int]] = {}
        self.new_people: list[Person] = []
        self.new_roles: list[tuple[int, str, Node]] = []
        # (unit id, name as written, phone as written) of claims already taken: the ten
        # rows of a team name its lead ten times, checked once.
        self.settled: set[tuple[int, str, str]] = set()
        self.phones: dict[str, str] = {}

    def lookup(self, phones: set[str]) -> None:
        """Read the people with these phones from the database at once (a batch of rows)."""
        wanted = sorted(p for p in phones if p and p not in self.by_phone)
        for i in range(0, len(wanted), 1000):
            for user_id, name, phone in self.session.execute(
                select(User.id, User.name, User.phone).where(User.phone.in_(wanted[i : i + 1000]))
            ):
                self.by_phone[phone] = Person(user_id, name, phone, new=False)

    @staticmethod
    def phones_of(values: dict[str, str]) -> set[str]:
        """The phones a row names, as written (for :meth:`lookup`; bad ones match nothing)."""
        out = set()
        for _role, _level, _name_key, phone_key in PEOPLE_COLUMNS:
            raw = values.get(phone_key, "")
            if raw:
                with contextlib.suppress(DomainError):
                    out.add(normalise_phone(raw))
        return out

    def phones_in(self, rows) -> set[str]:
        """:meth:`phones_of` every row, each phone as written normalised once."""
        out = set()
        for values in rows:
            for _role, _level, _name_key, phone_key in PEOPLE_COLUMNS:
                raw = values.get(phone_key, "")
                if raw and raw not in self.phones:
                    self.phones[raw] = ""
                    with contextlib.suppress(DomainError):
                        self.phones[raw] = normalise_phone(raw)
                if raw and self.phones[raw]:
                    out.add(self.phones[raw])
        return out

    def check(
        self, values: dict[str, str], chain: dict[str, Node], line: int
    ) -> tuple[list[Claim], list[dict]]:
        """The people a row names, checked: (claims to take if the row is good, problems)."""
        claims: list[Claim] = []
        problems: list[dict] = []
        for role, level, name_key, phone_key in PEOPLE_COLUMNS:
            raw_name, raw_phone = values.get(name_key, ""), values.get(phone_key, "")
            if not raw_name and not raw_phone:
                continue
            unit = chain.get(level)
            if unit is not None and (unit.id, raw_name, raw_phone) in self.settled:
                continue
            if unit is None:
                problems.append(
                    problem(
                        line,
                        f"missing_{level}",
                        _("“%(h)s” is empty.", h=heading(level)),
                        level,
                    )
                )
                continue
            claim, trouble = self._check_one(role, unit, raw_name, raw_phone, line, name_key)
            if trouble is not None:
                problems.append(trouble)
            elif claim is not None:
                claims.append(claim)
        return claims, problems

    def _check_one(
        self, role: str, unit: Node, raw_name: str, raw_phone: str, line: int, name_key: str
    ) -> tuple[Claim | None, dict | None]:
        phone_key = f"{name_key}_phone"
        if not raw_phone:
            return None, problem(
                line,
                "missing_person_phone",
                _(
                    "“%(h)s” is empty: a person is known by their phone.",
                    h=heading(phone_key),
                ),
                phone_key,
            )
        try:
            phone = normalise_phone(raw_phone, field=phone_key)
            name = clean_text(raw_name, field=name_key, max_len=50)
        except DomainError as err:
            code = "bad_person_phone" if phone_key in err.fields else "too_long"
            field = phone_key if phone_key in err.fields else name_key
            return None, problem(line, code, err.message, field)
        known = self.by_phone.get(phone)
        if known is None and not name:
            return None, problem(
                line,
                "missing_person_name",
                _("“%(h)s” is empty: whose phone is %(p)s?", h=heading(name_key), p=phone),
                name_key,
            )
        if known is not None and name and known.name and name != known.name:
            if known.line:
                reason = _(
                    "%(p)s is %(old)s on line %(n)s, not %(new)s: one phone, one person.",
                    p=phone,
                    old=known.name,
                    n=known.line,
                    new=name,
                )
                return None, problem(line, "person_two_names", reason, name_key)
            reason = _(
                "%(p)s belongs to %(old)s, not %(new)s: one phone, one person.",
                p=phone,
                old=known.name,
                new=name,
            )
            return None, problem(line, "person_name_differs", reason, name_key)
        named = self.named.get(unit.id)
        if named is not None and named[0] != phone:
            code = "team_two_leads" if role == "team_lead" else "grid_two_members"
            reason = (
                _("%(u)s already has another lead on line %(n)s.", u=unit.name, n=named[1])
                if role == "team_lead"
                else _(
                    "%(u)s already has another grid member on line %(n)s.",
                    u=unit.name,
                    n=named[1],
                )
            )
            return None, problem(line, code, reason, name_key)
        if unit.holders and (known is None or known.id not in unit.holders):
            code = "team_has_lead" if role == "team_lead" else "grid_has_member"
            reason = _(
                "%(u)s already has someone else in this role. The import adds people and "
                "takes no role away: change it on the people page, or name them here.",
                u=unit.name,
            )
            return None, problem(line, code, reason, name_key)
        claim = Claim(role, unit, phone, name or (known.name if known else ""))
        claim.written = (unit.id, raw_name, raw_phone)
        return claim, None

    def take(self, claims: list[Claim], line: int) -> None:
        """A good row's people: made when new, and given their role when they lack it."""
        for claim in claims:
            self.settled.add(claim.written)
            person = self.by_phone.get(claim.phone)
            if person is None:
                person = Person(self.ids.take(), claim.name, claim.phone, new=True, line=line)
                self.by_phone[claim.phone] = person
                self.new_people.append(person)
            elif not person.line:
                person.line = line
            self.named.setdefault(claim.unit.id, (claim.phone, line))
            if person.id not in claim.unit.holders:
                claim.unit.holders.add(person.id)
                self.new_roles.append((person.id, claim.role, claim.unit))
