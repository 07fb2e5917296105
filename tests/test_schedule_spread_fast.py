"""PickN with topology spread: the per-domain algorithm picks exactly what the original one did.

The original algorithm (kept below as the reference) re-ran every filter and scorer over every
cluster and sorted them, once per pick: about N^2.3 with a property sorter. The new one must
give identical outcomes (picks, scores, reasons, condition) on any fleet.
"""

from __future__ import annotations

from typing import Any

from fleetc.core.model import LEAVING, NOT_READY, READY, Cluster, Placement, Taint
from fleetc.core.yamlsource import Document
from fleetc.stages.schedule import algorithm
from fleetc.stages.schedule.algorithm import (
    _filtered,
    _fulfilled,
    _kept,
    _not_picked,
    _Round,
    _selected,
    _unfulfilled,
    schedule,
)
from fleetc.stages.schedule.framework import Score
from fleetc.stages.schedule.inventory import Inventory
from fleetc.stages.schedule.lock_section import Pick, Remembered, policy_hash
from fleetc.stages.schedule.outcome import Outcome
from fleetc.stages.schedule.plugins.topologyspread import constraints
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def reference_pick_n(
    placement: Placement, clusters: list[Cluster], present: list[Pick], obsolete: list[Pick]
) -> Outcome:
    """The PickN loop as it was before the per-domain rounds (one full round per pick)."""
    inventory = Inventory(clusters)
    wanted = int(placement.policy.get("numberOfClusters") or 0)
    chosen: list[Pick] = list(present)
    if len(present) >= wanted and len(present) - wanted + len(obsolete) > 0:
        trimmed = sorted(present, key=lambda p: (p.score, p.cluster))[: len(present) - wanted]
        chosen = [p for p in present if p not in trimmed]
    batch = 1 if constraints(placement.policy) else max(wanted, 1)
    stale = frozenset(p.cluster for p in obsolete)
    shared: dict[str, Any] = {}
    last = None
    while len(chosen) < wanted:
        last = _Round(placement, inventory, frozenset(p.cluster for p in chosen), stale, shared)
        taken = last.ranked[: min(wanted - len(chosen), batch)]
        if not taken:
            break
        chosen += [Pick(c.name, last.scores[c.name]) for c in taken]
        stale = frozenset()
    if last is None:
        last = _Round(
            placement, inventory, frozenset(p.cluster for p in chosen), frozenset(), shared
        )
    names = {p.cluster for p in chosen}
    remembered = {p.cluster for p in present}
    decisions = [
        _kept(_selected(p.cluster, p.score), last.rejected)
        if p.cluster in remembered
        else _selected(p.cluster, p.score)
        for p in chosen
    ]
    decisions += [
        _not_picked(c.name, last.scores[c.name]) for c in last.ranked if c.name not in names
    ]
    decisions += _filtered({k: v for k, v in last.rejected.items() if k not in names}, inventory)
    condition = _fulfilled(len(chosen)) if len(chosen) == wanted else _unfulfilled(len(chosen))
    return Outcome(placement.name, "PickN", condition, decisions, policy_hash(placement.policy))


DOC = Document({}, "fleet.yaml", 0)
LABEL_VALUES = {"region": ["east", "west", "north"], "zone": ["a", "b"], "env": ["prod", "dev"]}


@st.composite
def clusters(draw) -> list[Cluster]:
    count = draw(st.integers(0, 14))
    result = []
    for index in range(count):
        labels = {
            key: draw(st.sampled_from(values))
            for key, values in LABEL_VALUES.items()
            if draw(st.integers(0, 5))
        }
        state = draw(st.sampled_from([READY, READY, READY, NOT_READY, LEAVING]))
        reason = None if state == READY else f"cluster is {state}"
        taints = (
            (Taint("maintenance", "yes", "NoSchedule"),) if draw(st.integers(0, 6)) == 0 else ()
        )
        props = {}
        if draw(st.booleans()):
            props["kubernetes-fleet.io/node-count"] = str(draw(st.integers(1, 9)))
        result.append(
            Cluster(
                DOC,
                (),
                name=f"c{index:02d}",
                labels=labels,
                state=state,
                ineligible_reason=reason,
                taints=taints,
                properties=props,
            )
        )
    return result


@st.composite
def policies(draw) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "placementType": "PickN",
        "numberOfClusters": draw(st.integers(0, 12)),
        "topologySpreadConstraints": [
            {
                "topologyKey": key,
                "maxSkew": draw(st.integers(1, 3)),
                "whenUnsatisfiable": draw(st.sampled_from(["DoNotSchedule", "ScheduleAnyway"])),
            }
            for key in draw(
                st.lists(st.sampled_from(sorted(LABEL_VALUES)), min_size=1, max_size=2, unique=True)
            )
        ],
    }
    preferred = []
    if draw(st.booleans()):
        preferred.append(
            {
                "weight": draw(st.integers(1, 100)),
                "preference": {
                    "propertySorter": {
                        "name": "kubernetes-fleet.io/node-count",
                        "sortOrder": draw(st.sampled_from(["Ascending", "Descending"])),
                    }
                },
            }
        )
    if draw(st.booleans()):
        value = draw(st.sampled_from(LABEL_VALUES["env"]))
        preferred.append(
            {
                "weight": draw(st.integers(-20, 20)),
                "preference": {"labelSelector": {"matchLabels": {"env": value}}},
            }
        )
    affinity: dict[str, Any] = {}
    if preferred:
        affinity["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    if draw(st.booleans()):
        region = draw(st.sampled_from(LABEL_VALUES["region"]))
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "clusterSelectorTerms": [
                {"labelSelector": {"matchLabels": {"region": region}}},
                {"labelSelector": {"matchLabels": {"zone": "a"}}},
            ]
        }
    if affinity:
        policy["affinity"] = {"clusterAffinity": affinity}
    return policy


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), policies(), st.data())
def test_per_domain_rounds_pick_exactly_what_full_rounds_picked(fleet, policy, data):
    placement = Placement(DOC, (), name="app", spec={"policy": policy})
    names = [c.name for c in fleet] + ["gone"]
    previous = None
    if data.draw(st.booleans()):
        remembered = data.draw(st.lists(st.sampled_from(names), max_size=6))
        same = data.draw(st.booleans())
        digest = policy_hash(policy) if same else "older"
        picks = tuple(Pick(n, Score(-1, data.draw(st.integers(-5, 5)))) for n in remembered)
        previous = Remembered(digest, picks)
    present, obsolete = algorithm._bindings(previous, policy_hash(policy), Inventory(fleet))
    expected = reference_pick_n(placement, fleet, present, obsolete)
    assert schedule(placement, fleet, previous) == expected
