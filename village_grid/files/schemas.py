"""What the API says about a file being made or made."""

from __future__ import annotations

from village_grid.edge import COUNT_OUT, ID
from village_grid.models.files import FILE_STATES
from village_grid.spreadsheets import MIMETYPES

FILE_OUT = {
    "type": "object",
    "required": [
        "file_id",
        "kind",
        "format",
        "state",
        "percent",
        "rows_done",
        "rows_total",
        "filename",
        "download",
        "expires_at",
        "page",
    ],
    "properties": {
        "file_id": ID,
        "kind": {"type": "string"},
        "format": {"type": "string"},
        "state": {"type": "string", "enum": list(FILE_STATES)},
        "percent": {"type": "integer", "minimum": 0, "maximum": 100},
        "rows_done": COUNT_OUT,
        "rows_total": COUNT_OUT,
        "filename": {"type": "string"},
        # The file's URL once it is made (null before, and after it expired).
        "download": {"type": ["string", "null"]},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "page": {"type": "string"},
    },
}

# A made file, as the API sends it: CSV or XLSX.
FILE_TYPES = (MIMETYPES["csv"], MIMETYPES["xlsx"])
FILE_BODY = {"type": "string", "format": "binary"}
