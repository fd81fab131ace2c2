"""ID numbers as a counter clerk types them: normalised, checked, masked.

The one place an ID number's rules live. A mainland resident ID (居民身份证) is
18 characters: 17 digits and a check digit (0-9 or X). python-stdnum's
``stdnum.cn.ric`` computes the check digit and reads the date of birth; its
region table names the province and county of the first six digits. That table
dates each county code, and a code created after the holder's birth year is
still a real number (cards carry the code of the place where they were
issued), so the region only prefills home province and county: it never
refuses a number. Other documents (travel permits, passports) are 5 to 30
letters and digits.

Pure: no Flask, no database. Errors are :class:`IdNumberError` with a code
(``station/labels.py: ID_ERRORS`` has the words).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from village_grid.station.labels import (
    BIRTH_YEAR_MIN,
    DOCUMENT_MAX,
    DOCUMENT_MIN,
    ID_TYPES,
    PROVINCES,
    RESIDENT_ID,
)

RESIDENT_LENGTH = 18
_SEPARATORS = re.compile(r"[\s\-_.·]+")
_DOCUMENT = re.compile(rf"[A-Z0-9]{{{DOCUMENT_MIN},{DOCUMENT_MAX}}}")
# 17 digits and a digit or X, standing alone in a longer text.
_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_RANGE = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


class IdNumberError(ValueError):
    """A number that is not one. ``code`` says why; ``length`` for ``wrong_length``,
    ``year`` for ``birth_year_too_early``."""

    def __init__(self, code: str, length: int = 0, year: int = 0):
        super().__init__(code)
        self.code = code
        self.length = length
        self.year = year


@dataclass(frozen=True)
class IdNumber:
    """A checked, normalised document number and what it says about its holder."""

    id_type: str
    number: str
    birth_date: date | None = None
    sex: str = ""  # from a resident ID: "M" (odd 17th digit) or "F"
    province: str = ""
    county: str = ""

    @property
    def mask(self) -> str:
        return mask(self.number, self.id_type)

    @property
    def last4(self) -> str:
        return self.number[-4:]


def normalise(raw: str | None) -> str:
    """Full-width digits and letters to ASCII, spaces and dashes out, upper case."""
    text = unicodedata.normalize("NFKC", raw or "")
    return _SEPARATORS.sub("", text).upper()


def check(raw: str | None, id_type: str = RESIDENT_ID, *, today: date) -> IdNumber:
    """The number ``raw`` of a document of ``id_type``, normalised and checked.

    Raises :class:`IdNumberError`: ``required``, and for a resident ID
    ``wrong_length``, ``bad_format`` (not 17 digits and a digit or X),
    ``bad_checksum``, ``bad_birth_date`` (no such day), ``birth_year_too_early``
    (before ``BIRTH_YEAR_MIN``), ``future_birth_date``; for another document ``bad_document``.
    """
    if id_type not in ID_TYPES:
        raise ValueError(f"unknown document type {id_type!r}")
    number = normalise(raw)
    if not number:
        raise IdNumberError("required")
    if id_type != RESIDENT_ID:
        if not _DOCUMENT.fullmatch(number):
            raise IdNumberError("bad_document")
        return IdNumber(id_type, number)
    if len(number) != RESIDENT_LENGTH:
        raise IdNumberError("wrong_length", len(number))
    if not number[:-1].isdigit() or not (number[-1].isdigit() or number[-1] == "X"):
        raise IdNumberError("bad_format")
    if ric.calc_check_digit(number) != number[-1]:
        raise IdNumberError("bad_checksum")
    try:
        born = ric.get_birth_date(number)
    except ValidationError:
        raise IdNumberError("bad_birth_date") from None
    if born.year < BIRTH_YEAR_MIN:
        raise IdNumberError("birth_year_too_early", year=born.year)
    if born > today:
        raise IdNumberError("future_birth_date")
    province, county = region(number)
    sex = "M" if int(number[16]) % 2 else "F"
    return IdNumber(id_type, number, born, sex, province, county)


def region(number: str) -> tuple[str, str]:
    """Province and county named by the first six digits ("", "" when unknown).

    A county code that was renamed or reused is read as it was in the holder's
    birth year when the table says so, else as it is now; nothing here refuses."""
    province = PROVINCES.get(number[:2], "")
    try:
        parts = numdb.get("cn/loc").info(number[:6])
    except Exception:  # a broken or missing table must not stop a registration
        return province, ""
    counties = ""
    for _part, props in parts:
        counties = props.get("county", counties)
    if not counties:
        return province, ""
    year = int(number[6:10]) if number[6:10].isdigit() else None
    names: list[tuple[int | None, int | None, str]] = []
    for entry in counties.split(","):
        m = _RANGE.match(entry)
        if m:
            start, end, name = m.groups()
            names.append((int(start) if start else None, int(end) if end else None, name))
        else:
            names.append((None, None, entry))
    for start, end, name in names:
        if year is not None and (start is None or year >= start) and (end is None or year <= end):
            return province, name
    current = [name for _start, end, name in names if end is None]
    county = (current or [names[-1][2]])[-1]
    # The province's own code ("350000") names the province, not a county.
    return province, "" if county == province else county


def mask(number: str, id_type: str = RESIDENT_ID) -> str:
    """What pages show: a resident ID keeps its region and last four
    (``350121********1234``, the birth date hidden); another document its first
    character and last three or four."""
    if id_type == RESIDENT_ID and len(number) == RESIDENT_LENGTH:
        return number[:6] + "*" * 8 + number[-4:]
    keep = 4 if len(number) >= 9 else 2
    if len(number) <= keep + 1:
        return "*" * len(number)
    return number[0] + "*" * (len(number) - keep - 1) + number[-keep:]


def find_in_text(text: str | None) -> bool:
    """Does ``text`` hold what is a valid resident ID number (checksum and all)?
    Free-text fields refuse one: a full number must never stand in clear."""
    for found in _IN_TEXT.findall(normalise_text(text)):
        number = found.upper()
        if ric.calc_check_digit(number) == number[-1]:
            return True
    return False


def normalise_text(text: str | None) -> str:
    """Full-width characters to ASCII (spaces kept): how a free text is searched for numbers."""
    return unicodedata.normalize("NFKC", text or "")
