"""TopologySpread: spread PickN picks evenly over the values of a cluster label.

Domains are the values of ``topologyKey`` on every inventory cluster (ineligible and filtered
ones included); a domain's count is how many of its clusters currently hold the placement.
Clusters without the key are outside the spread: they never violate and score 0. Placing into a
domain changes the skew by delta (see ``skew_change``); a placement that would push the skew
past ``maxSkew`` is filtered (DoNotSchedule) or scores -1000 (ScheduleAnyway); otherwise the
score is -delta.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from ....core.model import Cluster
from ..framework import SKIP, SUCCESS, ZERO, CycleState, Score, Status, unschedulable
from ..inventory import Inventory

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
    return spreads_of(state.policy, domain_counts(state.policy, state.inventory, state.selected))


def domain_counts(
    policy: dict[str, Any], inventory: Inventory, selected: frozenset[str] | set[str]
) -> list[dict[str, int]]:
    """Per constraint: every domain (over all clusters) -> how many selected clusters it has."""
    result = []
    for constraint in constraints(policy):
        values = inventory.labels.values(constraint["topologyKey"])
        counts = dict.fromkeys(values.values(), 0)
        for name in selected:
            if name in values:
                counts[values[name]] += 1
        result.append(counts)
    return result


def spreads_of(policy: dict[str, Any], counts: list[dict[str, int]]) -> list[Spread]:
    """The constraints evaluated against per-constraint domain counts (``domain_counts``)."""
    result = []
    for constraint, domain_count in zip(constraints(policy), counts, strict=True):
        do_not_schedule = constraint.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"
        result.append(
            Spread(
                constraint["topologyKey"],
                constraint.get("maxSkew", 1),
                do_not_schedule,
                dict(domain_count),
            )
        )
    return result


def domains(policy: dict[str, Any], cluster: Cluster) -> tuple[str | None, ...]:
    """The cluster's domain under each constraint (None: outside that spread). Clusters with the
    same domains get the same filter verdict and the same score from this plugin."""
    return tuple(cluster.labels.get(c["topologyKey"]) for c in constraints(policy))


def domains_by_cluster(
    policy: dict[str, Any], inventory: Inventory
) -> dict[str, tuple[str | None, ...]]:
    """Every cluster's ``domains``: computed once per render for each list of topology keys."""
    keys = tuple(c["topologyKey"] for c in constraints(policy))

    def compute() -> dict[str, tuple[str | None, ...]]:
        values = [inventory.labels.values(key) for key in keys]
        return {c.name: tuple(v.get(c.name) for v in values) for c in inventory.clusters}

    return inventory.fact((NAME, keys), compute)


T = TypeVar("T")


def _by_domains(
    state: CycleState, clusters: Sequence[Cluster], answer: Callable[[tuple[str | None, ...]], T]
) -> dict[str, T]:
    """``answer`` for each cluster's domains, asked once per distinct domains."""
    where = domains_by_cluster(state.policy, state.inventory)
    answers = {domains: answer(domains) for domains in set(where.values())}
    return {c.name: answers[where[c.name]] for c in clusters}


def verdict(spreads: list[Spread], where: tuple[str | None, ...]) -> Status:
    """The filter's answer for a cluster in domains ``where``."""
    for spread, domain in zip(spreads, where, strict=True):
        if domain is not None and spread.do_not_schedule and spread.violates(domain):
            return unschedulable(NAME, REASON.format(key=spread.key, max_skew=spread.max_skew))
    return SUCCESS


def score_in(spreads: list[Spread], where: tuple[str | None, ...]) -> Score:
    """The score of a cluster in domains ``where``."""
    total = 0
    for spread, domain in zip(spreads, where, strict=True):
        if domain is None:
            continue
        if spread.violates(domain):
            total += SCHEDULE_ANYWAY_PENALTY
        else:
            total -= spread.skew_change(domain)
    return Score(topology_spread=total)


def domain_terms(spreads: list[Spread]) -> list[dict[str, int | None]]:
    """Per spread: domain -> what placing into it adds to the score (``score_in``), or None
    when a DoNotSchedule constraint forbids it (``verdict``). A cluster's verdict and score
    are the sum over its domains, so a scheduler can rank groups of clusters, not clusters."""
    table = []
    for spread in spreads:
        terms: dict[str, int | None] = {}
        for domain in spread.counts:
            if not spread.violates(domain):
                terms[domain] = -spread.skew_change(domain)
            else:
                terms[domain] = None if spread.do_not_schedule else SCHEDULE_ANYWAY_PENALTY
        table.append(terms)
    return table


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
        return verdict(state.data[NAME], domains(state.policy, cluster))

    def filter_all(self, state: CycleState, clusters: Sequence[Cluster]) -> dict[str, Status]:
        spreads = state.data[NAME]
        found = _by_domains(state, clusters, lambda where: verdict(spreads, where))
        return {name: status for name, status in found.items() if not status.ok}

    def pre_score(self, state: CycleState) -> Status:
        return self._prepare(state)

    def score(self, state: CycleState, cluster: Cluster) -> Score:
        return score_in(state.data[NAME], domains(state.policy, cluster))

    def score_all(self, state: CycleState, clusters: Sequence[Cluster]) -> dict[str, Score]:
        spreads = state.data[NAME]
        found = _by_domains(state, clusters, lambda where: score_in(spreads, where))
        return {name: score for name, score in found.items() if score != ZERO}
