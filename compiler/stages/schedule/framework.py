"""A small scheduling framework after KubeFleet's: filter and score plugins that give reasons.

A plugin is consulted per (placement, cluster). A filter returns a ``Status``; the first
rejecting filter supplies the reason a cluster was left out. Scores add up per cluster.
The framework asks a plugin about all clusters at once (``filter_all``, ``score_all``), which
a plugin answers from the render's index (``inventory``) where it can.
Everything here is pure: the same policy and clusters always give the same decisions.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field
from typing import Any, NamedTuple, Protocol

from ...core.model import Cluster, Placement
from .inventory import Inventory


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


class Score(NamedTuple):
    """Compared lexicographically, as KubeFleet ranks: topology spread first, then affinity.
    A tuple: ranking thousands of clusters compares them in C."""

    topology_spread: int = 0
    affinity: int = 0

    def __add__(self, other: Score) -> Score:  # type: ignore[override]
        return Score(self.topology_spread + other.topology_spread, self.affinity + other.affinity)


ZERO = Score()


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
    # The render's index of ``clusters``, shared by every placement; built when not given.
    index: InitVar[Inventory | None] = None
    inventory: Inventory = field(init=False)

    def __post_init__(self, index: Inventory | None) -> None:
        self.inventory = index if index is not None else Inventory(self.clusters)

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

    def filter_all(self, state: CycleState, clusters: Sequence[Cluster]) -> dict[str, Status]:
        """``filter`` of each of ``clusters``: the statuses other than SUCCESS, by cluster."""
        ...


class ScorePlugin(Protocol):
    name: str
    selection_independent: bool

    def pre_score(self, state: CycleState) -> Status: ...

    def score(self, state: CycleState, cluster: Cluster) -> Score: ...

    def score_all(self, state: CycleState, clusters: Sequence[Cluster]) -> dict[str, Score]:
        """``score`` of each of ``clusters``: the scores other than ZERO, by cluster."""
        ...


def filter_each(
    plugin: FilterPlugin, state: CycleState, clusters: Sequence[Cluster]
) -> dict[str, Status]:
    """``filter_all`` for a plugin that has no index to answer from."""
    verdicts = {}
    for cluster in clusters:
        status = plugin.filter(state, cluster)
        if not status.ok:
            verdicts[cluster.name] = status
    return verdicts


# Keys in CycleState.data under which answers of selection-independent plugins are kept.
_FILTER_MEMO = "framework/filters"
_SCORE_MEMO = "framework/scores"


def run_filters(
    plugins: list[FilterPlugin], state: CycleState, clusters: list[Cluster]
) -> tuple[list[Cluster], dict[str, Status]]:
    """Clusters passing every filter, and the first rejection of each other cluster.

    Already-selected clusters are in neither: KubeFleet skips them. A selection-independent
    plugin answers once per cycle, for every cluster of the cycle.
    """
    active = [p for p in plugins if p.pre_filter(state).code is not Code.SKIP]
    memo: dict[str, dict[str, Status]] = state.data.setdefault(_FILTER_MEMO, {})
    remaining = clusters
    rejected: dict[str, Status] = {}
    for plugin in active:
        if plugin.selection_independent:
            verdicts = memo.get(plugin.name)
            if verdicts is None:
                verdicts = memo[plugin.name] = plugin.filter_all(state, state.clusters)
        else:
            verdicts = plugin.filter_all(state, remaining)
        if not verdicts:
            continue
        kept = []
        for cluster in remaining:
            status = verdicts.get(cluster.name)
            if status is None:
                kept.append(cluster)
            elif status.code is not Code.ALREADY_SELECTED:
                rejected[cluster.name] = status
        remaining = kept
    return remaining, rejected


def run_scores(
    plugins: list[ScorePlugin], state: CycleState, clusters: list[Cluster]
) -> dict[str, Score]:
    active = [p for p in plugins if p.pre_score(state).code is not Code.SKIP]
    memo: dict[str, dict[str, Score]] = state.data.setdefault(_SCORE_MEMO, {})
    totals: dict[str, Score] = {}
    for plugin in active:
        if plugin.selection_independent:
            scores = memo.get(plugin.name)
            if scores is None:
                scores = memo[plugin.name] = plugin.score_all(state, state.clusters)
        else:
            scores = plugin.score_all(state, clusters)
        for name, score in scores.items():
            total = totals.get(name)
            totals[name] = score if total is None else total + score
    return {c.name: totals.get(c.name, ZERO) for c in clusters}
