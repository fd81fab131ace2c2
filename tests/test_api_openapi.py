"""/api/v1/openapi.json describes the whole API as OpenAPI 3.1."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator

from village_grid.api.validation import EMPTY_BODY

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
WRITES = {"post", "put", "patch"}


@pytest.fixture
def doc(client):
    res = client.get("/api/v1/openapi.json")  # public: no token
    assert res.status_code == 200 and res.mimetype == "application/json"
    return res.get_json()


def resolve(doc: dict, ref: str) -> dict:
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_top_level_structure(doc):
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert isinstance(doc["paths"], dict) and doc["paths"]
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    Draft202012Validator.check_schema(doc["components"]["schemas"]["Error"])


def test_operations_are_well_formed(doc):
    operation_ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/") and "<" not in path, path
        templated = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            assert method in HTTP_METHODS, (path, method)
            operation_ids.append(op["operationId"])
            assert op["summary"], (path, method)
            assert op["responses"], (path, method)
            for code, response in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d|default", code), (path, method, code)
                assert response["description"], (path, method, code)
                for media in response.get("content", {}).values():
                    if "$ref" in media["schema"]:
                        resolve(doc, media["schema"]["$ref"])
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == templated, (path, method)
            for p in op.get("parameters", []):
                assert p["required"] is (p["in"] == "path") and "schema" in p
            for requirement in op.get("security", []):
                assert set(requirement) <= set(doc["components"]["securitySchemes"])
    assert len(operation_ids) == len(set(operation_ids)), "operationId must be unique"


def test_every_api_route_is_documented(app, doc):
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1") :])
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            if method.lower() not in doc["paths"].get(path, {}):
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"not in openapi.json: {missing}"
    for path in ("/units", "/units/{unit_id}", "/households", "/households/{household_id}"):
        assert path in doc["paths"]


def test_every_write_has_a_request_schema(doc):
    """POST/PUT/PATCH declare their body. One that takes none says so with
    ``@document(..., body=api.validation.EMPTY_BODY)``."""
    missing = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in WRITES:
                continue
            body = op.get("requestBody")
            if not body:
                missing.append(f"{method.upper()} {path}")
                continue
            if not body["required"]:
                assert body["content"] == {"application/json": {"schema": EMPTY_BODY}}, path
            for media_type, media in body["content"].items():
                schema = media["schema"]
                Draft202012Validator.check_schema(schema)
                # An XML document (a CAP warning) is one string; every other body an object.
                expected = "string" if media_type.endswith("xml") else "object"
                assert schema.get("type") == expected, (path, media_type)
                if media_type == "application/json":
                    assert schema.get("additionalProperties") is False, (path, "closed schema")
    assert not missing, (
        "writes without a request schema (give @document a body=, or body=EMPTY_BODY): "
        + ", ".join(missing)
    )


def test_protected_operations_say_so(doc):
    assert doc["paths"]["/auth/token"]["post"]["security"] == []
    assert doc["paths"]["/units"]["get"]["security"] == [{"bearer": []}]
    assert "409" in doc["paths"]["/households"]["post"]["responses"]
    upload = doc["paths"]["/import"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


def test_documented_schemas_accept_the_documented_examples(doc):
    """The schemas the document shows are the ones the endpoints enforce."""
    create = doc["paths"]["/households"]["post"]["requestBody"]["content"]["application/json"]
    validator = Draft202012Validator(create["schema"])
    good = {"team_id": 4, "head_name": "林秀英", "flags": ["pregnant"], "members": [{"name": "x"}]}
    assert not list(validator.iter_errors(good))
    assert list(validator.iter_errors({**good, "colour": "red"}))
    move = doc["paths"]["/households/{household_id}/move"]["post"]["requestBody"]
    assert move["content"]["application/json"]["schema"]["required"] == ["team_id"]


def test_every_success_answer_has_a_schema(doc):
    """A 2xx answer says what it holds, so a client (and tests/test_api_fuzz.py) can check it."""
    missing = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for code, response in op["responses"].items():
                if not code.startswith("2"):
                    continue
                content = response.get("content") or {}
                if not content or not all("schema" in m for m in content.values()):
                    missing.append(f"{method.upper()} {path} {code}")
                for media in content.values():
                    Draft202012Validator.check_schema(media["schema"])
    assert not missing, "2xx answers without a schema: " + ", ".join(missing)


def test_errors_are_documented_with_the_error_body(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            assert {"400", "404", "422", "429"} <= codes, (method, path)
            if op["security"]:
                assert "401" in codes, (method, path)
                if method in WRITES | {"delete"}:
                    assert "403" in codes, (method, path)
            for code, response in op["responses"].items():
                if code.startswith("4"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)


def test_ids_in_paths_are_bounded(doc):
    for item in doc["paths"].values():
        for op in item.values():
            for p in op.get("parameters", []):
                if p["name"].endswith("_id"):
                    assert p["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def test_request_strings_state_the_text_rule(doc):
    """Every free string and open key of a request body refuses NUL (a pattern); lone
    surrogates are refused too, said in the document's description (no pattern a
    generator can use names them)."""
    body = doc["paths"]["/public/{token}/reports"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    note = schema["properties"]["note"]
    rule = re.compile(note["pattern"])
    assert rule.search("老人摔倒") and not rule.search("a\x00b")
    assert schema["properties"]["answers"]["propertyNames"]["pattern"] == note["pattern"]
    assert "NUL" in doc["info"]["description"] and "surrogate" in doc["info"]["description"]


def test_a_generator_can_use_every_pattern(doc):
    """Schemathesis (tests/test_api_fuzz.py) can draw from every pattern of every
    operation: none is dropped, none leaves a field with no value to draw."""
    import schemathesis
    from schemathesis.core.result import Ok
    from schemathesis.specs.openapi.warnings import detect_unsupported_regex

    schema = schemathesis.openapi.from_dict(doc)
    unsupported = {
        f"{op.label}: {warning.pattern}"
        for result in schema.get_all_operations()
        if isinstance(result, Ok)
        for op in [result.ok()]
        for warning in detect_unsupported_regex(op)
    }
    assert len(list(schema.get_all_operations())) > 40
    assert not unsupported, sorted(unsupported)
