"""Builds the OpenAPI 3.1 document from the API's routes and their ``@document`` notes.

Each answer an endpoint documents with a schema (``responses={"200": ("The unit",
UNIT_DETAIL_OUT)}``) is described with it; every error status is described with
the one error body. The request bodies are shown with the rule the edge enforces
on every string and key (``village_grid.edge``): no NUL, written out as a ``pattern``
a generator can draw from, so a client or a fuzzer sees what is refused; no unpaired
surrogate, said in words (:data:`TEXT_RULE`): a regex engine that works on Unicode
scalar values (as JSON Schema's generators and Rust's do) cannot name one.
tests/test_api_fuzz.py holds the API to this document.
"""

from __future__ import annotations

import copy
import re

from flask import Flask

from village_grid.api.validation import EMPTY_BODY
from village_grid.edge import ID, NONBLANK

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object"},
            },
        }
    },
}

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
# Every string and key a request carries (village_grid.edge refuses the rest).
GOOD_TEXT = r"^[^\x00]*$"
# edge.NONBLANK with the same rule, as one pattern (generators do not combine two).
GOOD_NONBLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
TEXT_RULE = (
    "Every string and key of a request refuses a NUL character (each says so with a "
    "`pattern`) and an unpaired UTF-16 surrogate (a JSON escape \\ud800-\\udfff not part "
    'of a pair): 422 with `fields: {name: "bad_character"}`.'
)
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
# Answered by the edge or the error handlers to any operation.
_ALWAYS = {
    "400": "bad_request / bad_json: not JSON, or a request that cannot be read",
    "404": "not_found: no such object in your scope",
    "422": "invalid_input: fields names every field that is wrong and how (bad_character: "
    "a NUL or an unpaired surrogate)",
    "429": "rate_limited: wait and try again",
}
_WRITES = ("POST", "PATCH", "PUT", "DELETE")


# Any JSON value whose strings and keys, at every depth, keep the text rule: what a
# schema that leaves a value free (a sync operation's fields) allows.
TEXT_JSON_REF = "#/components/schemas/TextJson"
TEXT_JSON = {
    "description": "any JSON value; its strings and keys keep the text rule",
    "pattern": GOOD_TEXT,
    "propertyNames": {"pattern": GOOD_TEXT},
    "additionalProperties": {"$ref": TEXT_JSON_REF},
    "items": {"$ref": TEXT_JSON_REF},
}
# Keys whose value is one schema, and those whose value is a list or a map of them.
_SUBSCHEMA = ("items", "additionalProperties", "not", "contains", "propertyNames")
_SUBSCHEMAS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs")
# What makes a schema more than "any value".
_SAYS_WHAT = {"type", "enum", "const", "$ref", *_SUBSCHEMAS}


def with_text_rule(schema: dict) -> dict:
    """A copy of a request schema whose free strings and open keys state the text rule
    (a value left free is :data:`TEXT_JSON`)."""
    schema = copy.deepcopy(schema)

    def walk(node: dict) -> None:
        if not _SAYS_WHAT & set(node):
            node.update(copy.deepcopy(TEXT_JSON), description=node.get("description", ""))
            if not node["description"]:
                del node["description"]
            return
        types = node.get("type")
        types = types if isinstance(types, list) else [types]
        if "string" in types and not {"enum", "const", "format", "contentMediaType"} & set(node):
            if node.get("pattern") == NONBLANK:
                node["pattern"] = GOOD_NONBLANK
            elif "pattern" in node:
                node["allOf"] = [*node.get("allOf", []), {"pattern": GOOD_TEXT}]
            else:
                node["pattern"] = GOOD_TEXT
        if "object" in types and node.get("additionalProperties") is not False:
            node.setdefault("propertyNames", {})
            node["propertyNames"].setdefault("pattern", GOOD_TEXT)
            if "additionalProperties" not in node and "patternProperties" not in node:
                node["additionalProperties"] = {"$ref": TEXT_JSON_REF}
        if "array" in types and "items" not in node and "prefixItems" not in node:
            node["items"] = {"$ref": TEXT_JSON_REF}
        for key, value in node.items():
            if key in _SUBSCHEMA and isinstance(value, dict):
                walk(value)
            elif key in _SUBSCHEMAS and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        walk(item)
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                for item in value.values():
                    if isinstance(item, dict):
                        walk(item)

    walk(schema)
    return schema


def _response(code: str, note: object) -> dict:
    """``note``: a description, or (description, schema[, media type or types])."""
    if isinstance(note, tuple):
        description, schema, *media = note
        types = media[0] if media else "application/json"
        types = (types,) if isinstance(types, str) else types
        return {
            "description": description,
            "content": {t: {"schema": schema} if schema is not None else {} for t in types},
        }
    out: dict = {"description": str(note)}
    if code.startswith("4"):
        out["content"] = _ERROR_CONTENT
    return out


def build(app: Flask) -> dict:
    paths: dict[str, dict] = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or not rule.rule.startswith("/api/v1"):
            continue
        view = app.view_functions[rule.endpoint]
        note = getattr(view, "openapi", None) or {}
        path = _CONVERTER.sub(r"{\2}", rule.rule[len("/api/v1") :])
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": dict(ID) if conv == "id" else {"type": "string", "pattern": GOOD_TEXT},
            }
            for conv, name in _CONVERTER.findall(rule.rule)
        ] + [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in (note.get("query") or {}).items()
        ]
        public = getattr(view, "access", None) == "public"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            responses = {
                str(code): _response(str(code), desc)
                for code, desc in (note.get("responses") or {"200": "OK"}).items()
            }
            defaults = dict(_ALWAYS)
            if not public:
                defaults["401"] = "unauthorized: log in or send a valid bearer token"
                if method in _WRITES:
                    defaults["403"] = "forbidden: you may see this but not do this to it"
            for code, description in defaults.items():
                responses.setdefault(code, {"description": description, "content": _ERROR_CONTENT})
            op: dict = {
                "operationId": rule.endpoint.split(".", 1)[1]
                + ("" if method == "GET" else f"_{method.lower()}"),
                "summary": note.get("summary", rule.endpoint),
                "tags": note.get("tags") or [],
                "responses": dict(sorted(responses.items())),
                "security": [] if public else [{"bearer": []}],
            }
            if params:
                op["parameters"] = params
            if note.get("body") and method in ("POST", "PATCH", "PUT"):
                body = note["body"]
                op["requestBody"] = {
                    # EMPTY_BODY: the endpoint takes no body; sending none is fine.
                    "required": body is not EMPTY_BODY,
                    "content": {
                        note.get("content_type") or "application/json": {
                            "schema": body if body is EMPTY_BODY else with_text_rule(body)
                        }
                    },
                }
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "village_grid API", "version": "1", "description": TEXT_RULE},
        "servers": [{"url": "/api/v1"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, "TextJson": TEXT_JSON},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
