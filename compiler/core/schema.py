"""Validate input documents against the JSON Schemas shipped in ``schemas/``."""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from . import secrets
from .diagnostics import Diagnostics, did_you_mean, field_path
from .yamlsource import Document

# The schemas' ``$id``s are their file names, so their ``$ref``s resolve next to the file a
# validator read them from (no remote fetch); fleetc itself serves them under this base.
SCHEMA_BASE = "https://fleetc.invalid/schemas/"
_MAX_SHOWN = 60


@functools.cache
def _registry() -> Registry:
    registry: Registry = Registry()
    for entry in sorted(resources.files("fleetc.schemas").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".schema.json"):
            contents = json.loads(entry.read_text(encoding="utf-8"))
            registry = registry.with_resource(
                SCHEMA_BASE + entry.name, Resource.from_contents(contents)
            )
    return registry


@functools.cache
def schema_files() -> dict[str, bytes]:
    """The shipped schemas: file name -> bytes (what ``fleetc schema`` writes)."""
    return {
        entry.name: entry.read_bytes()
        for entry in sorted(resources.files("fleetc.schemas").iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".schema.json")
    }


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
        for path, message, hint in _explain(error, redact):
            full = (*base, *path)
            diags.error(message, doc.pos(full), field_path(full), hint=hint)
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


# The schemas' name formats, in words.
PATTERN_WORDS = {
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": (
        "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter "
        "or digit"
    ),
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$": (
        "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', each part starting and "
        "ending with a letter or digit"
    ),
    "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$": (
        "a label value: letters, digits, '-', '_' and '.', starting and ending with a letter or "
        "digit (or empty)"
    ),
    "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    "[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$": (
        "a label key: an optional DNS subdomain and '/', then at most 63 letters, digits, '-', "
        "'_' and '.', starting and ending with a letter or digit"
    ),
    "^(?!/)(?!.*(^|/)\\.\\.(/|$)).*$": "a relative path that does not climb out with '..'",
    "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$": "a duration such as 30s, 5m or 1h30m",
    "^(http|https|ssh)://.*$": "an http://, https:// or ssh:// URL",
    "^(http|https|ssh|oci)://.*$": "an http://, https:// or ssh:// git URL, or an oci:// URL",
    "^oci://": "an oci:// URL",
    "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$": "an OCI tag: letters, digits, '_', '.' and '-', "
    "at most 128 characters",
    "^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[mkMGTPE])?$": (
        "a Kubernetes quantity such as 500m, 2 or 1.5Gi"
    ),
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?$": (
        "namespace/name, both DNS-1123 labels"
    ),
    "^v?[0-9]+\\.[0-9]+(\\.[0-9]+)?([-+][0-9A-Za-z.-]+)?$": "a version such as 1.31 or v1.31.2",
    "^v?[0-9]+\\.[0-9]+\\.[0-9]+$": "a version such as 1.12.2",
    "^(100|[0-9]{1,2})%$": "a percentage from 0% to 100%, such as 25%",
}

_NO_SPACE = re.compile(r"^[A-Za-z0-9_.-]+:[^\s/]")

Explained = tuple[tuple[str | int, ...], str, str | None]


def _explain(error: ValidationError, redact: bool = False) -> list[Explained]:
    """Readable messages, with hints, for the validators users meet most; the path points at
    the culprit. With ``redact`` (the document is a Secret) no message quotes a value."""
    path = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extras = sorted(k for k in error.instance if k not in allowed)
        listed = ", ".join(allowed) or "none"
        return [
            (
                (*path, k),
                f"unknown field {k!r}",
                f"{close} (allowed: {listed})"
                if (close := did_you_mean(str(k), allowed))
                else f"allowed: {listed}",
            )
            for k in extras
        ]
    if kind == "required":
        return [(path, error.message.replace("is a required property", "is required"), None)]
    if kind in ("const", "enum"):
        expected = error.validator_value if kind == "enum" else [error.validator_value]
        choices = ", ".join(json.dumps(v) for v in expected)
        words = [v for v in expected if isinstance(v, str)]
        close = did_you_mean(str(error.instance), words) if not redact else None
        message = (
            f"{_short(error.instance, redact)} is not allowed here; expected one of: {choices}"
        )
        return [(path, message, close)]
    if kind == "pattern":
        words = PATTERN_WORDS.get(str(error.validator_value))
        message = f"{_short(error.instance, redact)} does not match the required format"
        if words:
            message += f": {words}"
        hint = None
        if isinstance(error.instance, str) and error.instance != error.instance.lower():
            hint = f"use lowercase: {error.instance.lower()!r}" if not redact else "use lowercase"
        return [(path, message, hint)]
    if kind == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        shown = " or ".join(names)
        hint = None
        value = error.instance
        if "object" in names and isinstance(value, str) and _NO_SPACE.match(value) and not redact:
            key, rest = value.split(":", 1)
            hint = f"a key needs a space after its colon: write '{key}: {rest}'"
        if "string" in names and isinstance(value, bool | int | float) and not redact:
            text = json.dumps(value)
            hint = f'quote it: "{text}" (YAML reads {text} unquoted as a {_yaml_kind(value)})'
        return [(path, f"expected {shown}, got {_short(value, redact)}", hint)]
    if redact:
        return [
            (
                path,
                f"the value breaks the schema's {kind!r} rule (not shown: this is a Secret)",
                None,
            )
        ]
    if kind in ("anyOf", "oneOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return [((*path, *best.relative_path), best.message, None)]
    message = error.message if len(error.message) < 200 else error.message[:197] + "..."
    return [(path, message, None)]


def _yaml_kind(value: object) -> str:
    return "boolean" if isinstance(value, bool) else "number"
