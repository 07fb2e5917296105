"""The scheduler: which clusters each placement selects, and why."""

from __future__ import annotations

from ..model import Cluster, Placement
from . import outcome as text
from .framework import CycleState, run_filters
from .outcome import Condition, Decision, Outcome
from .plugins.eligibility import ClusterEligibility
from .profile import filters

__all__ = ["Condition", "Decision", "Outcome", "schedule"]


def schedule(placement: Placement, clusters: list[Cluster]) -> Outcome:
    """Schedule one placement over the whole inventory (``clusters`` sorted by name)."""
    kind = placement.placement_type
    if kind == "PickFixed":
        return _pick_fixed(placement, clusters)
    return _pick_all(placement, clusters)


def _filtered(rejected: dict, clusters: list[Cluster]) -> list[Decision]:
    return [
        Decision(c.name, False, str(rejected[c.name]), filtered_by=rejected[c.name].plugin)
        for c in clusters
        if c.name in rejected
    ]


def _pick_all(placement: Placement, clusters: list[Cluster]) -> Outcome:
    state = CycleState(placement, clusters)
    passed, rejected = run_filters(filters(), state, clusters)
    decisions = [
        Decision(
            c.name, True, text.PICKED_WITH_SCORE.format(cluster=c.name, affinity=0, topology=0)
        )
        for c in passed
    ]
    decisions += _filtered(rejected, clusters)
    condition = Condition("True", text.FULFILLED, text.FULFILLED_MESSAGE.format(count=len(passed)))
    return Outcome(placement.name, "PickAll", condition, decisions)


def _pick_fixed(placement: Placement, clusters: list[Cluster]) -> Outcome:
    """PickFixed checks eligibility only: taints and affinity do not apply."""
    names = list(dict.fromkeys(placement.policy.get("clusterNames") or []))
    if not names:
        condition = Condition("Unknown", text.PENDING, text.PENDING_MESSAGE)
        return Outcome(placement.name, "PickFixed", condition, [])
    by_name = {c.name: c for c in clusters}
    state = CycleState(placement, clusters)
    eligibility = ClusterEligibility()
    picked: list[Decision] = []
    failed: list[Decision] = []
    for name in names:
        cluster = by_name.get(name)
        if cluster is None:
            failed.append(Decision(name, False, text.FIXED_NOT_FOUND.format(cluster=name)))
            continue
        status = eligibility.filter(state, cluster)
        if status.ok:
            picked.append(Decision(name, True, text.PICKED_FIXED.format(cluster=name)))
        else:
            reason = text.FIXED_NOT_ELIGIBLE.format(cluster=name, reason=status.reason)
            failed.append(Decision(name, False, reason, filtered_by=status.plugin))
    others = [
        Decision(c.name, False, "not named in clusterNames")
        for c in clusters
        if c.name not in names
    ]
    if failed:
        condition = Condition(
            "False", text.UNFULFILLED, text.UNFULFILLED_MESSAGE.format(count=len(picked))
        )
    else:
        condition = Condition(
            "True", text.FULFILLED, text.FULFILLED_MESSAGE.format(count=len(picked))
        )
    decisions = picked + sorted(failed, key=lambda d: d.cluster) + others
    return Outcome(placement.name, "PickFixed", condition, decisions)
