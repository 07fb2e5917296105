"""Kubernetes label selectors (metav1.LabelSelector): validation and matching."""

from __future__ import annotations

from typing import Any

from fleetc.core.diagnostics import Diagnostics, field_path
from fleetc.core.model import Located

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
