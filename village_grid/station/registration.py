"""Registering a newcomer at the counter, correcting the record, and showing one
full ID number to station staff with a reason.

Every field is checked at once and each bad one gets its own message
(``fields.FieldErrors``). The ID number is normalised and checked
(``idnumbers.check``), stored encrypted with its keyed hash (``vault``), and
shown everywhere as its mask. The same document registered twice in a village
is refused with the record that holds it (:class:`DuplicateNewcomer`, 409).
Every change and every reveal goes into the audit log with the masked number
only. Functions flush, never commit.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from village_grid.audit.service import changes, record
from village_grid.errors import Conflict, Forbidden, InvalidInput
from village_grid.models import Newcomer, User
from village_grid.models.base import utcnow
from village_grid.station import idnumbers, queries, vault
from village_grid.station.fields import (
    Collector,
    choice,
    flag,
    free_text,
    local_today,
    not_after,
    parse_date,
)
from village_grid.station.labels import (
    BIRTH_YEAR_MIN,
    COUNTY_MAX,
    EMPLOYER_MAX,
    ID_ERRORS,
    ID_TYPES,
    NAME_MAX,
    PROVINCE_NAMES,
    REASON_MAX,
    REASON_MIN,
    RESIDENT_ID,
    SEXES,
    SKILLS_MAX,
)
from village_grid.validation import clean_text, normalise_phone

# The fields of a newcomer besides the ID number, as the audit log keeps them.
AUDITED = (
    "name",
    "sex",
    "id_type",
    "id_mask",
    "phone",
    "home_province",
    "home_county",
    "arrived_on",
    "skills",
    "wants_work",
    "employer",
    "emergency_name",
    "emergency_phone",
)


class DuplicateNewcomer(Conflict):
    """This document is already registered in this village: ``existing`` holds it."""

    code = "duplicate_id_number"

    def __init__(self, existing: Newcomer):
        super().__init__(
            _(
                "This ID number is already registered: %(name)s (%(mask)s).",
                name=existing.name,
                mask=existing.id_mask,
            ),
            fields={"id_number": "duplicate"},
        )
        self.existing = existing

    def to_dict(self) -> dict:
        body = super().to_dict()
        body["error"]["existing_id"] = self.existing.id
        return body


def _labels() -> dict[str, str]:
    return {
        "name": _("Full name"),
        "sex": _("Sex"),
        "id_type": _("Document"),
        "id_number": _("ID number"),
        "phone": _("Mobile phone"),
        "home_province": _("Home province"),
        "home_county": _("Home county"),
        "arrived_on": _("Arrival date"),
        "skills": _("Skills"),
        "employer": _("Employer"),
        "emergency_name": _("Emergency contact"),
        "emergency_phone": _("Emergency contact's phone"),
    }


def id_message(err: idnumbers.IdNumberError) -> str:
    """The words for a refused ID number (``labels.ID_ERRORS``), with what is wrong in it."""
    return str(ID_ERRORS[err.code]) % {"n": err.length, "year": err.year, "min": BIRTH_YEAR_MIN}


def check_id(raw: object, id_type: str, *, now: datetime | None = None) -> idnumbers.IdNumber:
    """``idnumbers.check`` with the station's words: InvalidInput naming ``id_number``."""
    try:
        return idnumbers.check(
            raw if isinstance(raw, str) else None, id_type, today=local_today(now)
        )
    except idnumbers.IdNumberError as err:
        raise InvalidInput(id_message(err), fields={"id_number": err.code}) from None


def clean_fields(data: dict, *, partial: bool = False, now: datetime | None = None) -> dict:
    """Every field of a newcomer checked at once (only those in ``data`` with
    ``partial``); ``id_number`` comes back as an ``idnumbers.IdNumber``. Raises
    ``FieldErrors`` naming each bad field with its own message."""
    words = _labels()
    c = Collector()
    today = local_today(now)

    def wanted(field: str) -> bool:
        return not partial or field in data

    if wanted("name"):
        c.take(
            "name",
            lambda: free_text(
                data.get("name"), field="name", label=words["name"], max_len=NAME_MAX, required=True
            ),
        )
    id_type = RESIDENT_ID
    if wanted("id_type") or "id_number" in data:
        id_type = (
            c.take(
                "id_type",
                lambda: choice(
                    data.get("id_type"),
                    ID_TYPES,
                    field="id_type",
                    label=words["id_type"],
                    default=RESIDENT_ID,
                ),
            )
            or RESIDENT_ID
        )
    if wanted("id_number"):
        c.take("id_number", lambda: check_id(data.get("id_number"), id_type, now=now))
    if wanted("sex"):
        c.take(
            "sex",
            lambda: choice(
                data.get("sex"), ("", *SEXES), field="sex", label=words["sex"], default=""
            ),
        )
    if wanted("phone"):
        c.take("phone", lambda: normalise_phone(_text(data.get("phone")), required=True))
    if wanted("home_province"):
        c.take(
            "home_province",
            lambda: choice(
                data.get("home_province"),
                ("", *PROVINCE_NAMES),
                field="home_province",
                label=words["home_province"],
                default="",
            ),
        )
    for field, max_len in (
        ("home_county", COUNTY_MAX),
        ("skills", SKILLS_MAX),
        ("employer", EMPLOYER_MAX),
        ("emergency_name", NAME_MAX),
    ):
        if wanted(field):
            c.take(
                field,
                lambda f=field, m=max_len: free_text(
                    data.get(f), field=f, label=words[f], max_len=m
                ),
            )
    if wanted("emergency_phone"):
        c.take(
            "emergency_phone",
            lambda: normalise_phone(_text(data.get("emergency_phone")), field="emergency_phone"),
        )
    if wanted("arrived_on"):
        c.take(
            "arrived_on",
            lambda: not_after(
                parse_date(
                    data.get("arrived_on"),
                    field="arrived_on",
                    label=words["arrived_on"],
                    default=today,
                ),
                today,
                field="arrived_on",
                label=words["arrived_on"],
            ),
        )
    if wanted("wants_work"):
        c.out["wants_work"] = flag(data.get("wants_work"))
    return c.done()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _apply_id(session: Session, newcomer: Newcomer, number: idnumbers.IdNumber) -> None:
    """Store ``number`` on ``newcomer``: encrypted, its keyed hash, its mask and last four."""
    vault.require_same_key(queries.latest_key_fingerprint(session))
    newcomer.id_type = number.id_type
    newcomer.id_cipher = vault.seal(number.number)
    newcomer.id_lookup = vault.lookup(number.id_type, number.number)
    newcomer.id_key = vault.fingerprint()
    newcomer.id_mask = number.mask
    newcomer.id_last4 = number.last4
    newcomer.id_erased_at = None


def _prefill(fields: dict, number: idnumbers.IdNumber) -> None:
    """What the number says fills what the clerk left empty: sex, home province and county."""
    if not fields.get("sex") and number.sex:
        fields["sex"] = number.sex
    if not fields.get("home_province") and not fields.get("home_county"):
        fields["home_province"] = number.province
        fields["home_county"] = number.county


def audit_fields(newcomer: Newcomer) -> dict:
    """A newcomer as the audit log shows it: never more of the ID number than its mask."""
    out = {f: getattr(newcomer, f) for f in AUDITED}
    out["arrived_on"] = newcomer.arrived_on.isoformat() if newcomer.arrived_on else None
    return out


def _flush_unique(session: Session, newcomer: Newcomer, lookup: str) -> None:
    """Flush; two clerks registering the same number at once: the second gets the first's record."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        existing = queries.find_by_lookup(session, newcomer.village_id, lookup)
        if existing is None:
            raise
        raise DuplicateNewcomer(existing) from None


def register(
    session: Session,
    actor: User | None,
    *,
    village_id: int | None,
    data: dict,
    now: datetime | None = None,
) -> Newcomer:
    """Register a newcomer at the station of ``village_id`` (None: the actor's one).

    Raises FieldErrors (422, every bad field), DuplicateNewcomer (409, with the
    existing record), OutOfScope, IdKeyProblem (503: no key on this server)."""
    village = queries.station_village(session, actor, village_id)
    fields = clean_fields(data, now=now)
    number: idnumbers.IdNumber = fields.pop("id_number")
    lookup = vault.lookup(number.id_type, number.number)
    existing = queries.find_by_lookup(session, village.id, lookup)
    if existing is not None:
        raise DuplicateNewcomer(existing)
    _prefill(fields, number)
    fields.pop("id_type", None)
    newcomer = Newcomer(
        village_id=village.id,
        registered_by_id=actor.id if actor is not None else None,
        past_stays=[],
        created_at=now or utcnow(),
        **fields,
    )
    _apply_id(session, newcomer, number)
    session.add(newcomer)
    _flush_unique(session, newcomer, lookup)
    record(
        session,
        actor,
        "newcomer.register",
        object_type="newcomer",
        object_id=newcomer.id,
        unit_path=village.path,
        after=audit_fields(newcomer),
    )
    return newcomer


def update(
    session: Session,
    actor: User | None,
    newcomer_id: int,
    data: dict,
    *,
    now: datetime | None = None,
) -> Newcomer:
    """Correct a newcomer's record (only the fields in ``data``); a new ID number is
    checked, encrypted and looked up for duplicates like a registration's."""
    newcomer = queries.get_newcomer(session, actor, newcomer_id)
    fields = clean_fields(data, partial=True, now=now)
    before = audit_fields(newcomer)
    number: idnumbers.IdNumber | None = fields.pop("id_number", None)
    fields.pop("id_type", None)
    lookup = None
    if number is not None:
        lookup = vault.lookup(number.id_type, number.number)
        existing = queries.find_by_lookup(session, newcomer.village_id, lookup)
        if existing is not None and existing.id != newcomer.id:
            raise DuplicateNewcomer(existing)
        _apply_id(session, newcomer, number)
    for key, value in fields.items():
        setattr(newcomer, key, value)
    if lookup is not None:
        _flush_unique(session, newcomer, lookup)
    else:
        session.flush()
    old, new = changes(before, audit_fields(newcomer))
    if number is not None:
        new["id_number"] = _("changed")
    if new:
        record(
            session,
            actor,
            "newcomer.update",
            object_type="newcomer",
            object_id=newcomer.id,
            unit_path=newcomer.village.path,
            before=old,
            after=new,
        )
    return newcomer


def clean_reason(reason: object) -> str:
    """Why a full ID number is shown or exported: 2 to 200 characters, said in words."""
    text = clean_text(
        reason if isinstance(reason, str) else None,
        field="reason",
        max_len=REASON_MAX,
        required=True,
        label=_("Reason"),
    )
    if len(text) < REASON_MIN:
        raise InvalidInput(_("Say why the full number is needed."), fields={"reason": "too_short"})
    return text


def reveal(session: Session, actor: User | None, newcomer_id: int, reason: object) -> str:
    """One full ID number, for station staff of the newcomer's village who give a
    reason. Written to the audit log (who, whose, when, why) before it is returned."""
    newcomer = queries.get_newcomer(session, actor, newcomer_id)
    if actor is not None and not queries.may_reveal(actor, newcomer.village):
        raise Forbidden(_("Only the station's staff may see a full ID number."))
    why = clean_reason(reason)
    if newcomer.id_cipher is None:
        raise Conflict(
            _("This ID number was erased after the worker left; only its mask is kept."),
            code="id_erased",
        )
    number = vault.unseal(newcomer.id_cipher)
    record(
        session,
        actor,
        "newcomer.reveal",
        object_type="newcomer",
        object_id=newcomer.id,
        unit_path=newcomer.village.path,
        after={"name": newcomer.name, "id_mask": newcomer.id_mask, "reason": why},
    )
    session.flush()
    return number


def id_hints(raw: object, id_type: str, *, now: datetime | None = None) -> dict:
    """What the counter form shows as the clerk types a number: its problem in words,
    or the birth date, sex, province and county it gives (nothing is stored)."""
    try:
        number = check_id(raw, id_type if id_type in ID_TYPES else RESIDENT_ID, now=now)
    except InvalidInput as err:
        return {"ok": False, "code": err.fields.get("id_number", ""), "message": err.message}
    return {
        "ok": True,
        "mask": number.mask,
        "birth_date": number.birth_date.isoformat() if number.birth_date else "",
        "sex": number.sex,
        "province": number.province,
        "county": number.county,
    }
