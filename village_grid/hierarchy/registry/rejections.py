"""What a rejected registry file reports.

Every problem found in a file is one entry ``{"line", "code", "reason", "field"}``
(line 0: the file as a whole, line 1: the header). :class:`ImportRejected`
carries them all, so the page, the API and the command line list every bad row.
"""

from __future__ import annotations

from flask_babel import gettext as _

from village_grid.errors import DomainError, InvalidInput


def problem(line: int, code: str, reason: str, field_name: str = "") -> dict:
    """One entry of :attr:`ImportRejected.rows`."""
    return {"line": line, "reason": str(reason), "code": code, "field": field_name}


class ImportRejected(InvalidInput):
    """The file had bad rows; nothing was imported. ``rows`` lists every one."""

    status = 422
    code = "import_rejected"

    def __init__(self, rows: list[dict]):
        self.rows = sorted(rows, key=lambda r: r["line"])
        bad_lines = {r["line"] for r in self.rows if r["line"] > 1}
        if bad_lines:
            message = _("Rows with mistakes: %(num)s. Nothing was imported.", num=len(bad_lines))
        elif any(r["line"] == 1 for r in self.rows):
            message = _("The header row is wrong; nothing was imported.")
        else:
            message = _("The file could not be read; nothing was imported.")
        super().__init__(message, fields={"file": "import_rejected"})

    @classmethod
    def whole_file(cls, code: str, reason: str) -> ImportRejected:
        """The file as a whole is refused (wrong type, empty, not allowed ...)."""
        return cls([problem(0, code, reason, "file")])

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "rows": self.rows}}


def first_field(err: DomainError) -> tuple[str, str]:
    """The first (field, code) a service error names; ("", the error's code) if none."""
    for key, value in err.fields.items():
        if isinstance(value, str):
            return key, value
    return "", err.code
