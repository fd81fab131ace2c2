"""Cells a spreadsheet must not run: the one rule every export writes and the import undoes.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel, WPS and LibreOffice when the file is
opened (CSV injection: ``=HYPERLINK("http://…";"click")`` in a head of
household's name). As OWASP describes, such a cell is written with a single
quote in front, which makes it text.

The rule is reversible, so an exported registry imports back unchanged: a cell
that already starts with a quote followed by one of those characters or by
another quote gets one more quote on export, and the importer takes exactly
one quote off a cell that starts with a quote followed by one of them. Any
other cell — ``'Tis`` or ``O'Brien`` — passes both ways untouched.
"""

from __future__ import annotations

from typing import TypeVar

# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"

V = TypeVar("V")


def spreadsheet_cell(value: V) -> V | str:
    """The value to write into an exported cell: text that would run as a formula
    gets a leading single quote. Numbers, dates and None are written as they are."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_STARTS) or (
        value[0] == QUOTE and value[1:2] and value[1] in (*FORMULA_STARTS, QUOTE)
    ):
        return QUOTE + value
    return value


def spreadsheet_value(cell: str) -> str:
    """The inverse of :func:`spreadsheet_cell`, for a cell read from an imported file."""
    if cell[:1] == QUOTE and cell[1:2] and cell[1] in (*FORMULA_STARTS, QUOTE):
        return cell[1:]
    return cell
