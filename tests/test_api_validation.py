"""The compiled fast check (fastjsonschema) may only ever say "valid" where
jsonschema, which names the bad fields, says so too: every schema of every
feature, against bodies broken in every way we could think of."""

from __future__ import annotations

import importlib
import itertools

import fastjsonschema
import pytest
from jsonschema import Draft202012Validator

from village_grid.api.validation import EMPTY_BODY, _fast_validator
from village_grid.i18n import DOMAINS

NASTY = [
    None, True, False, 0, 1, -1, 1.0, 1.5, 2**31, 2**63, float("inf"), "", " ", "x", "1",
    "x" * 41, "x" * 201, "x" * 5000, "2026-11-22T10:00:00Z", "not a date", "13800138000",
    [], [1], ["x"] * 60, [None], {}, {"x": 1}, {"id": "q1"}, {"a": {"b": {"c": []}}},
]  # fmt: skip


def schemas():
    found = {"EMPTY_BODY": EMPTY_BODY}
    for domain in DOMAINS:
        try:
            module = importlib.import_module(f"village_grid.{domain}.schemas")
        except ModuleNotFoundError:
            continue
        for name, value in vars(module).items():
            # Request schemas only: answers (``*_OUT``) are never validated by the server.
            if (
                name.isupper()
                and not name.endswith("_OUT")
                and isinstance(value, dict)
                and "type" in value
            ):
                found[f"{domain}.{name}"] = value
    return found


GOOD = [*sorted(NASTY[1:], key=lambda v: isinstance(v, str)), "2026-11-22", "x" * 3]


def good_value(sub: dict):
    """A value ``sub`` accepts: its first enum member or example, else the first that
    fits among the usual suspects (a date, a phone number, a short text, a number)."""
    for candidate in [*sub.get("enum", ()), *sub.get("examples", ()), *GOOD]:
        if Draft202012Validator(sub).is_valid(candidate):
            return candidate
    return "x"


def bodies(schema: dict):
    """Good-looking and broken bodies for ``schema``."""
    yield from NASTY
    if schema.get("type") != "object":
        yield good_value(schema)
    props = schema.get("properties") or {}
    required = schema.get("required") or []
    base = {key: good_value(sub) for key, sub in props.items()}
    yield base
    yield {k: v for k, v in base.items() if k in required}
    yield dict(base, extra=1)
    for key, value in itertools.product(props, NASTY):
        yield dict(base, **{key: value})
        yield {key: value}
    for key in required:
        yield {k: v for k, v in base.items() if k != key}


@pytest.mark.parametrize("name,schema", sorted(schemas().items()))
def test_fast_check_never_passes_what_jsonschema_refuses(name, schema):
    fast = _fast_validator(schema)
    assert fast is not None, f"{name} does not compile: every body would take the slow path"
    full = Draft202012Validator(schema)
    checked = 0
    for body in bodies(schema):
        try:
            fast(body)
        except fastjsonschema.JsonSchemaValueException:
            continue  # refused; any other exception is the validator crashing, and fails
        checked += 1
        assert full.is_valid(body), f"{name}: fast check passed {body!r}, jsonschema refuses it"
    assert checked, f"{name}: no body passed at all; the test has nothing to say"
