"""JSON body parsing and JSON-Schema validation for every API endpoint.

Schemas live next to their feature (``village_grid/<domain>/schemas.py``);
this turns a bad body into ``InvalidInput`` with one entry per bad field.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from typing import Any

import fastjsonschema
from flask import request
from flask_babel import gettext as _
from jsonschema import Draft202012Validator

from village_grid.edge import ID_MAX, check_json, int_arg
from village_grid.errors import DomainError, InvalidInput


class BadJson(DomainError):
    """The body is not JSON at all (wrong content type, broken or absurdly nested JSON)."""

    status = 400
    code = "bad_json"


# For ``@document(body=EMPTY_BODY)``: a write that takes no body says so (the
# OpenAPI test wants every POST/PUT/PATCH to declare its body).
EMPTY_BODY: dict = {"type": "object", "additionalProperties": False, "maxProperties": 0}

# Field error codes, like the services' ("required", "too_long", "bad_phone" ...).
_CODES = {
    "type": "wrong_type",
    "maxLength": "too_long",
    "minLength": "too_short",
    "maxItems": "too_many",
    "minItems": "too_few",
    "maxProperties": "too_many",
    "uniqueItems": "duplicate",
    "enum": "unknown",
    "const": "unknown",
    "minimum": "out_of_range",
    "maximum": "out_of_range",
    "exclusiveMinimum": "out_of_range",
    "exclusiveMaximum": "out_of_range",
    "pattern": "invalid",
    "format": "invalid",
    "required": "required",
    "additionalProperties": "not_allowed",
}

_validators: dict[int, Draft202012Validator] = {}
MAX_ERRORS = 50


def _validator(schema: dict) -> Draft202012Validator:
    key = id(schema)
    if key not in _validators:
        Draft202012Validator.check_schema(schema)
        _validators[key] = Draft202012Validator(schema)
    return _validators[key]


_fast_validators: dict[int, Callable | None] = {}


def _fast_validator(schema: dict) -> Callable | None:
    """``schema`` compiled to plain Python by fastjsonschema (None if it cannot be).

    Only ever trusted to say "valid": a body it refuses goes to jsonschema,
    which decides and names every bad field. Every door-plate scan is
    validated, and the compiled check costs a tenth of jsonschema's.
    """
    key = id(schema)
    if key not in _fast_validators:
        try:
            _fast_validators[key] = fastjsonschema.compile(
                {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
            )
        except fastjsonschema.JsonSchemaDefinitionException:
            _fast_validators[key] = None
    return _fast_validators[key]


def validate(schema: dict, data) -> dict:
    """Check ``data`` against ``schema``; raise InvalidInput naming every bad field."""
    fast = _fast_validator(schema)
    if fast is not None:
        try:
            fast(data)
            return data
        except fastjsonschema.JsonSchemaValueException:
            pass  # jsonschema below has the last word, and names the fields
    # At most MAX_ERRORS: a body with thousands of bad items gets a bounded answer.
    errors = sorted(
        itertools.islice(_validator(schema).iter_errors(data), MAX_ERRORS),
        key=lambda e: [str(p) for p in e.path],
    )
    if errors:
        fields: dict[str, str] = {}
        for err in errors:
            prefix = "".join(f"{p}." for p in err.path)
            obj = err.instance
            if err.validator == "required" and isinstance(obj, dict):
                for missing in err.validator_value:
                    if missing not in obj:
                        fields.setdefault(prefix + missing, "required")
                continue
            if err.validator == "additionalProperties" and isinstance(obj, dict):
                known = set(err.schema.get("properties", {}))
                for extra in sorted(set(obj) - known)[:MAX_ERRORS]:
                    fields.setdefault((prefix + extra)[:100], "not_allowed")
                continue
            fields.setdefault(prefix[:-1] or "body", _CODES.get(err.validator, "invalid"))
        raise InvalidInput(_("The request body is not valid."), fields=fields)
    return data


def _number(text: str) -> int | float:
    """A JSON number with a fraction or exponent: a whole one is an int (JSON Schema's
    "integer" takes 416316.0, and so must the services); a non-finite one is not JSON."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return int(value) if value.is_integer() else value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON: no NaN or Infinity; whole numbers written 1.0 or 1e3 are ints."""
    return json.loads(raw, parse_float=_number, parse_constant=_no_constant)


def _not_json() -> BadJson:
    return BadJson(
        _("Send a JSON object with Content-Type: application/json."),
        fields={"body": "not_json"},
    )


def json_body(schema: dict) -> dict:
    """The request's JSON object, validated against ``schema``.

    Not JSON (wrong content type, broken or too deeply nested text, not UTF-8,
    NaN or Infinity) is a 400 ``bad_json``; a NUL or an unpaired surrogate in any
    string or key a 422 naming it (``village_grid.edge``); JSON that breaks the
    schema a 422 naming the fields.
    """
    if not request.is_json:
        raise _not_json()
    raw = request.get_data(cache=True)
    try:
        data = parse_json(raw)
    except (ValueError, RecursionError):
        # ValueError covers broken JSON and bytes that are not UTF-8.
        raise _not_json() from None
    # NUL and lone surrogates can only come in as \u escapes (raw ones are not JSON).
    if b"\\u" in raw:
        check_json(data)
    return validate(schema, data)


def empty_body() -> None:
    """For a write documented with ``body=EMPTY_BODY``: nothing, or the JSON object {}."""
    if request.content_length or request.get_data(cache=True):
        json_body(EMPTY_BODY)


# One page of a list: ?limit= (1 … MAX_LIMIT, DEFAULT_LIMIT when absent) and ?offset=.
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
PAGE_QUERY = {
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    "offset": {"type": "integer", "minimum": 0, "maximum": ID_MAX},
}


def page_args() -> tuple[int, int]:
    """``(limit, offset)`` of a list request; out of range is a 422 naming the field."""
    return (
        int_arg("limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        int_arg("offset", 0, low=0, high=ID_MAX),
    )


def document(
    summary: str,
    *,
    body: dict | None = None,
    responses: dict | None = None,
    tags: list[str] | None = None,
    content_type: str = "application/json",
    query: dict | None = None,
):
    """Record what an endpoint does for the OpenAPI document (``/api/v1/openapi.json``).

    ``body`` is the request body's JSON Schema; ``content_type`` its media type
    (``multipart/form-data`` for uploads, where ``body`` describes the form);
    ``query`` the optional query-string parameters, {name: JSON Schema}.
    """

    def deco(view):
        view.openapi = {
            "summary": summary,
            "body": body,
            "content_type": content_type,
            "responses": responses or {},
            "tags": tags or [],
            "query": query or {},
        }
        return view

    return deco
