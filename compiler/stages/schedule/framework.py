"""A small scheduling framework after KubeFleet's: filter and score plugins that give reasons.

A plugin is consulted per (placement, cluster). A filter returns a ``Status``; the first
rejecting filter supplies the reason a cluster was left out. Scores add up per cluster.
Everything here is pure: the same policy and clusters always give the same decisions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...core.model import Cluster, Placement


class Code(enum.Enum):
    SUCCESS = "Success"
    UNSCHEDULABLE = "ClusterUnschedulable"
    # The cluster already holds this placement: it is neither re-filtered nor re-scored.
    ALREADY_SELECTED = "ClusterAlreadySelected"
    # A pre-filter may skip a plugin's per-cluster filter for the whole cycle.
    SKIP = "Skip"


@dataclass(frozen=True)
class Status:
    code: Code = Code.SUCCESS
    reason: str = ""
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code is Code.SUCCESS

    def __str__(self) -> str:
        # KubeFleet's Status.String(): "<code>, <reason>".
        return f"{self.code.value}, {self.reason}" if self.reason else self.code.value


SUCCESS = Status()
SKIP = Status(Code.SKIP)


def unschedulable(plugin: str, reason: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reason, plugin)


@dataclass(frozen=True, order=True)
class Score:
    """Compared lexicographically, as KubeFleet ranks: topology spread first, then affinity."""

    topology_spread: int = 0
    affinity: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(self.topology_spread + other.topology_spread, self.affinity + other.affinity)


@dataclass
class CycleState:
    """What one scheduling cycle knows; plugins keep precomputed data under their name."""

    placement: Placement
    # Every cluster in the inventory, eligible or not (property sorters and topology
    # domains are computed over all of them).
    clusters: list[Cluster]
    # Clusters holding the placement under the current policy (picked earlier or this cycle).
    selected: frozenset[str] = frozenset()
    # Clusters picked under an older policy: preferred on ties (KubeFleet's obsolete flag).
    obsolete: frozenset[str] = frozenset()
    # Plugin data by plugin name. The rounds of one PickN cycle share it, so a plugin may keep
    # what does not depend on the selection (property bounds) and must refresh what does.
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def policy(self) -> dict[str, Any]:
        return self.placement.policy


class FilterPlugin(Protocol):
    name: str
    # True when the plugin's answer for a cluster does not depend on the selection: the rounds
    # of one PickN cycle then reuse it instead of asking again.
    selection_independent: bool

    def pre_filter(self, state: CycleState) -> Status:
        """SUCCESS to run ``filter`` per cluster, SKIP to pass every cluster."""
        ...

    def filter(self, state: CycleState, cluster: Cluster) -> Status: ...


class ScorePlugin(Protocol):
    name: str
    selection_independent: bool

    def pre_score(self, state: CycleState) -> Status: ...

    def score(self, state: CycleState, cluster: Cluster) -> Score: ...


# Keys in CycleState.data under which answers of selection-independent plugins are kept.
_FILTER_MEMO = "framework/filters"
_SCORE_MEMO = "framework/scores"


def run_filters(
    plugins: list[FilterPlugin], state: CycleState, clusters: list[Cluster]
) -> tuple[list[Cluster], dict[str, Status]]:
    """Clusters passing every filter, and the first rejection of each other cluster.

    Already-selected clusters are in neither: KubeFleet skips them.
    """
    active = [p for p in plugins if p.pre_filter(state).code is not Code.SKIP]
    memo: dict[tuple[str, str], Status] = state.data.setdefault(_FILTER_MEMO, {})
    passed: list[Cluster] = []
    rejected: dict[str, Status] = {}
    for cluster in clusters:
        for plugin in active:
            if plugin.selection_independent:
                key = (plugin.name, cluster.name)
                status = memo.get(key) or memo.setdefault(key, plugin.filter(state, cluster))
            else:
                status = plugin.filter(state, cluster)
            if status.code is Code.ALREADY_SELECTED:
                break
            if not status.ok:
                rejected[cluster.name] = status
                break
        else:
            passed.append(cluster)
    return passed, rejected


def run_scores(
    plugins: list[ScorePlugin], state: CycleState, clusters: list[Cluster]
) -> dict[str, Score]:
    active = [p for p in plugins if p.pre_score(state).code is not Code.SKIP]
    memo: dict[tuple[str, str], Score] = state.data.setdefault(_SCORE_MEMO, {})
    scores: dict[str, Score] = {}
    for cluster in clusters:
        total = Score()
        for plugin in active:
            if plugin.selection_independent:
                key = (plugin.name, cluster.name)
                score = memo.get(key) or memo.setdefault(key, plugin.score(state, cluster))
            else:
                score = plugin.score(state, cluster)
            total = total + score
        scores[cluster.name] = total
    return scores
