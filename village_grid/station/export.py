"""The station's newcomers as a file (CSV or XLSX): ID numbers masked.

Full numbers only for station staff of the village who give a reason; such an
export is written to the audit log (who, how many, why) before a byte of it
is built. Cells a spreadsheet would run as a formula get a leading quote
(``village_grid.spreadsheets``).
"""

from __future__ import annotations

import functools
import io
from typing import IO

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.errors import Forbidden, InvalidInput
from village_grid.files import kinds
from village_grid.models import Newcomer, Unit, User
from village_grid.spreadsheets import TableWriter, spreadsheet_cell
from village_grid.station import queries, vault
from village_grid.station.fields import local_today
from village_grid.station.labels import (
    DEPARTURE_LABELS,
    ID_TYPE_LABELS,
    SEX_LABELS,
    label,
)
from village_grid.station.registration import clean_reason

FORMATS = ("csv", "xlsx")
EXPORT_LIMIT = 100_000

COLUMNS = [
    ("name", _l("Full name")),
    ("sex", _l("Sex")),
    ("id_type", _l("Document")),
    ("id_number", _l("ID number")),
    ("phone", _l("Mobile phone")),
    ("home_province", _l("Home province")),
    ("home_county", _l("Home county")),
    ("arrived_on", _l("Arrival date")),
    ("skills", _l("Skills")),
    ("wants_work", _l("Wants work")),
    ("employer", _l("Employer")),
    ("emergency_name", _l("Emergency contact")),
    ("emergency_phone", _l("Emergency contact's phone")),
    ("household", _l("Household code")),
    ("team", _l("Team")),
    ("departed_on", _l("Departure date")),
    ("departure_reason", _l("Reason")),
    ("departure_to", _l("Going to")),
]


def _row(n: Newcomer, household, full: bool) -> list:
    number = vault.unseal(n.id_cipher) if full and n.id_cipher is not None else n.id_mask
    values = {
        "name": n.name,
        "sex": label(SEX_LABELS, n.sex),
        "id_type": label(ID_TYPE_LABELS, n.id_type),
        "id_number": number,
        "phone": n.phone,
        "home_province": n.home_province,
        "home_county": n.home_county,
        "arrived_on": n.arrived_on.isoformat(),
        "skills": n.skills,
        "wants_work": _("yes") if n.wants_work else _("no"),
        "employer": n.employer,
        "emergency_name": n.emergency_name,
        "emergency_phone": n.emergency_phone,
        "household": household.code if household is not None else "",
        "team": household.team.name if household is not None else "",
        "departed_on": n.departed_on.isoformat() if n.departed_on else "",
        "departure_reason": label(DEPARTURE_LABELS, n.departure_reason),
        "departure_to": n.departure_to,
    }
    return [spreadsheet_cell(values[key]) for key, _h in COLUMNS]


def _audit_full(session: Session, actor: User | None, village: Unit, reason: object) -> None:
    """A full-number export on the audit log (who, how many, why), before a byte of it
    is made; only station staff of the village, with a reason."""
    if actor is not None and not queries.may_reveal(actor, village):
        raise Forbidden(_("Only the station's staff may see a full ID number."))
    why = clean_reason(reason)
    _people, total = queries.newcomers(session, village, present=None, limit=0)
    record(
        session,
        actor,
        "newcomer.export_full",
        object_type="unit",
        object_id=village.id,
        unit_path=village.path,
        after={"newcomers": min(total, EXPORT_LIMIT), "reason": why},
    )
    session.flush()


# Newcomers read per query.
BATCH = 2000


def write(
    session: Session, village: Unit, out: IO[bytes], *, fmt: str, full: bool, progress=None
) -> int:
    """Every newcomer of ``village`` (here and departed, at most ``EXPORT_LIMIT``) written
    into ``out`` a batch at a time; how many."""
    writer = TableWriter(fmt, out)
    writer.sheet(_("Newcomers"), [str(h) for _k, h in COLUMNS])
    offset = 0
    while offset < EXPORT_LIMIT:
        people, _total = queries.newcomers(
            session, village, present=None, limit=min(BATCH, EXPORT_LIMIT - offset), offset=offset
        )
        if not people:
            break
        homes = queries.current_households(session, [n.id for n in people])
        for n in people:
            writer.row(_row(n, homes.get(n.id), full))
        offset += len(people)
        if progress is not None:
            progress(offset)
    writer.close()
    return writer.rows


def export(
    session: Session,
    actor: User | None,
    village: Unit,
    *,
    fmt: str,
    full: bool = False,
    reason: object = None,
) -> bytes:
    """Every newcomer of ``village`` (here and departed) as ``fmt``. With ``full``,
    the full ID numbers: station staff only, with a reason, audited first."""
    if fmt not in FORMATS:
        raise InvalidInput(_("Export as csv or xlsx."), fields={"fmt": "unknown"})
    if full:
        _audit_full(session, actor, village, reason)
    out = io.BytesIO()
    write(session, village, out, fmt=fmt, full=full)
    return out.getvalue()


# --- the file kinds: the list, and the list with full ID numbers ----------------------


def _plan(session: Session, actor: User, params: dict, fmt: str, *, full: bool) -> kinds.Plan:
    village = queries.station_village(session, actor, params.get("village_id"))
    if full:
        _audit_full(session, actor, village, params.get("reason"))
    _people, total = queries.newcomers(session, village, present=None, limit=0)
    stamp = f"{local_today():%Y%m%d}"
    return kinds.Plan(
        paths=[village.path],
        total=min(total, EXPORT_LIMIT),
        filename=f"newcomers-{village.code}-{stamp}{'-full' if full else ''}.{fmt}",
    )


def _make(session: Session, actor: User, params: dict, fmt: str, out, progress, *, full: bool):
    village = queries.station_village(session, actor, params.get("village_id"))
    return write(session, village, out, fmt=fmt, full=full, progress=progress)


MASKED = kinds.register(
    kinds.FileKind(
        name="newcomers",
        label=_l("The station's newcomers"),
        action="station",
        formats=FORMATS,
        plan=functools.partial(_plan, full=False),
        make=functools.partial(_make, full=False),
    )
)
FULL = kinds.register(
    kinds.FileKind(
        name="newcomers_full",
        label=_l("The station's newcomers, with full ID numbers"),
        action="reveal_id",
        formats=FORMATS,
        plan=functools.partial(_plan, full=True),
        make=functools.partial(_make, full=True),
    )
)
