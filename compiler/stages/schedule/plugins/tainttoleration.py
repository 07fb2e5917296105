"""TaintToleration: a cluster is rejected if any of its taints is matched by no toleration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ....core.model import Cluster, Taint
from ..framework import SUCCESS, CycleState, Status, filter_each, unschedulable

NAME = "TaintToleration"
REASON = "taint {taint} cannot be tolerated"


def tolerates(toleration: dict[str, Any], taint: Taint) -> bool:
    """Kubernetes' Toleration.ToleratesTaint, restricted to the NoSchedule effect."""
    effect = toleration.get("effect", "")
    if effect and effect != taint.effect:
        return False
    key = toleration.get("key", "")
    if toleration.get("operator", "Equal") == "Exists":
        return key in ("", taint.key)
    return key == taint.key and toleration.get("value", "") == taint.value


class TaintToleration:
    name = NAME
    selection_independent = True

    def pre_filter(self, state: CycleState) -> Status:
        return SUCCESS

    def filter(self, state: CycleState, cluster: Cluster) -> Status:
        tolerations = state.policy.get("tolerations") or []
        for taint in cluster.taints:
            if not any(tolerates(t, taint) for t in tolerations):
                return unschedulable(NAME, REASON.format(taint=taint))
        return SUCCESS

    def filter_all(self, state: CycleState, clusters: Sequence[Cluster]) -> dict[str, Status]:
        # An untainted cluster passes whatever the tolerations.
        return filter_each(self, state, [c for c in clusters if c.taints])
