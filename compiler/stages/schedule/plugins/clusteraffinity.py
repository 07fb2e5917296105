"""ClusterAffinity: required terms filter clusters, preferred terms score them.

Required ``clusterSelectorTerms`` are ORed; inside a term the ``labelSelector`` and the
``propertySelector`` must both match. Preferred terms (PickN only) add their weight when their
``labelSelector`` matches; a ``propertySorter`` scales the weight linearly between the minimum
and maximum of the property over every cluster in the inventory, rounding each term as Go's
``math.Round`` does. ``filter_all`` and ``score_all`` answer from the inventory's label
index: a term costs set operations, not a test per cluster.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from ....core import labels, quantity
from ....core.model import Cluster
from .. import properties
from ..framework import SKIP, SUCCESS, CycleState, Score, Status, unschedulable
from ..inventory import Inventory

NAME = "ClusterAffinity"
REASON = "cluster does not match with any of the required cluster affinity terms"
REJECTED = unschedulable(NAME, REASON)

_COMPARE = {
    "Gt": lambda a, b: a > b,
    "Ge": lambda a, b: a >= b,
    "Eq": lambda a, b: a == b,
    "Ne": lambda a, b: a != b,
    "Lt": lambda a, b: a < b,
    "Le": lambda a, b: a <= b,
}


def _cluster_affinity(policy: dict[str, Any]) -> dict[str, Any]:
    return (policy.get("affinity") or {}).get("clusterAffinity") or {}


def required_terms(policy: dict[str, Any]) -> list[dict[str, Any]] | None:
    """None when there is no required affinity (every cluster passes)."""
    required = _cluster_affinity(policy).get("requiredDuringSchedulingIgnoredDuringExecution")
    return None if required is None else required.get("clusterSelectorTerms") or []


def preferred_terms(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return _cluster_affinity(policy).get("preferredDuringSchedulingIgnoredDuringExecution") or []


def property_matches(selector: dict[str, Any] | None, cluster: Cluster) -> bool:
    """Every expression must hold; a property the cluster does not report never matches."""
    for expr in (selector or {}).get("matchExpressions") or []:
        have = properties.value(cluster, expr["name"])
        want = quantity.parse((expr.get("values") or [None])[0])
        if have is None or want is None or not _COMPARE[expr["operator"]](have, want):
            return False
    return True


def term_matches(term: dict[str, Any], cluster: Cluster) -> bool:
    return labels.matches(term.get("labelSelector"), cluster.labels) and property_matches(
        term.get("propertySelector"), cluster
    )


def term_matching(term: dict[str, Any], inventory: Inventory) -> set[str]:
    """The clusters ``term_matches``, from the inventory's index."""
    found = set(inventory.labels.matching(term.get("labelSelector")))
    for expr in (term.get("propertySelector") or {}).get("matchExpressions") or []:
        values = inventory.property_values(expr["name"])
        want = quantity.parse((expr.get("values") or [None])[0])
        compare = _COMPARE[expr["operator"]]
        if want is None:
            return set()
        found = {n for n in found if (have := values[n]) is not None and compare(have, want)}
    return found


def go_round(x: float) -> int:
    """Go's math.Round: half away from zero (Python's round() rounds half to even)."""
    whole = math.trunc(x)
    if abs(x - whole) >= 0.5:
        whole += 1 if x > 0 else -1
    return int(whole)


def sorter_weight(
    value: Fraction | None, bounds: tuple[Fraction, Fraction] | None, order: str, weight: int
) -> int:
    """KubeFleet's interpolation of one sorter term, in float64 as Go computes it."""
    if value is None or bounds is None or bounds[0] == bounds[1]:
        return 0
    low, high = float(bounds[0]), float(bounds[1])
    position = (float(value) - low) / (high - low)
    if order == "Ascending":
        position = 1 - position
    return go_round(position * weight)


class ClusterAffinity:
    name = NAME
    selection_independent = True

    def pre_filter(self, state: CycleState) -> Status:
        return SKIP if not required_terms(state.policy) else SUCCESS

    def filter(self, state: CycleState, cluster: Cluster) -> Status:
        terms = required_terms(state.policy) or []
        if any(term_matches(term, cluster) for term in terms):
            return SUCCESS
        return REJECTED

    def filter_all(self, state: CycleState, clusters: Sequence[Cluster]) -> dict[str, Status]:
        matched: set[str] = set()
        for term in required_terms(state.policy) or []:
            matched |= term_matching(term, state.inventory)
        return {c.name: REJECTED for c in clusters if c.name not in matched}

    def pre_score(self, state: CycleState) -> Status:
        """Record each sorted property's minimum and maximum over ALL clusters."""
        terms = [t for t in preferred_terms(state.policy) if t.get("weight")]
        if not terms:
            return SKIP
        if NAME in state.data:
            return SUCCESS  # computed in an earlier round of this cycle
        bounds: dict[str, tuple[Fraction, Fraction] | None] = {}
        for term in terms:
            sorter = (term.get("preference") or {}).get("propertySorter")
            if sorter and sorter["name"] not in bounds:
                bounds[sorter["name"]] = state.inventory.property_bounds(sorter["name"])
        state.data[NAME] = bounds
        return SUCCESS

    def score(self, state: CycleState, cluster: Cluster) -> Score:
        bounds = state.data.get(NAME, {})
        total = 0
        for term in preferred_terms(state.policy):
            weight = term.get("weight") or 0
            preference = term.get("preference") or {}
            if not weight or not labels.matches(preference.get("labelSelector"), cluster.labels):
                continue
            sorter = preference.get("propertySorter")
            if sorter is None:
                total += weight
                continue
            value = properties.value(cluster, sorter["name"])
            total += sorter_weight(value, bounds.get(sorter["name"]), sorter["sortOrder"], weight)
        return Score(affinity=total)

    def score_all(self, state: CycleState, clusters: Sequence[Cluster]) -> dict[str, Score]:
        totals = dict.fromkeys((c.name for c in clusters), 0)
        for term in preferred_terms(state.policy):
            if not term.get("weight"):
                continue
            key = (NAME, json.dumps(term, sort_keys=True))
            weights = state.inventory.fact(key, lambda t=term: _preferred(t, state.inventory))
            for name in weights.keys() & totals.keys():
                totals[name] += weights[name]
        return {name: Score(affinity=total) for name, total in totals.items() if total}


def _preferred(term: dict[str, Any], inventory: Inventory) -> dict[str, int]:
    """What one weighted preferred term adds to each cluster's score (``score``'s terms)."""
    weight = term["weight"]
    preference = term.get("preference") or {}
    matched = inventory.labels.matching(preference.get("labelSelector"))
    sorter = preference.get("propertySorter")
    if sorter is None:
        return dict.fromkeys(matched, weight)
    values = inventory.property_values(sorter["name"])
    bounds = inventory.property_bounds(sorter["name"])
    return {n: sorter_weight(values[n], bounds, sorter["sortOrder"], weight) for n in matched}
