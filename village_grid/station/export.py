"""The station's newcomers as a file (CSV or XLSX): ID numbers masked.

Full numbers only for station staff of the village who give a reason; such an
export is written to the audit log (who, how many, why) before a byte of it
is built. Cells a spreadsheet would run as a formula get a leading quote
(``village_grid.spreadsheets``).
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.errors import Forbidden, InvalidInput
from village_grid.models import Newcomer, Unit, User
from village_grid.spreadsheets import spreadsheet_cell, table_file
from village_grid.station import queries, vault
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
    people, _total = queries.newcomers(session, village, present=None, limit=EXPORT_LIMIT)
    if full:
        if actor is not None and not queries.may_reveal(actor, village):
            raise Forbidden(_("Only the station's staff may see a full ID number."))
        why = clean_reason(reason)
        record(
            session,
            actor,
            "newcomer.export_full",
            object_type="unit",
            object_id=village.id,
            unit_path=village.path,
            after={"newcomers": len(people), "reason": why},
        )
        session.flush()
    homes = queries.current_households(session, [n.id for n in people])
    headers = [str(h) for _k, h in COLUMNS]
    rows = [_row(n, homes.get(n.id), full) for n in people]
    return table_file(fmt, _("Newcomers"), headers, rows)
