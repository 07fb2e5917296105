"""The indexed scheduler decides exactly what the unindexed one did.

The render's ``Inventory`` answers label selectors with set operations, keeps per-cluster facts
(property values, topology domains, preferred-term weights, decisions) for every placement, and
the framework asks plugins about all clusters at once. The reference below is the framework as it
was: every plugin asked about every cluster, one at a time (``filter`` and ``score``). Both must
give identical outcomes, reasons included, on any inventory and any mix of placements.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from fleetc.core.diagnostics import Diagnostics
from fleetc.core.labels import LabelIndex, matches
from fleetc.core.lock import Lock
from fleetc.core.model import LEAVING, NOT_READY, READY, Cluster, Fleet, Placement, Taint
from fleetc.core.yamlsource import Document
from fleetc.stages.schedule import Remembered, algorithm, picks, schedule, schedule_fleet
from fleetc.stages.schedule.framework import (
    Code,
    CycleState,
    FilterPlugin,
    Score,
    ScorePlugin,
    Status,
)
from fleetc.stages.schedule.inventory import Inventory
from fleetc.stages.schedule.lock_section import Pick, policy_hash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DOC = Document({}, "fleet.yaml")
NODE_COUNT = "kubernetes-fleet.io/node-count"
KEYS = ["region", "env", "zone"]
VALUES = ["a", "b", "c"]


def reference_run_filters(
    plugins: list[FilterPlugin], state: CycleState, clusters: list[Cluster]
) -> tuple[list[Cluster], dict[str, Status]]:
    """The framework's filter loop before the index: each plugin asked per cluster."""
    active = [p for p in plugins if p.pre_filter(state).code is not Code.SKIP]
    passed: list[Cluster] = []
    rejected: dict[str, Status] = {}
    for cluster in clusters:
        for plugin in active:
            status = plugin.filter(state, cluster)
            if status.code is Code.ALREADY_SELECTED:
                break
            if not status.ok:
                rejected[cluster.name] = status
                break
        else:
            passed.append(cluster)
    return passed, rejected


def reference_run_scores(
    plugins: list[ScorePlugin], state: CycleState, clusters: list[Cluster]
) -> dict[str, Score]:
    active = [p for p in plugins if p.pre_score(state).code is not Code.SKIP]
    scores: dict[str, Score] = {}
    for cluster in clusters:
        total = Score()
        for plugin in active:
            total = total + plugin.score(state, cluster)
        scores[cluster.name] = total
    return scores


def reference_schedule(
    placement: Placement, clusters: list[Cluster], previous: Remembered | None
) -> Any:
    with (
        mock.patch.object(algorithm, "run_filters", reference_run_filters),
        mock.patch.object(algorithm, "run_scores", reference_run_scores),
    ):
        return schedule(placement, clusters, previous)


@st.composite
def selectors(draw) -> dict[str, Any]:
    selector: dict[str, Any] = {}
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(KEYS), max_size=2, unique=True))
        selector["matchLabels"] = {k: draw(st.sampled_from(VALUES)) for k in keys}
    expressions = []
    for _ in range(draw(st.integers(0, 2))):
        operator = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        expr: dict[str, Any] = {"key": draw(st.sampled_from(KEYS)), "operator": operator}
        if operator in ("In", "NotIn"):
            expr["values"] = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=2))
        expressions.append(expr)
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def label_sets():
    return st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.lists(label_sets(), max_size=8), selectors())
def test_the_label_index_matches_what_matches_matches(label_list, selector):
    by_name = {f"c{i}": labels for i, labels in enumerate(label_list)}
    expected = {name for name, labels in by_name.items() if matches(selector, labels)}
    assert LabelIndex(by_name).matching(selector) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.lists(label_sets(), max_size=6),
    st.sampled_from(KEYS),
    st.lists(st.none() | st.sampled_from(VALUES) | st.just(["a"]) | st.just(1), max_size=2),
)
def test_odd_selector_values_match_as_matches_has_them(label_list, key, values):
    """Values the schema refuses (null, a list, a number) still agree with ``matches``."""
    by_name = {f"c{i}": labels for i, labels in enumerate(label_list)}
    index = LabelIndex(by_name)
    for selector in (
        {"matchLabels": {key: values[0] if values else None}},
        {"matchExpressions": [{"key": key, "operator": "In", "values": values}]},
        {"matchExpressions": [{"key": key, "operator": "NotIn", "values": values}]},
    ):
        expected = {name for name, labels in by_name.items() if matches(selector, labels)}
        assert index.matching(selector) == expected


@st.composite
def clusters(draw) -> list[Cluster]:
    count = draw(st.integers(0, 12))
    result = []
    for index in range(count):
        state = draw(st.sampled_from([READY, READY, READY, NOT_READY, LEAVING]))
        taints = ()
        if draw(st.integers(0, 4)) == 0:
            taints = (Taint(draw(st.sampled_from(["t", "u"])), "v", "NoSchedule"),)
        properties = {}
        if draw(st.integers(0, 4)):
            properties[NODE_COUNT] = str(draw(st.integers(0, 9)))
        namespaces = draw(st.none() | st.sets(st.sampled_from(["app", "other"])).map(frozenset))
        result.append(
            Cluster(
                DOC,
                (),
                name=f"c{index:02d}",
                labels=draw(label_sets()),
                taints=taints,
                state=state,
                ineligible_reason=None if state == READY else f"cluster is {state}",
                properties=properties,
                namespaces=namespaces,
                namespaces_missing=draw(st.integers(0, 9)) == 0,
            )
        )
    return result


@st.composite
def policies(draw) -> dict[str, Any]:
    kind = draw(st.sampled_from(["PickAll", "PickN", "PickN", "PickFixed"]))
    policy: dict[str, Any] = {"placementType": kind}
    if kind == "PickFixed":
        names = [f"c{i:02d}" for i in range(14)]
        policy["clusterNames"] = draw(st.lists(st.sampled_from(names), max_size=4))
        return policy
    affinity: dict[str, Any] = {}
    if draw(st.booleans()):
        terms = []
        for _ in range(draw(st.integers(0, 2))):
            term: dict[str, Any] = {"labelSelector": draw(selectors())}
            if draw(st.integers(0, 2)) == 0:
                operator = draw(st.sampled_from(["Gt", "Ge", "Eq", "Ne", "Lt", "Le"]))
                value = str(draw(st.integers(0, 9)))
                term["propertySelector"] = {
                    "matchExpressions": [
                        {"name": NODE_COUNT, "operator": operator, "values": [value]}
                    ]
                }
            terms.append(term)
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"clusterSelectorTerms": terms}
    if kind == "PickN":
        policy["numberOfClusters"] = draw(st.integers(0, 8))
        preferred = []
        for _ in range(draw(st.integers(0, 3))):
            preference: dict[str, Any] = {}
            if draw(st.booleans()):
                preference["labelSelector"] = draw(selectors())
            if draw(st.booleans()):
                order = draw(st.sampled_from(["Ascending", "Descending"]))
                preference["propertySorter"] = {"name": NODE_COUNT, "sortOrder": order}
            preferred.append({"weight": draw(st.integers(-50, 50)), "preference": preference})
        if preferred:
            affinity["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
        if draw(st.booleans()):
            policy["topologySpreadConstraints"] = [
                {
                    "topologyKey": key,
                    "maxSkew": draw(st.integers(1, 2)),
                    "whenUnsatisfiable": draw(st.sampled_from(["DoNotSchedule", "ScheduleAnyway"])),
                }
                for key in draw(
                    st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True)
                )
            ]
    if affinity:
        policy["affinity"] = {"clusterAffinity": affinity}
    if draw(st.booleans()):
        policy["tolerations"] = [{"key": "t", "operator": "Exists"}]
    return policy


@st.composite
def placements(draw) -> list[tuple[Placement, bool]]:
    """Placements of one render (some ResourcePlacements), each with whether it has a lock."""
    result = []
    for index in range(draw(st.integers(1, 4))):
        namespace = draw(st.sampled_from(["", "", "app"]))
        spec = {"policy": draw(policies())}
        placement = Placement(DOC, (), name=f"p{index}", spec=spec, namespace=namespace)
        result.append((placement, draw(st.booleans())))
    return result


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(clusters(), placements(), st.data())
def test_placements_sharing_one_inventory_decide_what_the_unindexed_scheduler_did(
    fleet, placed, data
):
    inventory = Inventory(fleet)
    names = [c.name for c in fleet] + ["gone"]
    for placement, locked in placed:
        previous = None
        if locked:
            remembered = data.draw(st.lists(st.sampled_from(names), max_size=5))
            score = Score(0, data.draw(st.integers(-3, 3)))
            previous = Remembered(
                policy_hash(placement.policy) if data.draw(st.booleans()) else "older",
                tuple(Pick(n, score) for n in remembered),
            )
        expected = reference_schedule(placement, fleet, previous)
        assert schedule(placement, fleet, previous, inventory) == expected
        assert picks(schedule(placement, fleet, previous, inventory)) == picks(expected)


def test_a_render_indexes_its_inventory_once(monkeypatch):
    """Every placement of a render reads the one index schedule_fleet builds."""
    built = []
    real = LabelIndex.__init__

    def counting(self, labels_by_name):
        built.append(len(labels_by_name))
        real(self, labels_by_name)

    monkeypatch.setattr(LabelIndex, "__init__", counting)
    policy = {"placementType": "PickN", "numberOfClusters": 2}
    fleet = Fleet(
        DOC,
        (),
        name="f",
        clusters={f"c{i}": Cluster(DOC, (), name=f"c{i}", labels={"env": "a"}) for i in range(3)},
        placements=[Placement(DOC, (), name=n, spec={"policy": policy}) for n in "abc"],
    )
    scheduled = schedule_fleet(fleet, Lock(), frozenset(), Diagnostics())
    assert [len(o.selected) for o in scheduled.outcomes.values()] == [2, 2, 2]
    assert built == [3]
