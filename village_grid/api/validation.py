"""JSON body parsing and JSON-Schema validation for every API endpoint.

Schemas live next to their feature (``village_grid/<domain>/schemas.py``);
this turns a bad body into ``InvalidInput`` with one entry per bad field.
"""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from jsonschema import Draft202012Validator

from village_grid.errors import InvalidInput

_validators: dict[int, Draft202012Validator] = {}


def _validator(schema: dict) -> Draft202012Validator:
    key = id(schema)
    if key not in _validators:
        Draft202012Validator.check_schema(schema)
        _validators[key] = Draft202012Validator(schema)
    return _validators[key]


def validate(schema: dict, data) -> dict:
    """Check ``data`` against ``schema``; raise InvalidInput naming every bad field."""
    errors = sorted(_validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        fields: dict[str, str] = {}
        for err in errors:
            name = ".".join(str(p) for p in err.path)
            if not name and err.validator == "required":
                missing = [
                    f for f in err.validator_value if not isinstance(data, dict) or f not in data
                ]
                for m in missing:
                    fields.setdefault(m, "required")
                continue
            if not name and err.validator == "additionalProperties":
                for extra in sorted(set(data) - set(err.schema.get("properties", {}))):
                    fields.setdefault(extra, "not_allowed")
                continue
            fields.setdefault(name or "body", err.message[:200])
        raise InvalidInput(_("The request body is not valid."), fields=fields)
    return data


def json_body(schema: dict) -> dict:
    """The request's JSON object, validated against ``schema``."""
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidInput(
            _("Send a JSON object with Content-Type: application/json."),
            fields={"body": "not_json"},
        )
    return validate(schema, data)


def document(
    summary: str,
    *,
    body: dict | None = None,
    responses: dict | None = None,
    tags: list[str] | None = None,
):
    """Record what an endpoint does for the OpenAPI document (``/api/v1/openapi.json``)."""

    def deco(view):
        view.openapi = {
            "summary": summary,
            "body": body,
            "responses": responses or {},
            "tags": tags or [],
        }
        return view

    return deco
