"""Kubernetes label selectors (metav1.LabelSelector): validation and matching."""

from __future__ import annotations

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
