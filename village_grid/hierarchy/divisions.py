"""Administrative division codes (GB/T 2260, extended to townships and villages): the
one place that says what a code looks like and when one lies inside another.

A county has 6 digits (``350121`` 闽侯县), a township 9 (``350121100``), a village or
community 12 (``350121100201``). Warnings pad every code to 12 digits with zeros
(``350121000000`` is the county); :func:`normalise` takes the padding off, so
``350121000000`` and ``350121`` are the same code. A province (``35``) or a city
(``3501``) padded to 12 digits is understood when it comes from a warning.
"""

from __future__ import annotations

from flask_babel import gettext as _

from village_grid.errors import InvalidInput

LENGTHS = (6, 9, 12)
PADDED = 12


def normalise(code: str) -> str:
    """A code without its zero padding: ``350121000000`` → ``350121``,
    ``350121100000`` → ``350121100``, ``350000000000`` → ``35``. Digits only, or ''."""
    code = (code or "").strip()
    if not code.isascii() or not code.isdigit() or len(code) > PADDED:
        return ""
    padded = code.ljust(PADDED, "0")
    if padded[9:] != "000":
        return padded
    if padded[6:9] != "000":
        return padded[:9]
    head = padded[:6]
    while len(head) > 2 and head.endswith("00"):
        head = head[:-2]
    return "" if head == "00" else head


def inside(code: str, area: str) -> bool:
    """Does the division ``code`` lie inside (or equal) the division ``area``? Both
    may be padded; an empty code lies nowhere."""
    code, area = normalise(code), normalise(area)
    return bool(code and area) and code.startswith(area)


def clean(value, *, parent_code: str = "") -> str:
    """A unit's division code checked: '' (none), or 6, 9 or 12 digits (a 12-digit code
    padded with zeros is taken as the shorter one), inside ``parent_code`` when the
    parent has one. Raises InvalidInput on ``division_code``."""
    if value is None:
        return ""
    raw = value.strip() if isinstance(value, str) else ""
    if not isinstance(value, str) or (raw and (not raw.isascii() or not raw.isdigit())):
        raise InvalidInput(
            _("The division code is digits only (6 for a county, 9 a township, 12 a village)."),
            fields={"division_code": "invalid"},
        )
    if not raw:
        return ""
    code = normalise(raw) if len(raw) == PADDED else raw
    if len(raw) not in LENGTHS or len(code) not in LENGTHS:
        raise InvalidInput(
            _("A division code has 6, 9 or 12 digits (county, township, village)."),
            fields={"division_code": "bad_length"},
        )
    if parent_code and not inside(code, parent_code):
        raise InvalidInput(
            _(
                "Division code %(c)s is not inside %(p)s, the code of the unit above.",
                c=code,
                p=parent_code,
            ),
            fields={"division_code": "outside_parent"},
        )
    return code
