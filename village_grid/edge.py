"""The edge: what no input may carry past it, checked once for the whole app.

- **Ids in a URL path** use the ``id`` converter (``/households/<id:household_id>``):
  only 1 … 2³¹−1, the range of an id column on every engine. Anything else
  matches no route: 404, before a view or a query runs.
- **Ids in a query string or a form** go through :func:`id_arg` (or :func:`int_arg`
  for other whole numbers): out of range or not a number is a 422 naming the
  field. In a JSON body the schemas bound every id (:data:`ID`).
- **Text**: a NUL character or an unpaired UTF-16 surrogate anywhere in what a
  request carries — a path value, the query string, form fields and file names,
  header values, JSON strings and keys — is refused with a 422 naming the field
  (``fields: {name: "bad_character"}``). Neither can be stored (PostgreSQL refuses
  NUL in text; neither engine can encode a lone surrogate), neither is ever
  typed by a person, and refusing says so where removing would change what
  was sent without a word. The JSON API checks its bodies in
  ``api.validation.json_body``; everything else is checked here, before any view.

``docs/security.md`` ("Bad input") states the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from village_grid.errors import InvalidInput

ID_MIN = 1
ID_MAX = 2**31 - 1
# The JSON Schema of an id: every body's ids are bounded by this.
ID: dict = {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}
# A count in an answer, and one page of a list in an answer (``?limit=&offset=``).
COUNT_OUT: dict = {"type": "integer", "minimum": 0}


def page_out(key: str, item: dict) -> dict:
    """The answer schema of one page of a list: the items under ``key``, with the
    total there is and the limit and offset asked for."""
    return {
        "type": "object",
        "required": [key, "total", "limit", "offset"],
        "properties": {
            key: {"type": "array", "items": item},
            "total": COUNT_OUT,
            "limit": COUNT_OUT,
            "offset": COUNT_OUT,
        },
    }


# A required text in a JSON Schema: something besides spaces (the services strip).
NONBLANK = r"\S"

# NUL, and a surrogate code point standing alone (a valid pair is one
# character by the time it is a Python str).
_BAD = re.compile("[\x00\ud800-\udfff]")
BAD_CHARACTER = "bad_character"
# A whole number as a query or form value (no sign but "-", ASCII digits, bounded length).
_WHOLE = re.compile(r"-?[0-9]{1,12}")


def _up_to(limit: str) -> str:
    """A regex matching the decimal numbers of ``len(limit)`` digits up to ``limit``."""
    alternatives = []
    for i, digit in enumerate(limit):
        rest = len(limit) - i - 1
        low = "1" if i == 0 else "0"
        if digit > low:
            top = str(int(digit) - 1)
            alternatives.append(f"{limit[:i]}[{low}-{top}]" + (rf"\d{{{rest}}}" if rest else ""))
    alternatives.append(limit)
    return "|".join(alternatives)


class IdConverter(IntegerConverter):
    """``<id:name>``: a database id, 1 … 2³¹−1, written without leading zeros.

    The regex itself holds the range, so any other number matches no route —
    404 for every method (a range checked only in ``to_python`` would let
    werkzeug answer 405 when another method's rule has the same path).
    """

    regex = rf"(?:[1-9]\d{{0,{len(str(ID_MAX)) - 2}}}|{_up_to(str(ID_MAX))})"

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", ID_MIN)
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def _shown(name: str) -> str:
    """A field name fit to be echoed back: bad characters replaced, bounded."""
    return _BAD.sub("\ufffd", name)[:100]


def refuse_bad_character(field: str) -> InvalidInput:
    return InvalidInput(
        _(
            "%(field)s contains a character that is not allowed "
            "(a NUL character or a broken Unicode character).",
            field=_shown(field),
        ),
        fields={_shown(field): BAD_CHARACTER},
    )


def check_text(value: str | None, field: str | None) -> None:
    """Raise a 422 naming ``field`` when ``value`` holds a NUL or a lone surrogate."""
    if isinstance(value, str) and _BAD.search(value):
        raise refuse_bad_character(field or "")


def check_json(data: Any, field: str = "") -> None:
    """Walk a decoded JSON value: every string and every key (fields named a.b.0.c)."""
    if isinstance(data, str):
        check_text(data, field or "body")
    elif isinstance(data, dict):
        for key, value in data.items():
            name = f"{field}.{key}" if field else str(key)
            check_text(key, name)
            check_json(value, name)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            check_json(value, f"{field}.{i}" if field else str(i))


def check_pairs(pairs: Iterable[tuple[str, str]]) -> None:
    for key, value in pairs:
        check_text(key, key)
        check_text(value, key)


def check_request() -> None:
    """Refuse a request whose path values, query, form or headers carry a bad character.

    JSON bodies are the API's: ``api.validation.json_body`` checks them with
    :func:`check_json` when it reads them.
    """
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            check_text(value, name)
    check_pairs(request.args.items(multi=True))
    for name, value in request.headers.items():
        check_text(value, name)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        check_pairs(request.form.items(multi=True))
        for name, upload in request.files.items(multi=True):
            check_text(name, name)
            check_text(upload.filename or "", name)


def to_int(raw: Any, *, low: int = ID_MIN, high: int = ID_MAX) -> int | None:
    """``raw`` (a form or query value) as a whole number within [low, high], else None."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not _WHOLE.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def to_id(raw: Any) -> int | None:
    """``raw`` as an id (1 … 2³¹−1), else None: for form fields that check themselves."""
    return to_int(raw)


def int_arg(
    name: str,
    default: int | None = None,
    *,
    low: int = ID_MIN,
    high: int = ID_MAX,
    source: Any = None,
) -> int | None:
    """A whole number from the query string (or ``source``, e.g. ``request.form``)
    within [low, high]; empty or absent is ``default``; anything else a 422 naming it."""
    values = request.args if source is None else source
    raw = values.get(name, "")
    if not isinstance(raw, str) or raw.strip() == "":
        return default
    value = to_int(raw, low=low, high=high)
    if value is None:
        raise InvalidInput(
            _(
                "%(name)s must be a whole number from %(low)s to %(high)s.",
                name=_shown(name),
                low=low,
                high=high,
            ),
            fields={_shown(name): "invalid"},
        )
    return value


def id_arg(name: str, *, source: Any = None) -> int | None:
    """An id from the query string (or ``source``): 1 … 2³¹−1, or None when absent."""
    return int_arg(name, None, source=source)


def id_list(name: str, *, source: Any = None) -> list[int]:
    """Every value of a repeated id field (checkboxes), each an id, or a 422 naming it."""
    values = request.args if source is None else source
    out = []
    for raw in values.getlist(name):
        value = int_arg(name, None, source={name: raw})
        if value is not None:
            out.append(value)
    return out


def init_app(app: Flask) -> None:
    """Register the ``id`` converter and the request check. Before the blueprints:
    their rules are compiled with the converters the map has then."""
    app.url_map.converters["id"] = IdConverter
    app.before_request(check_request)
