"""Kubernetes label selectors (metav1.LabelSelector): validation and matching."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from .diagnostics import Diagnostics, field_path
from .model import Located

Path = tuple[str | int, ...]


def check_selector(
    selector: Any, where: Located, path: tuple[str | int, ...], diags: Diagnostics
) -> bool:
    """The rules metav1.LabelSelectorAsSelector enforces, beyond the schema's shapes."""
    ok = True
    if not isinstance(selector, dict):
        return True
    for index, expr in enumerate(selector.get("matchExpressions") or []):
        if not isinstance(expr, dict):
            continue
        operator, values = expr.get("operator"), expr.get("values") or []
        at = (*path, "matchExpressions", index)
        if operator in ("In", "NotIn") and not values:
            diags.error(
                f"operator {operator} needs at least one value",
                where.pos(*at, "operator"),
                field_path(at),
            )
            ok = False
        if operator in ("Exists", "DoesNotExist") and values:
            diags.error(
                f"operator {operator} takes no values",
                where.pos(*at, "values"),
                field_path(at),
            )
            ok = False
    return ok


def matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """True when ``labels`` satisfy ``selector``; an empty selector matches everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, operator, values = expr["key"], expr["operator"], expr.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


class LabelIndex:
    """Which objects carry each label: ``matching`` answers ``matches`` for every object at
    once, with set operations over the objects holding the selector's keys (built once, asked
    many times: a scheduler's placements over one inventory)."""

    def __init__(self, labels_by_name: Mapping[str, Mapping[str, str]]) -> None:
        self.names = frozenset(labels_by_name)
        self._by_value: dict[str, dict[str, set[str]]] = {}
        self._values: dict[str, dict[str, str]] = {}
        for name, labels in labels_by_name.items():
            for key, value in labels.items():
                self._by_value.setdefault(key, {}).setdefault(value, set()).add(name)
                self._values.setdefault(key, {})[name] = value
        self._with_key = {key: frozenset(values) for key, values in self._values.items()}

    def values(self, key: str) -> Mapping[str, str]:
        """Object name -> its value of label ``key``, for the objects that have it."""
        return self._values.get(key, {})

    def with_key(self, key: str) -> frozenset[str]:
        return self._with_key.get(key, frozenset())

    def _equal(self, key: str, values: Iterable[Any]) -> frozenset[str] | set[str]:
        """The names whose ``labels.get(key)`` is one of ``values``."""
        found: frozenset[str] | set[str] = set()
        by_value = self._by_value.get(key, {})
        for value in values:
            if value is None:  # the key's absence
                found = found | (self.names - self.with_key(key))
            elif isinstance(value, Hashable):  # an unhashable value equals no label
                found = found | by_value.get(value, set())
        return found

    def matching(self, selector: dict[str, Any] | None) -> frozenset[str]:
        """The names whose labels satisfy ``selector`` (``matches``, for all of them)."""
        if not selector:
            return self.names
        result: frozenset[str] | set[str] = self.names
        for key, value in (selector.get("matchLabels") or {}).items():
            result = result & self._equal(key, [value])
        for expr in selector.get("matchExpressions") or []:
            key, operator, values = expr["key"], expr["operator"], expr.get("values") or []
            if operator == "In":
                result = result & self._equal(key, values)
            elif operator == "NotIn":
                result = result - self._equal(key, [v for v in values if v is not None])
            elif operator == "Exists":
                result = result & self.with_key(key)
            elif operator == "DoesNotExist":
                result = result - self.with_key(key)
        return frozenset(result)


def can_match_together(first: dict[str, Any] | None, second: dict[str, Any] | None) -> bool:
    """Whether some label set could satisfy both selectors (decided from the selectors alone,
    as no objects' labels are known): False when a key is required with values that exclude
    each other (``matchLabels`` with different values, ``In`` sets with nothing in common or
    wholly ``NotIn``) or required both present and absent."""
    allowed: dict[str, set[str] | None] = {}
    excluded: dict[str, set[str]] = {}
    present: set[str] = set()
    absent: set[str] = set()
    for selector in (first or {}, second or {}):
        requirements = [
            {"key": k, "operator": "In", "values": [v]}
            for k, v in (selector.get("matchLabels") or {}).items()
        ] + list(selector.get("matchExpressions") or [])
        for expr in requirements:
            key, operator = expr["key"], expr["operator"]
            values = set(expr.get("values") or [])
            if operator == "In":
                current = allowed.get(key)
                allowed[key] = values if current is None else current & values
                present.add(key)
            elif operator == "NotIn":
                excluded.setdefault(key, set()).update(values)
            elif operator == "Exists":
                present.add(key)
            elif operator == "DoesNotExist":
                absent.add(key)
    if present & absent:
        return False
    return all(
        values is None or bool(values - excluded.get(key, set())) for key, values in allowed.items()
    )


def may_share(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> bool:
    """Whether two ORed selector lists (MetalLB's nodeSelectors; empty: everything) could
    select a common object."""
    if not first or not second:
        return True
    return any(can_match_together(a, b) for a in first for b in second)
