"""Field checks shared by every path that takes input (forms, API, import, station)."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from village_grid.errors import InvalidInput

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Area code 0 + 2-3 digits, then a 7-8 digit number, optional extension.
_LANDLINE = re.compile(r"^(0\d{2,3})(\d{7,8})(?:-(\d{1,6}))?$")


def normalise_phone(value: str | None, *, field: str = "phone", required: bool = False) -> str:
    """Return a Chinese mobile (11 digits, starting with 1) or landline ("0591-12345678").

    Spaces, dashes and a leading +86/0086 are accepted on input. An empty value
    is returned as "" unless ``required``. Raises :class:`InvalidInput` naming
    ``field`` otherwise.
    """
    raw = (value or "").strip()
    if len(raw) == 11 and _MOBILE.match(raw):  # most phones are written so: done at once
        return raw
    if not raw:
        if required:
            raise InvalidInput(str(_l("Phone number is required.")), fields={field: "required"})
        return ""
    digits = re.sub(r"[\s()]", "", raw)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :].lstrip("-")
    compact = digits.replace("-", "")
    if _MOBILE.match(compact):
        return compact
    # Keep an extension's dash: "0591-87654321-123".
    parts = digits.split("-")
    if len(parts) >= 2 and parts[0].startswith("0"):
        candidate = parts[0] + parts[1] + ("-" + parts[2] if len(parts) > 2 else "")
    else:
        candidate = compact
    m = _LANDLINE.match(candidate)
    if m and len(m.group(1)) + len(m.group(2)) in (10, 11, 12):
        area, number, ext = m.groups()
        return f"{area}-{number}" + (f"-{ext}" if ext else "")
    raise InvalidInput(
        str(
            _l(
                "“%(value)s” is not a phone number: use an 11-digit mobile starting with 1, "
                "or a landline with area code such as 0591-87654321.",
                value=raw[:30],
            )
        ),
        fields={field: "bad_phone"},
    )


def clean_text(
    value: str | None, *, field: str, max_len: int, required: bool = False, label: str = ""
) -> str:
    """Strip and bound a text field; raise InvalidInput when required and empty or too long."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(
            str(_l("%(field)s is required.", field=label or field)), fields={field: "required"}
        )
    if len(text) > max_len:
        raise InvalidInput(
            str(_l("%(field)s is longer than %(n)s characters.", field=label or field, n=max_len)),
            fields={field: "too_long"},
        )
    return text
