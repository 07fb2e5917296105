"""The scheduling algorithm: which clusters each placement selects, and why.

``schedule`` runs one placement's scheduling cycle as KubeFleet's scheduler would, starting
from what the previous render selected (``lock_section.Remembered``, read from fleet.lock).
Every placement of a render reads one ``Inventory``: the clusters indexed once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ...core.diagnostics import Diagnostics, did_you_mean
from ...core.lock import Lock
from ...core.model import Cluster, Fleet, Placement
from . import eviction, lock_section, strategy, update_rules, validation
from . import outcome as text
from .framework import ZERO, CycleState, Score, Status, run_filters, run_scores
from .inventory import Inventory
from .lock_section import Pick, Remembered, policy_hash
from .outcome import Condition, Decision, Outcome
from .plugins import sameplacement, topologyspread
from .plugins.eligibility import ClusterEligibility
from .plugins.topologyspread import constraints
from .profile import filters, scorers


@dataclass(frozen=True)
class Scheduled:
    """The schedule stage's result: every placement's outcome (decisions with their reasons),
    and the fleet.lock section that remembers the selections."""

    outcomes: dict[str, Outcome]
    lock_section: dict[str, Any]
    # ClusterResourcePlacementEvictions evaluated in this render, and their fleet.lock section.
    evictions: eviction.Evictions = field(default_factory=lambda: eviction.Evictions({}, (), {}))


def schedule_fleet(
    fleet: Fleet, previous_lock: Lock, reschedule: frozenset[str], diags: Diagnostics
) -> Scheduled:
    """Every placement's outcome, and the lock section that remembers them.

    ``reschedule`` names placements to schedule afresh, ignoring what the lock remembers.
    """
    remembered = lock_section.read(previous_lock, diags)
    known = [p.name for p in fleet.placements]
    for name in sorted(reschedule - set(known)):
        diags.error(
            f"--reschedule {name!r}: there is no placement of that name",
            hint=did_you_mean(name, known),
        )
    clusters = list(fleet.clusters.values())
    inventory = Inventory(clusters)
    evictions = eviction.evaluate(fleet, previous_lock, remembered, diags)
    outcomes: dict[str, Outcome] = {}
    section: dict[str, Any] = {}
    for placement in fleet.placements:
        valid = validation.check(placement, diags)
        valid = strategy.check(placement, diags) and valid
        valid = update_rules.check(placement, remembered.get(placement.name), diags) and valid
        if not valid:
            pending = Condition("Unknown", text.PENDING, text.PENDING_MESSAGE)
            kind = placement.placement_type if isinstance(placement.policy, dict) else ""
            outcomes[placement.name] = Outcome(placement.name, str(kind), pending, valid=False)
            continue
        previous = None if placement.name in reschedule else remembered.get(placement.name)
        evicted = evictions.executed.get(placement.name, {})
        if previous is not None and evicted:
            # An executed eviction deletes the binding: the cluster is a candidate again.
            kept = tuple(p for p in previous.picks if p.cluster not in evicted)
            previous = dataclasses.replace(previous, picks=kept)
        result = schedule(placement, clusters, previous, inventory)
        if evicted:
            result = _mark_evicted(fleet, result, evicted, diags)
        outcomes[placement.name] = result
        section[placement.name] = lock_section.entry(result.policy_hash, picks(result), placement)
    return Scheduled(outcomes, section, evictions)


def _mark_evicted(
    fleet: Fleet, result: Outcome, evicted: dict[str, str], diags: Diagnostics
) -> Outcome:
    """Record which eviction removed each cluster; warn where the scheduler re-picks it."""
    by_name = {o.key.name: o for o in fleet.control.get(eviction.EVICTION, [])}
    for decision in result.decisions:
        name = evicted.get(decision.cluster)
        if name is None or not decision.selected:
            continue
        diags.warning(
            f"{eviction.EVICTION} {name!r} evicts cluster {decision.cluster!r} from placement "
            f"{result.placement!r}, but the scheduler picks it again at once (no taint or "
            "label keeps it away): its resources are removed and applied again",
            by_name[name].pos("spec", "clusterName"),
            "spec.clusterName",
            hint=f"taint the cluster first (spec.taints: {eviction.CORDON}, as KubeFleet's "
            "drain tool does), then evict",
        )
    decisions = [
        dataclasses.replace(d, evicted_by=evicted[d.cluster]) if d.cluster in evicted else d
        for d in result.decisions
    ]
    return dataclasses.replace(result, decisions=decisions)


def schedule(
    placement: Placement,
    clusters: list[Cluster],
    previous: Remembered | None = None,
    inventory: Inventory | None = None,
) -> Outcome:
    """Schedule one placement over the whole inventory (``clusters`` sorted by name;
    ``inventory``, their index, is built when not given)."""
    inventory = inventory if inventory is not None else Inventory(clusters)
    kind = placement.placement_type
    if kind == "PickFixed":
        return _pick_fixed(placement, inventory)
    digest = policy_hash(placement.policy)
    present, obsolete = _bindings(previous, digest, inventory)
    if kind == "PickN":
        return _pick_n(placement, inventory, present, obsolete)
    return _pick_all(placement, inventory, present)


def picks(result: Outcome) -> list[Pick]:
    """The selected clusters with the scores they were picked with, for fleet.lock."""
    return [
        Pick(d.cluster, _score(d.topology_spread_score, d.affinity_score))
        for d in result.decisions
        if d.selected
    ]


def _score(topology_spread: int, affinity: int) -> Score:
    return Score(topology_spread, affinity) if topology_spread or affinity else ZERO


def _bindings(
    previous: Remembered | None, digest: str, inventory: Inventory
) -> tuple[list[Pick], list[Pick]]:
    """(picks under the current policy, picks under an older one); dangling ones dropped.

    A cluster that left the inventory or is Leaving loses its binding, as KubeFleet's
    dangling bindings do. Every other state change keeps it.
    """
    if previous is None:
        return [], []
    staying = inventory.staying
    unique = {p.cluster: p for p in reversed(previous.picks)}
    kept = [unique[name] for name in dict.fromkeys(p.cluster for p in previous.picks)]
    kept = [p for p in kept if p.cluster in staying]
    return (kept, []) if previous.policy_hash == digest else ([], kept)


def _rank_key(cluster: Cluster, score: Score, obsolete: frozenset[str]) -> tuple:
    """Best first when sorted in reverse; ties go to the lexicographically largest name."""
    return (score.topology_spread, score.affinity, cluster.name in obsolete, cluster.name)


def _selected(name: str, score: Score) -> Decision:
    reason = text.PICKED_WITH_SCORE.format(
        cluster=name, affinity=score.affinity, topology=score.topology_spread
    )
    return Decision(name, True, reason, score.affinity, score.topology_spread)


def _kept(decision: Decision, rejected: dict[str, Status]) -> Decision:
    """A remembered selection, marked when the filters would now reject its cluster."""
    status = rejected.get(decision.cluster)
    if status is None:
        return decision
    return dataclasses.replace(decision, kept_by_lock=str(status), filtered_by=status.plugin)


def _not_picked(name: str, score: Score) -> Decision:
    reason = text.NOT_PICKED.format(
        cluster=name, affinity=score.affinity, topology=score.topology_spread
    )
    return Decision(name, False, reason, score.affinity, score.topology_spread, scored=True)


def _filtered_by(name: str, status: Status) -> Decision:
    return Decision(name, False, str(status), filtered_by=status.plugin)


def _filtered(rejected: dict[str, Status], inventory: Inventory) -> list[Decision]:
    """The rejected clusters' decisions, in name order."""
    return [
        inventory.decision(_filtered_by, c.name, rejected[c.name])
        for c in inventory.clusters
        if c.name in rejected
    ]


def _not_named(name: str) -> Decision:
    return Decision(name, False, text.NOT_NAMED)


def _fulfilled(count: int) -> Condition:
    return Condition("True", text.FULFILLED, text.FULFILLED_MESSAGE.format(count=count))


def _unfulfilled(count: int) -> Condition:
    return Condition("False", text.UNFULFILLED, text.UNFULFILLED_MESSAGE.format(count=count))


def _pick_all(placement: Placement, inventory: Inventory, present: list[Pick]) -> Outcome:
    """Every cluster passing the filters, plus those selected before (sticky); always True."""
    clusters = inventory.clusters
    selected = frozenset(p.cluster for p in present)
    state = CycleState(placement, clusters, selected=selected, index=inventory)
    passed, rejected = run_filters(filters(), state, clusters)
    decisions = [_kept(inventory.decision(_selected, p.cluster, ZERO), rejected) for p in present]
    decisions += [inventory.decision(_selected, c.name, ZERO) for c in passed]
    kept = {p.cluster for p in present}
    decisions += _filtered({k: v for k, v in rejected.items() if k not in kept}, inventory)
    count = len(present) + len(passed)
    digest = policy_hash(placement.policy)
    return Outcome(placement.name, "PickAll", _fulfilled(count), decisions, digest)


class _Round:
    """One filter-and-score pass over the clusters not yet selected."""

    def __init__(
        self,
        placement: Placement,
        inventory: Inventory,
        selected: frozenset[str],
        obsolete: frozenset[str],
        shared: dict[str, Any],
    ) -> None:
        clusters = inventory.clusters
        state = CycleState(placement, clusters, selected, obsolete, shared, inventory)
        passed, self.rejected = run_filters(filters(), state, clusters)
        self.scores = run_scores(scorers(), state, passed)
        self.ranked = sorted(
            passed, key=lambda c: _rank_key(c, self.scores[c.name], obsolete), reverse=True
        )


def _pick_n(
    placement: Placement, inventory: Inventory, present: list[Pick], obsolete: list[Pick]
) -> Outcome:
    wanted = int(placement.policy.get("numberOfClusters") or 0)
    chosen: list[Pick] = list(present)
    if len(present) >= wanted and len(present) - wanted + len(obsolete) > 0:
        # Downscale: obsolete picks go, then the lowest scores (ties: smallest name).
        trimmed = sorted(present, key=lambda p: (p.score, p.cluster))[: len(present) - wanted]
        chosen = [p for p in present if p not in trimmed]
    # Any topology spread constraint limits a cycle to one pick, then everything is rescored.
    batch = 1 if constraints(placement.policy) else max(wanted, 1)
    stale = frozenset(p.cluster for p in obsolete)
    shared: dict[str, Any] = {}
    last: _Round | None = None
    if batch == 1 and len(chosen) < wanted:
        # One pick per round: only the domains' counts change between rounds (see _spread).
        before, before_stale = _spread(placement, inventory, chosen, stale, wanted, shared)
        last = _Round(placement, inventory, before, before_stale, shared)
    else:
        while len(chosen) < wanted:
            selected = frozenset(p.cluster for p in chosen)
            last = _Round(placement, inventory, selected, stale, shared)
            taken = last.ranked[: min(wanted - len(chosen), batch)]
            if not taken:
                break
            chosen += [Pick(c.name, last.scores[c.name]) for c in taken]
            # Obsolete picks not re-picked in this cycle are unscheduled: the flag helps once.
            stale = frozenset()
    if last is None:
        # Nothing to pick: evaluate the rest only to explain why they are not selected.
        last = _Round(
            placement, inventory, frozenset(p.cluster for p in chosen), frozenset(), shared
        )
    names = {p.cluster for p in chosen}
    remembered = {p.cluster for p in present}
    decisions = [
        _kept(inventory.decision(_selected, p.cluster, p.score), last.rejected)
        if p.cluster in remembered
        else inventory.decision(_selected, p.cluster, p.score)
        for p in chosen
    ]
    decisions += [
        inventory.decision(_not_picked, c.name, last.scores[c.name])
        for c in last.ranked
        if c.name not in names
    ]
    decisions += _filtered({k: v for k, v in last.rejected.items() if k not in names}, inventory)
    condition = _fulfilled(len(chosen)) if len(chosen) == wanted else _unfulfilled(len(chosen))
    digest = policy_hash(placement.policy)
    return Outcome(placement.name, "PickN", condition, decisions, digest)


def _spread(
    placement: Placement,
    inventory: Inventory,
    chosen: list[Pick],
    stale: frozenset[str],
    wanted: int,
    shared: dict[str, Any],
) -> tuple[frozenset[str], frozenset[str]]:
    """The rounds of a PickN cycle with topology spread constraints, one pick each, appended to
    ``chosen``; returns the selection and obsolete flags the last round started from (its
    scores explain the decisions).

    Picks are exactly those of ``_Round`` repeated (the selection-independent filters and scores
    do not change between rounds, and the spread's verdict and score depend only on a cluster's
    domains), but a round costs one step per group of clusters sharing their domains instead of
    filtering, scoring and sorting every cluster: near-linear in clusters x picks.
    """
    policy = placement.policy
    dependent = {p.name for p in [*filters(), *scorers()] if not p.selection_independent}
    # Any other selection-dependent plugin would need its own per-round step here.
    assert dependent == {sameplacement.NAME, topologyspread.NAME}, dependent
    clusters = inventory.clusters
    state = CycleState(placement, clusters, frozenset(), frozenset(), shared, inventory)
    eligible, _ = run_filters([p for p in filters() if p.selection_independent], state, clusters)
    fixed = run_scores([p for p in scorers() if p.selection_independent], state, eligible)
    where = topologyspread.domains_by_cluster(policy, inventory)
    groups: dict[tuple[str | None, ...], list[Cluster]] = {}
    for cluster in eligible:
        groups.setdefault(where[cluster.name], []).append(cluster)
    for members in groups.values():
        members.sort(key=lambda c: (fixed[c.name], c.name), reverse=True)
    heads = dict.fromkeys(groups, 0)
    selected = {p.cluster for p in chosen}
    counts = topologyspread.domain_counts(policy, inventory, selected)

    def best_of(where: tuple[str | None, ...]) -> Cluster | None:
        members = groups[where]
        if stale:  # the first round only: obsolete clusters win ties
            rest = [c for c in members if c.name not in selected]
            return max(rest, key=lambda c: (fixed[c.name], c.name in stale, c.name), default=None)
        head = heads[where]
        while head < len(members) and members[head].name in selected:
            head += 1
        heads[where] = head
        return members[head] if head < len(members) else None

    started = (frozenset(selected), stale)
    while len(chosen) < wanted:
        started = (frozenset(selected), stale)
        table = topologyspread.domain_terms(topologyspread.spreads_of(policy, counts))
        best: tuple[tuple, Cluster, Score] | None = None
        for where in groups:
            total = 0
            for terms, domain in zip(table, where, strict=True):
                if domain is not None:
                    term = terms[domain]
                    if term is None:  # the spread's filter rejects this group
                        break
                    total += term
            else:
                if best is not None and total < best[0][0]:
                    continue  # topology outranks everything else
                cluster = best_of(where)
                if cluster is None:
                    continue
                score = fixed[cluster.name] + Score(topology_spread=total)
                key = _rank_key(cluster, score, stale)
                if best is None or key > best[0]:
                    best = (key, cluster, score)
        if best is None:
            break
        _key, cluster, score = best
        chosen.append(Pick(cluster.name, score))
        selected.add(cluster.name)
        for index, domain in enumerate(topologyspread.domains(policy, cluster)):
            if domain is not None:
                counts[index][domain] += 1
        stale = frozenset()
    return started


def _pick_fixed(placement: Placement, inventory: Inventory) -> Outcome:
    """PickFixed checks eligibility only: taints and affinity do not apply."""
    clusters = inventory.clusters
    digest = policy_hash(placement.policy)
    names = list(dict.fromkeys(placement.policy.get("clusterNames") or []))
    if not names:
        condition = Condition("Unknown", text.PENDING, text.PENDING_MESSAGE)
        others = [inventory.decision(_not_named, c.name) for c in clusters]
        return Outcome(placement.name, "PickFixed", condition, others, digest)
    by_name = {c.name: c for c in clusters}
    state = CycleState(placement, clusters, index=inventory)
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
    named = set(names)
    others = [inventory.decision(_not_named, c.name) for c in clusters if c.name not in named]
    condition = _unfulfilled(len(picked)) if failed else _fulfilled(len(picked))
    decisions = picked + sorted(failed, key=lambda d: d.cluster) + others
    return Outcome(placement.name, "PickFixed", condition, decisions, digest)
