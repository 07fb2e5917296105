"""CEL validation rules of CustomResourceDefinitions (``x-kubernetes-validations``). Pure.

The API server evaluates each rule of a CRD's structural schema on the value at the rule's
node: ``self`` is that value; a *transition rule* (one that references ``oldSelf``) runs on
update only, with ``oldSelf`` the previous value at the same place, and only where the previous
value can be correlated (object properties, map keys and the items of ``x-kubernetes-list-type:
map`` lists by their keys; never the items of other lists).

Rules are evaluated with cel-python (``celpy``). A rule it cannot evaluate (a Kubernetes CEL
library function it does not implement, CEL optional types, a runtime error, a result that is
not a bool) is reported as NOT_CHECKED with the reason, never as passed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

VIOLATED = "violated"
NOT_CHECKED = "not checked"
_OLD_SELF = re.compile(r"\boldSelf\b")
# Only these metadata fields are visible to CEL rules at a CRD's root.
_ROOT_METADATA = ("name", "generateName")
_MISSING = object()

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class RuleResult:
    path: Path  # where the rule sits in the object (its ``self``)
    rule: str
    message: str
    outcome: str  # VIOLATED | NOT_CHECKED
    reason: str = ""  # why NOT_CHECKED


def is_transition(rule: dict[str, Any]) -> bool:
    return isinstance(rule.get("rule"), str) and bool(_OLD_SELF.search(rule["rule"]))


def served_schema(crd: dict[str, Any], version: str) -> dict[str, Any] | None:
    """The ``openAPIV3Schema`` of ``version`` of a CRD, when served."""
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    for item in spec.get("versions") or []:
        if isinstance(item, dict) and item.get("name") == version and item.get("served") is True:
            schema = item.get("schema")
            found = schema.get("openAPIV3Schema") if isinstance(schema, dict) else None
            return found if isinstance(found, dict) else None
    return None


def check(
    schema: dict[str, Any], new: Any, old: Any = _MISSING, *, transitions: bool
) -> list[RuleResult]:
    """Evaluate the rules of ``schema`` on the object ``new``.

    ``transitions=False``: the rules without ``oldSelf`` (what every create and update must
    pass). ``transitions=True``: the transition rules, against ``old`` (the previous version).
    """
    results: list[RuleResult] = []
    new, old = _visible(new), _visible(old) if old is not _MISSING else _MISSING
    for node, path, value, previous in _nodes(schema, new, old, ()):
        for rule in node.get("x-kubernetes-validations") or []:
            if not isinstance(rule, dict) or not isinstance(rule.get("rule"), str):
                continue
            if is_transition(rule) != transitions:
                continue
            if transitions and previous is _MISSING and not rule.get("optionalOldSelf"):
                continue  # a transition rule runs only where the old value exists
            found = _evaluate(rule, path, value, previous)
            if found is not None:
                results.append(found)
    return results


def _visible(obj: Any) -> Any:
    """The object as CEL sees it at the root: metadata reduced to name and generateName."""
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        return obj
    metadata = {k: v for k, v in obj["metadata"].items() if k in _ROOT_METADATA}
    return {**obj, "metadata": metadata}


def _nodes(
    schema: Any, value: Any, old: Any, path: Path
) -> Iterator[tuple[dict[str, Any], Path, Any, Any]]:
    """Every (schema node, path, value, correlated old value or _MISSING) with a value."""
    if not isinstance(schema, dict):
        return
    yield schema, path, value, old
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key in sorted(value):
            sub = properties.get(key) if isinstance(properties, dict) else None
            if sub is None and isinstance(extra, dict):
                sub = extra
            if sub is None:
                continue
            before = old.get(key, _MISSING) if isinstance(old, dict) else _MISSING
            yield from _nodes(sub, value[key], before, (*path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        keys = schema.get("x-kubernetes-list-map-keys")
        by_key = {}
        if schema.get("x-kubernetes-list-type") == "map" and isinstance(keys, list):
            by_key = (
                {_map_key(item, keys): item for item in old if isinstance(item, dict)}
                if (isinstance(old, list))
                else {}
            )
        for index, item in enumerate(value):
            before = by_key.get(_map_key(item, keys), _MISSING) if by_key else _MISSING
            yield from _nodes(schema["items"], item, before, (*path, index))


def _map_key(item: Any, keys: list[Any]) -> tuple[str, ...]:
    return tuple(repr(item.get(k)) for k in keys) if isinstance(item, dict) else ("",)


def _evaluate(rule: dict[str, Any], path: Path, value: Any, old: Any) -> RuleResult | None:
    text = rule["rule"]
    message = rule.get("message") if isinstance(rule.get("message"), str) else ""
    message = message or f"failed rule: {text}"

    def not_checked(reason: str) -> RuleResult:
        return RuleResult(path, text, message, NOT_CHECKED, reason)

    if rule.get("optionalOldSelf"):
        return not_checked("optionalOldSelf needs CEL optional types, not implemented by celpy")
    program = _program(text)
    if isinstance(program, str):
        return not_checked(program)
    import celpy
    from celpy import celtypes

    activation = {"self": celpy.json_to_cel(value)}
    if old is not _MISSING:
        activation["oldSelf"] = celpy.json_to_cel(old)
    try:
        result = program.evaluate(activation)
    except Exception as exc:  # celpy raises many types; every one means "not evaluated"
        return not_checked(_reason(exc))
    if not isinstance(result, celtypes.BoolType):
        return not_checked(_reason(result) if isinstance(result, Exception) else "not a bool")
    return None if bool(result) else RuleResult(path, text, message, VIOLATED)


@functools.lru_cache(maxsize=1024)
def _program(text: str) -> Any:
    """The compiled rule, or why it cannot be compiled."""
    import celpy

    try:
        env = celpy.Environment()
        return env.program(env.compile(text))
    except Exception as exc:  # a parse error, or syntax celpy does not implement
        return _reason(exc)


def _reason(error: Any) -> str:
    args = getattr(error, "args", None)
    text = str(args[0]) if args else str(error)
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."
