"""PickN on the nine-cluster fleet: filters, scores, ranking, decisions and conditions."""

from __future__ import annotations

from ninefleet import decisions, labels, nine_cluster_fleet, outcome, pick_n, preferred, required

TAINTED = (
    "ClusterUnschedulable, taint &{Key:maintenance Value:yes Effect:NoSchedule} cannot be tolerated"
)
NOT_READY = (
    "ClusterUnschedulable, cluster is not connected to the fleet: "
    "unhealthy for a prolonged period of time"
)
LEFT = "ClusterUnschedulable, cluster has left the fleet"
NO_AFFINITY = (
    "ClusterUnschedulable, cluster does not match with any of the required cluster affinity terms"
)


def picked(name: str, affinity: int = 0, topology: int = 0) -> tuple[str, str]:
    return (
        name,
        f'Successfully scheduled resources for placement in "{name}" (affinity score: {affinity}, '
        f"topology spread score: {topology}): picked by scheduling policy",
    )


def not_picked(name: str, affinity: int = 0, topology: int = 0) -> tuple[str, str]:
    return (
        name,
        f'Cluster "{name}" does not score high enough (affinity score: {affinity}, '
        f"topology spread score: {topology})",
    )


def test_ties_go_to_the_largest_name_and_decisions_follow_kubefleet_order(memory_fleet):
    result = nine_cluster_fleet(memory_fleet, pick_n(2)).compile()
    assert decisions(result) == [
        picked("cluster-09"),
        picked("cluster-05"),
        not_picked("cluster-04"),
        not_picked("cluster-03"),
        not_picked("cluster-02"),
        not_picked("cluster-01"),
        ("cluster-06", TAINTED),
        ("cluster-07", NOT_READY),
        ("cluster-08", LEFT),
    ]
    condition = outcome(result).condition
    assert (condition.status, condition.reason, condition.message) == (
        "True",
        "SchedulingPolicyFulfilled",
        "found all cluster needed as specified by the scheduling policy, found 2 cluster(s)",
    )


def test_property_selector_compares_quantities_and_missing_properties_never_match(memory_fleet):
    term = {
        "propertySelector": {
            "matchExpressions": [
                {"name": "kubernetes-fleet.io/node-count", "operator": "Ge", "values": ["4"]},
                {
                    "name": "resources.kubernetes-fleet.io/allocatable-memory",
                    "operator": "Gt",
                    "values": ["60Gi"],
                },
            ]
        }
    }
    result = nine_cluster_fleet(memory_fleet, pick_n(5, affinity=required(term))).compile()
    assert outcome(result).selected == ["cluster-05", "cluster-04", "cluster-02"]
    reasons = dict(decisions(result))
    for name in ("cluster-01", "cluster-03", "cluster-06", "cluster-09"):
        assert reasons[name] == NO_AFFINITY
    # cluster-07 matches the terms: eligibility is what rejects it.
    assert reasons["cluster-07"] == NOT_READY
    condition = outcome(result).condition
    assert (condition.status, condition.reason, condition.message) == (
        "False",
        "SchedulingPolicyUnfulfilled",
        "could not find all clusters needed as specified by the scheduling policy, "
        "found 3 cluster(s) instead",
    )


def test_ne_does_not_match_a_missing_property(memory_fleet):
    term = {
        "propertySelector": {
            "matchExpressions": [
                {"name": "kubernetes-fleet.io/node-count", "operator": "Ne", "values": ["100"]}
            ]
        }
    }
    result = nine_cluster_fleet(memory_fleet, pick_n(9, affinity=required(term))).compile()
    assert dict(decisions(result))["cluster-09"] == NO_AFFINITY


def test_memory_in_mi_compares_with_gi(memory_fleet):
    # 48000Mi is 46.875Gi: below 47Gi; 48Gi is not.
    expr = {
        "name": "resources.kubernetes-fleet.io/allocatable-memory",
        "operator": "Lt",
        "values": ["47Gi"],
    }
    term = {"propertySelector": {"matchExpressions": [expr]}}
    result = nine_cluster_fleet(memory_fleet, pick_n(9, affinity=required(term))).compile()
    assert outcome(result).selected == ["cluster-09", "cluster-03"]


def test_empty_required_terms_list_matches_every_cluster(memory_fleet):
    result = nine_cluster_fleet(memory_fleet, pick_n(9, affinity=required())).compile()
    assert len(outcome(result).selected) == 6


def test_preferred_weights_are_summed(memory_fleet):
    affinity = preferred(
        (30, labels(env="prod")), (-20, labels(region="east")), (0, labels(env="staging"))
    )
    result = nine_cluster_fleet(memory_fleet, pick_n(3, affinity=affinity)).compile()
    assert decisions(result)[:6] == [
        picked("cluster-05", 30),
        picked("cluster-04", 30),
        picked("cluster-02", 10),
        not_picked("cluster-01", 10),
        not_picked("cluster-09", 0),
        not_picked("cluster-03", -20),
    ]


def test_sorter_normalises_over_all_clusters_including_ineligible_ones(memory_fleet):
    # node-count: min 1 (cluster-06, tainted), max 8 (cluster-07, NotReady).
    sorter = {
        "propertySorter": {"name": "kubernetes-fleet.io/node-count", "sortOrder": "Descending"}
    }
    result = nine_cluster_fleet(
        memory_fleet, pick_n(2, affinity=preferred((100, sorter)))
    ).compile()
    assert decisions(result)[:6] == [
        picked("cluster-05", 71),  # 5/7 * 100
        picked("cluster-02", 57),  # 4/7
        not_picked("cluster-04", 43),  # 3/7
        not_picked("cluster-01", 29),  # 2/7
        not_picked("cluster-03", 14),  # 1/7
        not_picked("cluster-09", 0),  # no node count
    ]


def test_ascending_sorter_gated_by_label_selector(memory_fleet):
    sorter = {
        **labels(env="prod"),
        "propertySorter": {
            "name": "resources.kubernetes-fleet.io/allocatable-cpu",
            "sortOrder": "Ascending",
        },
    }
    result = nine_cluster_fleet(memory_fleet, pick_n(1, affinity=preferred((70, sorter)))).compile()
    # cpu: min 4 (cluster-06), max 32 (cluster-07): (1 - (v-4)/28) * 70.
    scores = {d.cluster: d.affinity_score for d in outcome(result).decisions if d.scored}
    scores.update({d.cluster: d.affinity_score for d in outcome(result).decisions if d.selected})
    assert scores == {
        "cluster-01": 50,  # 1 - 8/28 -> 50
        "cluster-02": 30,  # 1 - 16/28 -> 30
        "cluster-03": 0,  # staging: not gated in
        "cluster-04": 40,  # 1 - 12/28 -> 40
        "cluster-05": 20,  # 1 - 20/28 -> 20
        "cluster-09": 0,  # staging
    }
    assert outcome(result).selected == ["cluster-01"]


def test_pick_zero_clusters_is_fulfilled(memory_fleet):
    result = nine_cluster_fleet(memory_fleet, pick_n(0)).compile()
    assert outcome(result).selected == []
    condition = outcome(result).condition
    assert (condition.status, condition.message) == (
        "True",
        "found all cluster needed as specified by the scheduling policy, found 0 cluster(s)",
    )


def test_tolerations_admit_tainted_clusters(memory_fleet):
    policy = pick_n(9, tolerations=[{"key": "maintenance", "operator": "Exists"}])
    result = nine_cluster_fleet(memory_fleet, policy).compile()
    assert "cluster-06" in outcome(result).selected
    wrong_value = pick_n(9, tolerations=[{"key": "maintenance", "value": "no"}])
    result = nine_cluster_fleet(memory_fleet, wrong_value).compile()
    assert dict(decisions(result))["cluster-06"] == TAINTED


def test_an_empty_key_with_exists_tolerates_every_taint_and_equal_needs_the_value(memory_fleet):
    for tolerations in ([{"operator": "Exists"}], [{"key": "maintenance", "value": "yes"}]):
        result = nine_cluster_fleet(memory_fleet, pick_n(9, tolerations=tolerations)).compile()
        assert "cluster-06" in outcome(result).selected, tolerations
