"""Validate input documents against the JSON Schemas shipped in ``schemas/``."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema
from fleetc.core import secrets
from fleetc.core.diagnostics import Diagnostics, field_path
from fleetc.core.yamlsource import Document
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

SCHEMA_BASE = "https://fleetc.io/schemas/"
_MAX_SHOWN = 60


@functools.cache
def _registry() -> Registry:
    registry: Registry = Registry()
    for entry in sorted(resources.files("fleetc.schemas").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".schema.json"):
            contents = json.loads(entry.read_text(encoding="utf-8"))
            registry = registry.with_resource(contents["$id"], Resource.from_contents(contents))
    return registry


@functools.cache
def validator(name: str, pointer: str = "") -> jsonschema.protocols.Validator:
    """A validator for ``schemas/<name>.schema.json`` (or a ``#/$defs/...`` pointer inside it)."""
    uri = SCHEMA_BASE + f"{name}.schema.json"
    schema: dict[str, Any] = {"$ref": uri + (f"#{pointer}" if pointer else "")}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def validate(
    doc: Document,
    name: str,
    diags: Diagnostics,
    *,
    data: Any = None,
    base: tuple[str | int, ...] = (),
    pointer: str = "",
) -> bool:
    """Report every schema violation of ``data`` (default: the whole document) as a diagnostic."""
    instance = doc.data if data is None else data
    redact = secrets.is_secret(doc.data) or secrets.is_secret(instance)
    ok = True
    errors = validator(name, pointer).iter_errors(instance)
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        ok = False
        for path, message in _explain(error, redact):
            full = (*base, *path)
            diags.error(message, doc.pos(full), field_path(full))
    return ok


def _short(value: Any, redact: bool = False) -> str:
    """A value for a message; never the value itself inside a Secret."""
    if redact:
        return "a value (not shown: this is a Secret)"
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except ValueError:  # e.g. an integer longer than Python prints
        text = type(value).__name__
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _explain(
    error: ValidationError, redact: bool = False
) -> list[tuple[tuple[str | int, ...], str]]:
    """Readable messages for the validators users meet most; the path points at the culprit.

    With ``redact`` (the document is a Secret) no message quotes a value.
    """
    path = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extras = sorted(k for k in error.instance if k not in allowed)
        hint = ", ".join(sorted(allowed)) or "none"
        return [((*path, k), f"unknown field {k!r} (allowed: {hint})") for k in extras]
    if kind == "required":
        return [(path, error.message.replace("is a required property", "is required"))]
    if kind in ("const", "enum"):
        expected = error.validator_value if kind == "enum" else [error.validator_value]
        choices = ", ".join(json.dumps(v) for v in expected)
        return [
            (
                path,
                f"{_short(error.instance, redact)} is not allowed here; expected one of: {choices}",
            )
        ]
    if kind == "pattern":
        return [(path, f"{_short(error.instance, redact)} does not match the required format")]
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return [(path, f"expected {expected}, got {_short(error.instance, redact)}")]
    if redact:
        return [
            (path, f"the value breaks the schema's {kind!r} rule (not shown: this is a Secret)")
        ]
    if kind in ("anyOf", "oneOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return [((*path, *best.relative_path), best.message)]
    return [(path, error.message if len(error.message) < 200 else error.message[:197] + "...")]
