"""NamespaceAffinity: a ResourcePlacement goes only where its namespace exists.

As KubeFleet's plugin (``plugins/namespaceaffinity``), for ResourcePlacements only: a cluster
that does not collect its namespaces passes; one that does must report a namespace list that
holds the placement's namespace. The list is every namespace on the member, so the test is
"exists there", not "placed by a ClusterResourcePlacement".
"""

from __future__ import annotations

from collections.abc import Sequence

from ....core.model import Cluster
from ..framework import SKIP, SUCCESS, CycleState, Status, filter_each, unschedulable

NAME = "NamespaceAffinity"
NO_INFORMATION = "cluster has no namespace information available"
MISSING = "target namespace does not exist on cluster"


class NamespaceAffinity:
    name = NAME
    selection_independent = True

    def pre_filter(self, state: CycleState) -> Status:
        return SUCCESS if state.placement.namespace else SKIP

    def filter(self, state: CycleState, cluster: Cluster) -> Status:
        if cluster.namespaces_missing:
            return unschedulable(NAME, NO_INFORMATION)
        if cluster.namespaces is not None and state.placement.namespace not in cluster.namespaces:
            return unschedulable(NAME, MISSING)
        return SUCCESS

    def filter_all(self, state: CycleState, clusters: Sequence[Cluster]) -> dict[str, Status]:
        return filter_each(self, state, clusters)
