"""ClusterResourcePlacementEviction and ClusterResourcePlacementDisruptionBudget, offline. Pure.

As KubeFleet's eviction controller (``pkg/controllers/clusterresourceplacementeviction``): an
eviction names a placement and a cluster; it is checked in KubeFleet's order, the first match
deciding, and an executed eviction deletes that cluster's binding, which fleetc keeps in
fleet.lock. Nothing then keeps the cluster away: the scheduler may pick it again at once
(the caller warns). Evictions are final once evaluated, as upstream: fleet.lock records each
result (section ``evictions``) so an eviction acts once.

Offline, every cluster fleet.lock lists for a placement is bound (its files are rendered); a
bound cluster counts as available when it is in the inventory and Ready.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...core import schema
from ...core.diagnostics import Diagnostics
from ...core.kube import PLACEMENT_GROUP
from ...core.lock import LOCK_FILE, Lock
from ...core.model import READY, Fleet, HubObject, Placement, split_api_version
from .lock_section import Remembered

SECTION = "evictions"
EVICTION = "ClusterResourcePlacementEviction"
BUDGET = "ClusterResourcePlacementDisruptionBudget"
VERSIONS = ("v1alpha1", "v1beta1")

VALID, INVALID = "ClusterResourcePlacementEvictionValid", "ClusterResourcePlacementEvictionInvalid"
EXECUTED = "ClusterResourcePlacementEvictionExecuted"
NOT_EXECUTED = "ClusterResourcePlacementEvictionNotExecuted"

# KubeFleet's condition messages (pkg/utils/condition).
MISSING = "Failed to find ClusterResourcePlacement targeted by eviction"
PICK_FIXED = "Found ClusterResourcePlacement with PickFixed placement type targeted by eviction"
NO_BINDING = "Failed to find scheduler decision for placement in cluster targeted by eviction"
NO_BUDGET = "Eviction is allowed, no ClusterResourcePlacementDisruptionBudget specified"
MISCONFIGURED = (
    "Eviction is blocked by misconfigured ClusterResourcePlacementDisruptionBudget, either "
    "MaxUnavailable is specified or MinAvailable is specified as a percentage for PickAll "
    "ClusterResourcePlacement"
)
ALLOWED = (
    "Eviction is allowed by specified ClusterResourcePlacementDisruptionBudget, "
    "availablePlacements: {available}, totalPlacements: {total}"
)
BLOCKED = (
    "Eviction is blocked by specified ClusterResourcePlacementDisruptionBudget, "
    "availablePlacements: {available}, totalPlacements: {total}"
)
# The taint KubeFleet's drain tool puts on a cluster before it evicts.
CORDON = "cordon-key=cordon-value:NoSchedule"


@dataclass(frozen=True)
class Verdict:
    """An eviction's result: ``reason`` is one of KubeFleet's four reasons."""

    name: str
    placement: str
    cluster: str
    reason: str
    message: str
    # Evaluated by an earlier render (read from fleet.lock), so not evaluated again.
    recorded: bool = False

    @property
    def executed(self) -> bool:
        return self.reason == EXECUTED


@dataclass(frozen=True)
class Evictions:
    # Executed in this render, by placement: cluster -> eviction name.
    executed: dict[str, dict[str, str]]
    verdicts: tuple[Verdict, ...]
    lock_section: dict[str, Any]


def evaluate(
    fleet: Fleet,
    previous_lock: Lock,
    remembered: dict[str, Remembered],
    diags: Diagnostics,
) -> Evictions:
    """Every eviction's verdict, in name order, and the executed ones by placement."""
    # Evictions and budgets act on ClusterResourcePlacements only (no ResourcePlacement kind).
    placements = {p.name: p for p in fleet.placements if not p.namespace}
    budgets = _budgets(fleet, placements, diags)
    recorded = _read(previous_lock, diags)
    executed: dict[str, dict[str, str]] = {}
    verdicts: list[Verdict] = []
    # Clusters already evicted in this render, per placement (their bindings are deleting).
    gone: dict[str, set[str]] = {}
    evictions = sorted(fleet.control.get(EVICTION, []), key=lambda o: o.key.name)
    for obj in evictions:
        spec = _spec(obj, "/$defs/evictionSpec", diags)
        if spec is None:
            continue
        name, target, cluster = obj.key.name, spec["placementName"], spec["clusterName"]
        old = recorded.get(name)
        if old is not None:
            if _immutable(obj, old, spec, diags):
                verdicts.append(
                    Verdict(name, old["placement"], old["cluster"], *_result(old), True)
                )
            continue
        placement = placements.get(target)
        if placement is not None and placement.placement_type == "PickFixed":
            # KubeFleet's webhook denies creating it.
            diags.error(
                "cluster resource placement policy type PickFixed is not supported",
                obj.pos("spec", "placementName"),
                "spec.placementName",
                hint="a PickFixed placement drops a cluster when it leaves clusterNames",
            )
            continue
        verdict = _decide(name, placement, target, cluster, remembered, budgets, gone, fleet)
        verdicts.append(verdict)
        if verdict.executed:
            executed.setdefault(target, {})[cluster] = name
            gone.setdefault(target, set()).add(cluster)
        else:
            diags.warning(
                f"{EVICTION} {name!r} does not evict cluster {cluster!r} from placement "
                f"{target!r}: {verdict.reason}: {verdict.message}",
                obj.pos("spec"),
                "spec",
                hint="an evaluated eviction is final, as in KubeFleet: create a new one "
                "(another name) once the cause is fixed",
            )
    for verdict in verdicts:
        if verdict.recorded and not verdict.executed:
            obj = next(o for o in evictions if o.key.name == verdict.name)
            diags.warning(
                f"{EVICTION} {verdict.name!r} was refused by an earlier render "
                f"({verdict.reason}: {verdict.message}) and has no further effect",
                obj.pos("metadata", "name"),
                "metadata.name",
                hint="delete it, or create a new eviction (another name)",
            )
    section = {
        v.name: {"placementName": v.placement, "clusterName": v.cluster, "reason": v.reason}
        for v in verdicts
    }
    return Evictions(executed, tuple(verdicts), section)


def _decide(
    name: str,
    placement: Placement | None,
    target: str,
    cluster: str,
    remembered: dict[str, Remembered],
    budgets: dict[str, dict[str, Any]],
    gone: dict[str, set[str]],
    fleet: Fleet,
) -> Verdict:
    if placement is None:
        return Verdict(name, target, cluster, INVALID, MISSING)
    previous = remembered.get(target)
    bound = [p.cluster for p in previous.picks] if previous else []
    evicted = gone.get(target, set())
    if cluster not in bound or cluster in evicted:
        return Verdict(name, target, cluster, INVALID, NO_BINDING)
    budget = budgets.get(target)
    if budget is None:
        return Verdict(name, target, cluster, EXECUTED, NO_BUDGET)
    kind = placement.placement_type
    max_unavailable, min_available = budget.get("maxUnavailable"), budget.get("minAvailable")
    if kind == "PickAll" and (max_unavailable is not None or isinstance(min_available, str)):
        return Verdict(name, target, cluster, NOT_EXECUTED, MISCONFIGURED)
    total = len(bound)
    available = sum(
        1
        for c in bound
        if c not in evicted and c in fleet.clusters and fleet.clusters[c].state == READY
    )
    wanted = int(placement.policy.get("numberOfClusters") or 0)
    if max_unavailable is not None:
        allowed = _count(max_unavailable, wanted) - (total - available)
    else:
        allowed = available - _count(min_available or 0, wanted)
    text = ALLOWED if allowed > 0 else BLOCKED
    reason = EXECUTED if allowed > 0 else NOT_EXECUTED
    return Verdict(name, target, cluster, reason, text.format(available=available, total=total))


def _count(value: int | str, wanted: int) -> int:
    """An int, or a percentage of numberOfClusters rounded up (KubeFleet's budget math)."""
    if isinstance(value, int):
        return value
    return math.ceil(int(value.rstrip("%")) * wanted / 100)


def _spec(obj: HubObject, pointer: str, diags: Diagnostics) -> dict[str, Any] | None:
    version = split_api_version(obj.api_version)[1]
    if version not in VERSIONS:
        diags.error(
            f"{obj.key.kind} {obj.api_version!r} is not supported; use "
            f"{PLACEMENT_GROUP}/v1beta1 or v1alpha1",
            obj.pos("apiVersion"),
            "apiVersion",
        )
        return None
    spec = obj.body.get("spec")
    if not isinstance(spec, dict):
        diags.error(f"{obj.key.kind} needs a spec", obj.pos(), "spec")
        return None
    ok = schema.validate(obj.doc, "placement", diags, data=spec, base=("spec",), pointer=pointer)
    return spec if ok else None


def _budgets(
    fleet: Fleet, placements: dict[str, Placement], diags: Diagnostics
) -> dict[str, dict[str, Any]]:
    """Valid budgets by name (a budget protects the placement of its own name)."""
    budgets: dict[str, dict[str, Any]] = {}
    for obj in sorted(fleet.control.get(BUDGET, []), key=lambda o: o.key.name):
        spec = _spec(obj, "/$defs/disruptionBudgetSpec", diags)
        if spec is None:
            continue
        max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
        if max_unavailable is not None and min_available is not None:
            diags.error(
                "Both MaxUnavailable and MinAvailable cannot be specified",
                obj.pos("spec", "minAvailable"),
                "spec.minAvailable",
            )
            continue
        placement = placements.get(obj.key.name)
        if placement is None:
            diags.warning(
                f"{BUDGET} {obj.key.name!r} has no effect: there is no placement of that name "
                "(a budget protects the ClusterResourcePlacement named like it)",
                obj.pos("metadata", "name"),
                "metadata.name",
            )
            continue
        if placement.placement_type == "PickAll":
            # KubeFleet's webhook (validateClusterResourcePlacementDisruptionBudget).
            if max_unavailable is not None:
                diags.error(
                    "cluster resource placement policy type PickAll is not supported with any "
                    f"specified max unavailable {max_unavailable}",
                    obj.pos("spec", "maxUnavailable"),
                    "spec.maxUnavailable",
                    hint="a PickAll placement's budget may only set minAvailable as a count",
                )
                continue
            if isinstance(min_available, str):
                diags.error(
                    "cluster resource placement policy type PickAll is not supported with min "
                    f"available as a percentage {min_available}",
                    obj.pos("spec", "minAvailable"),
                    "spec.minAvailable",
                    hint="a PickAll placement's budget may only set minAvailable as a count",
                )
                continue
        budgets[obj.key.name] = spec
    return budgets


def _immutable(obj: HubObject, old: dict[str, str], spec: dict[str, Any], diags) -> bool:
    ok = True
    for field, key, label in (
        ("placementName", "placement", "PlacementName"),
        ("clusterName", "cluster", "ClusterName"),
    ):
        if spec[field] != old[key]:
            diags.error(
                f"The {label} field is immutable (fleet.lock records {old[key]!r})",
                obj.pos("spec", field),
                f"spec.{field}",
                hint="an eviction acts once: create a new eviction (another name)",
            )
            ok = False
    return ok


def _result(old: dict[str, str]) -> tuple[str, str]:
    reason = old["reason"]
    message = {EXECUTED: "executed by an earlier render", INVALID: "invalid"}.get(
        reason, "not executed"
    )
    return reason, message


def _read(lock: Lock, diags: Diagnostics) -> dict[str, dict[str, str]]:
    section = lock.section(SECTION)
    if section is None:
        return {}
    where = lock.doc.pos((SECTION,)) if lock.doc is not None else None
    reasons = (EXECUTED, NOT_EXECUTED, INVALID)
    if not isinstance(section, dict) or not all(
        isinstance(v, dict)
        and isinstance(v.get("placementName"), str)
        and isinstance(v.get("clusterName"), str)
        and v.get("reason") in reasons
        for v in section.values()
    ):
        diags.error(
            f"{LOCK_FILE}: '{SECTION}' is malformed",
            where,
            SECTION,
            hint=f"each entry needs placementName, clusterName and reason ({', '.join(reasons)})",
        )
        return {}
    return {
        str(name): {
            "placement": v["placementName"],
            "cluster": v["clusterName"],
            "reason": v["reason"],
        }
        for name, v in section.items()
    }
