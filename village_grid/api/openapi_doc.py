"""Builds the OpenAPI 3.1 document from the API's routes and their ``@document`` notes."""

from __future__ import annotations

import re

from flask import Flask

from village_grid.api.validation import EMPTY_BODY
from village_grid.edge import ID

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
                "schema": dict(ID) if conv == "id" else {"type": "string"},
            }
            for conv, name in _CONVERTER.findall(rule.rule)
        ]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict = {
                "operationId": rule.endpoint.split(".", 1)[1]
                + ("" if method == "GET" else f"_{method.lower()}"),
                "summary": note.get("summary", rule.endpoint),
                "tags": note.get("tags") or [],
                "responses": {
                    str(code): {"description": desc}
                    for code, desc in (note.get("responses") or {"200": "OK"}).items()
                },
            }
            for code in ("400", "401", "404", "422", "429"):
                op["responses"].setdefault(
                    code,
                    {
                        "description": "Error",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                )
            if getattr(view, "access", None) != "public":
                op["security"] = [{"bearer": []}]
            else:
                op["security"] = []
            if params:
                op["parameters"] = params
            if note.get("body") and method in ("POST", "PATCH", "PUT"):
                op["requestBody"] = {
                    # EMPTY_BODY: the endpoint takes no body; sending none is fine.
                    "required": note["body"] is not EMPTY_BODY,
                    "content": {
                        note.get("content_type") or "application/json": {"schema": note["body"]}
                    },
                }
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "village_grid API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
