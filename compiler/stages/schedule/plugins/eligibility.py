"""ClusterEligibility: NotReady and Leaving clusters take no new placements."""

from __future__ import annotations

from collections.abc import Sequence

from ....core.model import Cluster
from ..framework import SUCCESS, CycleState, Status, unschedulable

NAME = "ClusterEligibility"


class ClusterEligibility:
    name = NAME
    selection_independent = True

    def pre_filter(self, state: CycleState) -> Status:
        return SUCCESS

    def filter(self, state: CycleState, cluster: Cluster) -> Status:
        if cluster.ineligible_reason:
            return unschedulable(NAME, cluster.ineligible_reason)
        return SUCCESS

    def filter_all(self, state: CycleState, clusters: Sequence[Cluster]) -> dict[str, Status]:
        return {c.name: self.filter(state, c) for c in clusters if c.ineligible_reason}
