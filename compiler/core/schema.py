"""Validate input documents against the JSON Schemas shipped in ``schemas/``."""

from __future__ import annotations

import functools
import json
import numbers
import re
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from referencing import Registry, Resource

from . import secrets
from .diagnostics import Diagnostics, did_you_mean, field_path
from .yamlsource import Document

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

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


def _uri(name: str, pointer: str) -> str:
    return SCHEMA_BASE + f"{name}.schema.json" + (f"#{pointer}" if pointer else "")


@functools.cache
def validator(name: str, pointer: str = "") -> jsonschema.protocols.Validator:
    """A validator for ``schemas/<name>.schema.json`` (or a ``#/$defs/...`` pointer inside it);
    one per schema, reused (a validator holds no state between instances)."""
    import jsonschema  # only to explain a failure: a valid input never loads it

    return jsonschema.Draft202012Validator({"$ref": _uri(name, pointer)}, registry=_registry())


@functools.cache
def checker(name: str, pointer: str = "") -> Callable[[Any], bool]:
    """Whether a value is valid against ``validator(name, pointer)``'s schema: the quick check
    when it says so, else jsonschema (loaded only then)."""
    quick = _quick_check(name, pointer)

    def valid(instance: Any) -> bool:
        if quick is not None and quick(instance):
            return True
        return bool(validator(name, pointer).is_valid(instance))

    return valid


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
    quick = _quick_check(name, pointer)
    if quick is not None and quick(instance):
        return True
    redact = secrets.is_secret(doc.data) or secrets.is_secret(instance)
    ok = True
    errors = validator(name, pointer).iter_errors(instance)
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        ok = False
        for path, message, hint in _explain(error, redact):
            full = (*base, *path)
            diags.error(message, doc.pos(full), field_path(full), hint=hint)
    return ok


# -- the quick check -------------------------------------------------------------------------
#
# jsonschema spends most of a valid document's time on its own bookkeeping (a validator evolved
# per node, every $ref looked up again). The quick check compiles a schema once into plain
# functions that only answer "valid?", for the keywords fleetc's schemas use, with jsonschema's
# exact rules (Draft 2020-12 types: an integral float is an "integer", a bool is no number).
# It is only ever trusted to say "valid": otherwise ``validate`` runs jsonschema, which gives the
# diagnostics. A schema with a keyword it does not know has no quick check.

Check = Callable[[Any], bool]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

_ANNOTATIONS = frozenset(
    {"$schema", "$defs", "$comment", "title", "description", "default", "examples", "deprecated"}
)
_TYPES: dict[str, Check] = {
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "integer": lambda x: (
        (isinstance(x, int) and not isinstance(x, bool))
        or (isinstance(x, float) and x.is_integer())
    ),
    "null": lambda x: x is None,
    "number": lambda x: isinstance(x, numbers.Number) and not isinstance(x, bool),
    "object": lambda x: isinstance(x, dict),
    "string": lambda x: isinstance(x, str),
}


# The keywords that have a ``_Compiler.k_<keyword>`` method.
_KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "const",
        "enum",
        "pattern",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "minimum",
        "maximum",
        "required",
        "properties",
        "additionalProperties",
        "unevaluatedProperties",
        "propertyNames",
        "items",
        "allOf",
        "oneOf",
        "not",
        "if",
    }
)


class _Unsupported(Exception):
    """The schema uses something the quick check does not implement."""


@functools.cache
def _quick_check(name: str, pointer: str) -> Check | None:
    """The quick check of ``validator(name, pointer)``'s schema, or None."""
    resolved = _registry().resolver().lookup(_uri(name, pointer))
    try:
        return _Compiler().ref(resolved.contents, resolved.resolver)
    except _Unsupported:
        return None


class _Compiler:
    """Schema to check function; each keyword is a closure, a schema is all of them."""

    def __init__(self) -> None:
        self.refs: list[int] = []  # the $ref targets being compiled (recursion is unsupported)

    def ref(self, schema: Any, resolver: Any) -> Check:
        if id(schema) in self.refs:
            raise _Unsupported("recursive $ref")
        self.refs.append(id(schema))
        check = self.schema(schema, resolver, descended=False)
        self.refs.pop()
        return check

    def schema(self, schema: Any, resolver: Any, descended: bool = True) -> Check:
        """``descended``: reached as jsonschema descends into a subschema, where an ``$id``
        would move the base of the ``$ref``s below it (a $ref's target keeps its own)."""
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise _Unsupported("not a schema")
        if schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
            raise _Unsupported("another draft")
        checks = []
        for keyword, value in schema.items():
            if keyword in _ANNOTATIONS or keyword in ("then", "else"):
                continue
            if keyword == "$id" and not descended:
                continue
            if keyword not in _KEYWORDS:
                raise _Unsupported(keyword)
            build = getattr(self, "k_" + keyword.removeprefix("$"))
            checks.append(build(value, schema, resolver))
        return _all(checks)

    def subschemas(self, value: Any, resolver: Any) -> list[Check]:
        if not isinstance(value, list):
            raise _Unsupported("not a list of schemas")
        return [self.schema(s, resolver) for s in value]

    def k_ref(self, ref: Any, schema: dict, resolver: Any) -> Check:
        resolved = resolver.lookup(ref)
        return self.ref(resolved.contents, resolved.resolver)

    def k_type(self, value: Any, schema: dict, resolver: Any) -> Check:
        names = value if isinstance(value, list) else [value]
        if not all(isinstance(n, str) and n in _TYPES for n in names):
            raise _Unsupported("type")
        tests = [_TYPES[n] for n in names]
        if len(tests) == 1:
            return tests[0]
        return lambda x: any(test(x) for test in tests)

    def k_const(self, value: Any, schema: dict, resolver: Any) -> Check:
        return self.k_enum([value], schema, resolver)

    def k_enum(self, values: Any, schema: dict, resolver: Any) -> Check:
        # jsonschema's equality with a string is ==; other values have subtler rules.
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _Unsupported("enum")
        allowed = frozenset(values)
        return lambda x: isinstance(x, str) and x in allowed

    def k_pattern(self, value: Any, schema: dict, resolver: Any) -> Check:
        search = re.compile(value).search
        return lambda x: not isinstance(x, str) or search(x) is not None

    def k_minLength(self, value: Any, schema: dict, resolver: Any) -> Check:
        return lambda x: not isinstance(x, str) or len(x) >= value

    def k_maxLength(self, value: Any, schema: dict, resolver: Any) -> Check:
        return lambda x: not isinstance(x, str) or len(x) <= value

    def k_minItems(self, value: Any, schema: dict, resolver: Any) -> Check:
        return lambda x: not isinstance(x, list) or len(x) >= value

    def k_maxItems(self, value: Any, schema: dict, resolver: Any) -> Check:
        return lambda x: not isinstance(x, list) or len(x) <= value

    def k_minProperties(self, value: Any, schema: dict, resolver: Any) -> Check:
        return lambda x: not isinstance(x, dict) or len(x) >= value

    def k_minimum(self, value: Any, schema: dict, resolver: Any) -> Check:
        number = _TYPES["number"]
        return lambda x: not number(x) or not x < value

    def k_maximum(self, value: Any, schema: dict, resolver: Any) -> Check:
        number = _TYPES["number"]
        return lambda x: not number(x) or not x > value

    def k_required(self, value: Any, schema: dict, resolver: Any) -> Check:
        names = tuple(value)
        return lambda x: not isinstance(x, dict) or all(n in x for n in names)

    def k_properties(self, value: Any, schema: dict, resolver: Any) -> Check:
        checks = [(k, self.schema(s, resolver)) for k, s in value.items()]

        return lambda x: (
            not isinstance(x, dict) or all(check(x[key]) for key, check in checks if key in x)
        )

    def k_additionalProperties(self, value: Any, schema: dict, resolver: Any) -> Check:
        if "patternProperties" in schema:
            raise _Unsupported("patternProperties")
        known = frozenset(schema.get("properties", {}))
        if value is False:
            return lambda x: not isinstance(x, dict) or known.issuperset(x)
        check = self.schema(value, resolver)
        return lambda x: (
            not isinstance(x, dict) or all(check(v) for k, v in x.items() if k not in known)
        )

    def k_unevaluatedProperties(self, value: Any, schema: dict, resolver: Any) -> Check:
        """Only ``false`` over a schema whose evaluated properties are a fixed set: the names
        under ``properties`` of it and of its $ref targets."""
        if value is not False:
            raise _Unsupported("unevaluatedProperties")
        known = frozenset(_evaluated_names(schema, resolver, top=True))
        return lambda x: not isinstance(x, dict) or known.issuperset(x)

    def k_propertyNames(self, value: Any, schema: dict, resolver: Any) -> Check:
        check = self.schema(value, resolver)
        return lambda x: not isinstance(x, dict) or all(check(k) for k in x)

    def k_items(self, value: Any, schema: dict, resolver: Any) -> Check:
        if "prefixItems" in schema:
            raise _Unsupported("prefixItems")
        check = self.schema(value, resolver)
        return lambda x: not isinstance(x, list) or all(check(item) for item in x)

    def k_allOf(self, value: Any, schema: dict, resolver: Any) -> Check:
        return _all(self.subschemas(value, resolver))

    def k_oneOf(self, value: Any, schema: dict, resolver: Any) -> Check:
        checks = self.subschemas(value, resolver)
        return lambda x: sum(1 for check in checks if check(x)) == 1

    def k_not(self, value: Any, schema: dict, resolver: Any) -> Check:
        check = self.schema(value, resolver, descended=False)
        return lambda x: not check(x)

    def k_if(self, value: Any, schema: dict, resolver: Any) -> Check:
        test = self.schema(value, resolver, descended=False)
        then = self.schema(schema.get("then", True), resolver)
        other = self.schema(schema.get("else", True), resolver)
        return lambda x: then(x) if test(x) else other(x)


# What makes the evaluated properties depend on the instance (jsonschema's
# find_evaluated_property_keys_by_schema).
_DYNAMIC_EVALUATION = frozenset(
    {
        "additionalProperties",
        "unevaluatedProperties",
        "patternProperties",
        "dependentSchemas",
        "allOf",
        "oneOf",
        "anyOf",
        "if",
        "$dynamicRef",
    }
)


def _evaluated_names(schema: Any, resolver: Any, top: bool = False, depth: int = 0) -> set[str]:
    if isinstance(schema, bool):
        return set()
    dynamic = _DYNAMIC_EVALUATION & schema.keys() - ({"unevaluatedProperties"} if top else set())
    if dynamic or depth > 20:
        raise _Unsupported("evaluated properties vary")
    names: set[str] = set()
    if "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        names |= _evaluated_names(resolved.contents, resolved.resolver, depth=depth + 1)
    if isinstance(schema.get("properties"), dict):
        names |= schema["properties"].keys()
    return names


def _always(x: Any) -> bool:
    return True


def _never(x: Any) -> bool:
    return False


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return lambda x: all(check(x) for check in checks)


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
        from jsonschema.exceptions import best_match

        best = best_match(error.context)
        return [((*path, *best.relative_path), best.message, None)]
    message = error.message if len(error.message) < 200 else error.message[:197] + "..."
    return [(path, message, None)]


def _yaml_kind(value: object) -> str:
    return "boolean" if isinstance(value, bool) else "number"
