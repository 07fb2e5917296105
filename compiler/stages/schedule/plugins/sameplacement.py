"""SamePlacementAffinity: a cluster that already holds the placement is skipped, never evicted.

This is what makes selections sticky: label, property, taint or health changes of a selected
cluster do not reach the filters that would reject it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ....core.model import Cluster
from ..framework import SKIP, SUCCESS, Code, CycleState, Status

NAME = "SamePlacementAffinity"
ALREADY_SELECTED = Status(Code.ALREADY_SELECTED, "", NAME)


class SamePlacementAffinity:
    name = NAME
    selection_independent = False

    def pre_filter(self, state: CycleState) -> Status:
        return SUCCESS if state.selected else SKIP

    def filter(self, state: CycleState, cluster: Cluster) -> Status:
        return ALREADY_SELECTED if cluster.name in state.selected else SUCCESS

    def filter_all(self, state: CycleState, clusters: Sequence[Cluster]) -> dict[str, Status]:
        return {c.name: ALREADY_SELECTED for c in clusters if c.name in state.selected}
