"""TopologySpread: spread PickN picks evenly over the values of a cluster label.

Domains are the values of ``topologyKey`` on every inventory cluster (ineligible and filtered
ones included); a domain's count is how many of its clusters currently hold the placement.
Clusters without the key are outside the spread: they never violate and score 0. Placing into a
domain changes the skew by delta (see ``skew_change``); a placement that would push the skew
past ``maxSkew`` is filtered (DoNotSchedule) or scores -1000 (ScheduleAnyway); otherwise the
score is -delta.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from fleetc.core.model import Cluster
from fleetc.stages.schedule.framework import SKIP, SUCCESS, CycleState, Score, Status, unschedulable

NAME = "TopologySpread"
REASON = 'violated doNotSchedule topology spread constraint "{key}" (max skew {max_skew})'
SCHEDULE_ANYWAY_PENALTY = -1000


def constraints(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return policy.get("topologySpreadConstraints") or []


@dataclass(frozen=True)
class Spread:
    """One constraint, evaluated against the current selection."""

    key: str
    max_skew: int
    do_not_schedule: bool
    counts: dict[str, int]

    @cached_property
    def _extremes(self) -> tuple[int, int, int]:
        """The smallest, second-smallest (equal to the smallest on a tie) and largest count."""
        ordered = sorted(self.counts.values())
        return ordered[0], ordered[min(1, len(ordered) - 1)], ordered[-1]

    def skew_change(self, domain: str) -> int:
        smallest, second, largest = self._extremes
        count = self.counts[domain]
        if smallest == largest:
            return 1
        if count == smallest and smallest != second:
            return -1
        if count == largest:
            return 1
        return 0

    def violates(self, domain: str) -> bool:
        smallest, _second, largest = self._extremes
        return largest - smallest + self.skew_change(domain) > self.max_skew


def spreads(state: CycleState) -> list[Spread]:
    result = []
    for constraint in constraints(state.policy):
        key = constraint["topologyKey"]
        counts = {c.labels[key]: 0 for c in state.clusters if key in c.labels}
        for cluster in state.clusters:
            if cluster.name in state.selected and key in cluster.labels:
                counts[cluster.labels[key]] += 1
        do_not_schedule = constraint.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"
        result.append(Spread(key, constraint.get("maxSkew", 1), do_not_schedule, counts))
    return result


class TopologySpread:
    name = NAME
    selection_independent = False

    def _prepare(self, state: CycleState) -> Status:
        if not constraints(state.policy):
            return SKIP
        state.data[NAME] = spreads(state)
        return SUCCESS

    def pre_filter(self, state: CycleState) -> Status:
        return self._prepare(state)

    def filter(self, state: CycleState, cluster: Cluster) -> Status:
        for spread in state.data[NAME]:
            domain = cluster.labels.get(spread.key)
            if domain is not None and spread.do_not_schedule and spread.violates(domain):
                return unschedulable(NAME, REASON.format(key=spread.key, max_skew=spread.max_skew))
        return SUCCESS

    def pre_score(self, state: CycleState) -> Status:
        return self._prepare(state)

    def score(self, state: CycleState, cluster: Cluster) -> Score:
        total = 0
        for spread in state.data[NAME]:
            domain = cluster.labels.get(spread.key)
            if domain is None:
                continue
            if spread.violates(domain):
                total += SCHEDULE_ANYWAY_PENALTY
            else:
                total -= spread.skew_change(domain)
        return Score(topology_spread=total)
