"""Kubernetes label selectors (metav1.LabelSelector): validation and matching."""

from __future__ import annotations

from typing import Any

from fleetc.core.diagnostics import Diagnostics, did_you_mean, field_path
from fleetc.core.model import Fleet, Located

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


def select_clusters(
    fleet: Fleet,
    where: Located,
    names: list[str] | None,
    names_at: Path,
    terms: list[dict[str, Any]] | None,
    terms_at: Path,
    diags: Diagnostics,
) -> list[str]:
    """Clusters named in ``names`` plus those whose labels any term's ``labelSelector``
    matches (terms ORed, as in a placement's required cluster affinity), in name order.

    ``names_at`` and ``terms_at`` are the lists' paths below ``where``; a name missing from the
    inventory is an error with a "did you mean" hint.
    """
    picked: set[str] = set()
    for index, name in enumerate(names or []):
        if name in fleet.clusters:
            picked.add(name)
            continue
        at = (*names_at, index)
        diags.error(
            f"cluster {name!r} is not in the inventory",
            where.pos(*at),
            field_path((*where.base, *at)),
            hint=did_you_mean(name, fleet.clusters),
        )
    for index, term in enumerate(terms or []):
        selector = term.get("labelSelector") if isinstance(term, dict) else None
        if check_selector(selector, where, (*terms_at, index, "labelSelector"), diags):
            picked.update(c.name for c in fleet.clusters.values() if matches(selector, c.labels))
    return sorted(picked)
