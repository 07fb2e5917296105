"""Invariants of PickN on random fleets (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fleetc.core.model import LEAVING, NOT_READY, READY, Cluster, Placement, Taint
from fleetc.core.yamlsource import Document
from fleetc.stages.schedule import Remembered, picks, schedule
from fleetc.stages.schedule.framework import CycleState, run_filters
from fleetc.stages.schedule.plugins.clusteraffinity import ClusterAffinity
from fleetc.stages.schedule.plugins.eligibility import ClusterEligibility
from fleetc.stages.schedule.plugins.tainttoleration import TaintToleration
from hypothesis import given, settings
from hypothesis import strategies as st

DOC = Document({}, "fleet.yaml")
NODE_COUNT = "kubernetes-fleet.io/node-count"


@st.composite
def clusters(draw) -> list[Cluster]:
    names = draw(st.lists(st.sampled_from([f"c{i}" for i in range(10)]), unique=True, max_size=8))
    result = []
    for name in sorted(names):
        labels = {}
        if draw(st.booleans()):
            labels["region"] = draw(st.sampled_from("abc"))
        labels["env"] = draw(st.sampled_from("xy"))
        state = draw(st.sampled_from([READY, READY, READY, NOT_READY, LEAVING]))
        taints = (Taint("t", "v", "NoSchedule"),) if draw(st.booleans()) else ()
        nodes = draw(st.none() | st.integers(0, 10))
        properties = {NODE_COUNT: str(nodes)} if nodes is not None else {}
        reason = {NOT_READY: "unhealthy", LEAVING: "cluster has left the fleet"}.get(state)
        result.append(
            Cluster(
                DOC,
                (),
                name=name,
                labels=labels,
                taints=taints,
                state=state,
                ineligible_reason=reason,
                properties=properties,
            )
        )
    return result


@st.composite
def policies(draw) -> dict[str, Any]:
    policy: dict[str, Any] = {"placementType": "PickN", "numberOfClusters": draw(st.integers(0, 8))}
    affinity: dict[str, Any] = {}
    if draw(st.booleans()):
        term = draw(
            st.sampled_from(
                [
                    {"labelSelector": {"matchLabels": {"env": "x"}}},
                    {
                        "propertySelector": {
                            "matchExpressions": [
                                {"name": NODE_COUNT, "operator": "Ge", "values": ["3"]}
                            ]
                        }
                    },
                ]
            )
        )
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "clusterSelectorTerms": [term]
        }
    if draw(st.booleans()):
        affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": draw(st.integers(-100, 100)), "preference": p}
            for p in draw(
                st.lists(
                    st.sampled_from(
                        [
                            {"labelSelector": {"matchLabels": {"env": "y"}}},
                            {"propertySorter": {"name": NODE_COUNT, "sortOrder": "Ascending"}},
                            {"propertySorter": {"name": NODE_COUNT, "sortOrder": "Descending"}},
                        ]
                    ),
                    max_size=3,
                )
            )
        ]
    if affinity:
        policy["affinity"] = {"clusterAffinity": affinity}
    if draw(st.booleans()):
        policy["tolerations"] = [{"key": "t", "operator": "Exists"}]
    if draw(st.booleans()):
        policy["topologySpreadConstraints"] = [
            {
                "topologyKey": "region",
                "maxSkew": draw(st.integers(1, 2)),
                "whenUnsatisfiable": draw(st.sampled_from(["DoNotSchedule", "ScheduleAnyway"])),
            }
        ]
    return policy


def placement(policy: dict[str, Any]) -> Placement:
    return Placement(DOC, (), name="p", spec={"policy": policy})


def feasible(policy: dict[str, Any], fleet: list[Cluster]) -> list[str]:
    """Clusters passing every filter but topology spread (and none selected yet)."""
    plugins = [ClusterAffinity(), ClusterEligibility(), TaintToleration()]
    passed, _ = run_filters(plugins, CycleState(placement(policy), fleet), fleet)
    return [c.name for c in passed]


def do_not_schedule(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for c in policy.get("topologySpreadConstraints") or []
        if c["whenUnsatisfiable"] == "DoNotSchedule"
    ]


PROPERTY_SETTINGS = settings(max_examples=50, deadline=None)


@PROPERTY_SETTINGS
@given(clusters(), policies())
def test_selected_clusters_pass_every_filter_and_count_is_min_n_feasible(fleet, policy):
    result = schedule(placement(policy), fleet)
    ok = feasible(policy, fleet)
    assert set(result.selected) <= set(ok)
    assert len(result.selected) == len(set(result.selected))
    if not do_not_schedule(policy):
        assert len(result.selected) == min(policy["numberOfClusters"], len(ok))
    fulfilled = len(result.selected) == policy["numberOfClusters"]
    assert (result.condition.status == "True") == fulfilled


@PROPERTY_SETTINGS
@given(clusters(), policies())
def test_no_do_not_schedule_constraint_is_violated(fleet, policy):
    result = schedule(placement(policy), fleet)
    for constraint in do_not_schedule(policy):
        key = constraint["topologyKey"]
        counts = {c.labels[key]: 0 for c in fleet if key in c.labels}
        for cluster in fleet:
            if cluster.name in result.selected and key in cluster.labels:
                counts[cluster.labels[key]] += 1
        if counts:
            assert max(counts.values()) - min(counts.values()) <= constraint["maxSkew"]


@PROPERTY_SETTINGS
@given(clusters(), policies())
def test_scheduling_again_from_the_lock_changes_nothing(fleet, policy):
    first = schedule(placement(policy), fleet)
    remembered = Remembered(first.policy_hash, tuple(picks(first)))
    second = schedule(placement(policy), fleet, remembered)
    assert second.selected == first.selected
    assert picks(second) == picks(first)
    assert second.condition == first.condition


@PROPERTY_SETTINGS
@given(clusters(), policies(), st.data())
def test_relabelling_tainting_or_unhealthy_selected_clusters_keeps_them(fleet, policy, data):
    first = schedule(placement(policy), fleet)
    if not first.selected:
        return
    victim = data.draw(st.sampled_from(first.selected))
    changed = [
        replace(
            c,
            labels={"env": "z"},
            taints=(Taint("new", "", "NoSchedule"),),
            state=NOT_READY,
            ineligible_reason="unhealthy",
            properties={},
        )
        if c.name == victim
        else c
        for c in fleet
    ]
    remembered = Remembered(first.policy_hash, tuple(picks(first)))
    again = schedule(placement(policy), changed, remembered)
    assert victim in again.selected
    assert again.selected[: len(first.selected)] == first.selected
