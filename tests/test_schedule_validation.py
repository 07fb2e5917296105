"""The CRP rules of KubeFleet's webhook and CEL, as diagnostics with file and line."""

from __future__ import annotations

import pytest
from ninefleet import labels, nine_cluster_fleet, preferred, required

SORTER = {"propertySorter": {"name": "kubernetes-fleet.io/node-count", "sortOrder": "Ascending"}}
PROPERTY = {
    "propertySelector": {
        "matchExpressions": [
            {"name": "kubernetes-fleet.io/node-count", "operator": "Gt", "values": ["1"]}
        ]
    }
}


def line_of(fleet_dir, needle: str) -> int:
    lines = fleet_dir.read("fleet.yaml").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


@pytest.mark.parametrize(
    ("policy", "message", "at"),
    [
        (
            {"placementType": "PickN"},
            "numberOfClusters must be set when placementType is PickN",
            "placementType:",
        ),
        (
            {"placementType": "PickN", "numberOfClusters": 1, "clusterNames": ["cluster-01"]},
            "clusterNames cannot be set when placementType is PickN",
            "clusterNames:",
        ),
        (
            {"placementType": "PickAll", "numberOfClusters": 2},
            "numberOfClusters cannot be set when placementType is PickAll",
            "numberOfClusters:",
        ),
        (
            {"placementType": "PickAll", "clusterNames": ["cluster-01"]},
            "clusterNames cannot be set when placementType is PickAll",
            "clusterNames:",
        ),
        (
            {"placementType": "PickAll", "topologySpreadConstraints": [{"topologyKey": "region"}]},
            "topologySpreadConstraints cannot be set when placementType is PickAll",
            "topologySpreadConstraints:",
        ),
        (
            {"placementType": "PickFixed", "clusterNames": ["cluster-01"], "affinity": {}},
            "affinity cannot be set when placementType is PickFixed",
            "affinity:",
        ),
        (
            {
                "placementType": "PickFixed",
                "clusterNames": ["cluster-01"],
                "tolerations": [{"key": "a", "operator": "Exists"}],
            },
            "tolerations cannot be set when placementType is PickFixed",
            "tolerations:",
        ),
        (
            {"placementType": "PickFixed", "clusterNames": ["cluster-01"], "numberOfClusters": 1},
            "numberOfClusters cannot be set when placementType is PickFixed",
            "numberOfClusters:",
        ),
        (
            {"placementType": "PickAll", "affinity": preferred((10, labels(env="prod")))},
            "preferred cluster affinity terms are only allowed for PickN, not PickAll",
            "preferredDuringSchedulingIgnoredDuringExecution:",
        ),
        (
            {"placementType": "PickN", "numberOfClusters": 1, "affinity": preferred((5, PROPERTY))},
            "propertySelector is not allowed in preferred cluster selector terms",
            "propertySelector:",
        ),
        (
            {"placementType": "PickAll", "affinity": required(SORTER)},
            "propertySorter is not allowed in required cluster selector terms",
            "propertySorter:",
        ),
        (
            {"tolerations": [{"value": "x"}]},
            "operator must be Exists when key is empty",
            "- value: x",
        ),
        (
            {"tolerations": [{"key": "bad key", "operator": "Exists"}]},
            "toleration key 'bad key' is not a valid label key",
            "key: bad key",
        ),
        (
            {"tolerations": [{"key": "k", "operator": "Exists", "value": "x"}]},
            "value must be empty when operator is Exists",
            "value: x",
        ),
    ],
)
def test_policy_rules_are_errors_at_the_field(memory_fleet, policy, message, at):
    result = nine_cluster_fleet(memory_fleet, policy).compile()
    errors = [d for d in result.diagnostics.errors if d.message == message]
    assert errors, [d.format() for d in result.diagnostics]
    assert errors[0].position.file == "fleet.yaml"
    assert errors[0].position.line == line_of(memory_fleet, at)
    assert not result.ok
    assert not any("is not fulfilled" in d.message for d in result.diagnostics)


def test_more_than_ten_required_terms_is_an_error(memory_fleet):
    policy = {"affinity": required(*[labels(env=str(i)) for i in range(11)])}
    result = nine_cluster_fleet(memory_fleet, policy).compile()
    assert any("clusterSelectorTerms" in d.path for d in result.diagnostics.errors)


def test_unknown_fixed_cluster_is_an_error_with_a_suggestion(memory_fleet):
    policy = {"placementType": "PickFixed", "clusterNames": ["cluster-01", "clustre-05"]}
    result = nine_cluster_fleet(memory_fleet, policy).compile()
    (error,) = result.diagnostics.errors
    assert (
        error.message == "placement 'app' names cluster 'clustre-05', which is not in the inventory"
    )
    assert error.hint == "did you mean 'cluster-05'?"
    assert error.position.line == line_of(memory_fleet, "- clustre-05")


@pytest.mark.parametrize(
    "policy",
    [
        "PickN",
        {"placementType": "PickN", "numberOfClusters": "three"},
        {"placementType": "PickSome"},
        {"affinity": {"clusterAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": 1}}},
        {"topologySpreadConstraints": [{"maxSkew": 0}]},
    ],
)
def test_malformed_policies_are_reported_not_crashed_on(memory_fleet, policy):
    result = nine_cluster_fleet(memory_fleet, policy).compile()
    assert result.diagnostics.errors
    assert all(d.position is not None for d in result.diagnostics.errors)
