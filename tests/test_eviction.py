"""ClusterResourcePlacementEviction / DisruptionBudget offline, as KubeFleet's controller."""

from __future__ import annotations

import yaml
from fleetc.views import status as status_view
from ninefleet import CLUSTERS, nine_cluster_fleet, outcome, pick_n, render, write_cluster

EVICTED = "Eviction is allowed, no ClusterResourcePlacementDisruptionBudget specified"


def evict(fleet_dir, *pairs, budget: str = ""):
    docs = [
        f"apiVersion: placement.kubernetes-fleet.io/v1beta1\n"
        f"kind: ClusterResourcePlacementEviction\n"
        f"metadata:\n  name: {name}\n"
        f"spec:\n  placementName: {placement}\n  clusterName: {cluster}\n"
        for name, placement, cluster in pairs
    ]
    if budget:
        docs.append(budget)
    fleet_dir.write("hub/evictions.yaml", "---\n".join(docs))


def budget(spec: str, name: str = "app") -> str:
    return (
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\n"
        "kind: ClusterResourcePlacementDisruptionBudget\n"
        f"metadata:\n  name: {name}\nspec:\n  {spec}\n"
    )


def messages(result, severity="warnings"):
    return [d.message for d in getattr(result.diagnostics, severity)]


def lock_of(fleet_dir):
    return yaml.safe_load((fleet_dir.root / "fleet.lock").read_text())


def test_pick_all_eviction_is_re_picked_at_once_with_a_warning_naming_the_fix(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, {}))
    evict(fleet_dir, ("drain-01", "app", "cluster-01"))
    result = render(fleet_dir)
    assert "cluster-01" in outcome(result).selected
    [warning] = [w for w in result.diagnostics.warnings if "picks it again" in w.message]
    assert "cordon-key=cordon-value:NoSchedule" in warning.hint
    assert str(warning.position) == "hub/evictions.yaml:7:3"
    item = status_view.explain(result.compilation, "app")
    [decision] = [d for d in item["decisions"] if d["cluster"] == "cluster-01"]
    assert decision["evictedBy"] == "drain-01"
    assert "evicted by drain-01" in status_view.explain_text(item)
    assert lock_of(fleet_dir)["evictions"] == {
        "drain-01": {
            "placementName": "app",
            "clusterName": "cluster-01",
            "reason": "ClusterResourcePlacementEvictionExecuted",
        }
    }
    # Final once executed: the next render neither evicts nor warns again.
    again = render(fleet_dir)
    assert not [w for w in again.diagnostics.warnings if "Eviction" in w.message]
    assert not any(d.evicted_by for d in outcome(again).decisions)


def test_eviction_drops_a_cluster_kept_only_by_stickiness(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, {"affinity": _prod()}))
    # cluster-01 no longer matches, but fleet.lock keeps it selected.
    write_cluster(fleet_dir, "cluster-01", {**CLUSTERS["cluster-01"], "env": "staging"})
    assert "cluster-01" in outcome(render(fleet_dir)).selected
    evict(fleet_dir, ("move-01", "app", "cluster-01"))
    result = render(fleet_dir)
    assert "cluster-01" not in outcome(result).selected
    assert not [w for w in result.diagnostics.warnings if "picks it again" in w.message]
    [decision] = [d for d in outcome(result).decisions if d.cluster == "cluster-01"]
    assert decision.evicted_by == "move-01"
    assert "cluster-01" not in outcome(render(fleet_dir)).selected


def _prod():
    return {
        "clusterAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "clusterSelectorTerms": [{"labelSelector": {"matchLabels": {"env": "prod"}}}]
            }
        }
    }


def test_pick_n_eviction_picks_a_replacement_when_the_cluster_is_tainted(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, pick_n(2)))
    first = outcome(render(fleet_dir)).selected
    victim = first[0]
    info = dict(CLUSTERS[victim], taint="cordon-key")
    write_cluster(fleet_dir, victim, info)
    evict(fleet_dir, ("drain", "app", victim))
    result = render(fleet_dir)
    assert victim not in outcome(result).selected
    assert len(outcome(result).selected) == 2


def test_pick_fixed_eviction_is_denied(fleet_dir):
    nine_cluster_fleet(fleet_dir, {"placementType": "PickFixed", "clusterNames": ["cluster-01"]})
    render(fleet_dir)
    evict(fleet_dir, ("e", "app", "cluster-01"))
    result = fleet_dir.compile()
    [error] = result.diagnostics.errors
    assert error.message == "cluster resource placement policy type PickFixed is not supported"
    assert str(error.position) == "hub/evictions.yaml:6:3"


def test_invalid_evictions_are_warnings_with_kubefleets_reason_and_message(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, {}))
    evict(fleet_dir, ("a", "nope", "cluster-01"), ("b", "app", "cluster-06"))
    result = render(fleet_dir)
    found = [m for m in messages(result) if "does not evict" in m]
    assert found == [
        "ClusterResourcePlacementEviction 'a' does not evict cluster 'cluster-01' from placement "
        "'nope': ClusterResourcePlacementEvictionInvalid: Failed to find "
        "ClusterResourcePlacement targeted by eviction",
        "ClusterResourcePlacementEviction 'b' does not evict cluster 'cluster-06' from placement "
        "'app': ClusterResourcePlacementEvictionInvalid: Failed to find scheduler decision for "
        "placement in cluster targeted by eviction",
    ]
    # Recorded as refused: the next render says it has no further effect.
    again = fleet_dir.compile()
    assert sum("was refused by an earlier render" in m for m in messages(again)) == 2


def test_budget_blocks_and_allows_by_kubefleets_math(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, pick_n(3)))
    victim = outcome(render(fleet_dir)).selected[0]
    evict(fleet_dir, ("e", "app", victim), budget=budget("minAvailable: 3"))
    result = fleet_dir.compile()
    [message] = [m for m in messages(result) if "does not evict" in m]
    assert message.endswith(
        "ClusterResourcePlacementEvictionNotExecuted: Eviction is blocked by specified "
        "ClusterResourcePlacementDisruptionBudget, availablePlacements: 3, totalPlacements: 3"
    )
    evict(fleet_dir, ("e", "app", victim), budget=budget("maxUnavailable: 34%"))
    result = fleet_dir.compile()
    [decision] = [d for d in outcome(result).decisions if d.cluster == victim]
    assert decision.evicted_by == "e"
    evict(fleet_dir, ("e", "app", victim), budget=budget("minAvailable: 2"))
    assert not [m for m in messages(fleet_dir.compile()) if "does not evict" in m]


def test_pick_all_budget_rules_are_kubefleets_webhook(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, {}))
    evict(fleet_dir, budget=budget("maxUnavailable: 1"))
    [error] = fleet_dir.compile().diagnostics.errors
    assert error.message == (
        "cluster resource placement policy type PickAll is not supported with any specified "
        "max unavailable 1"
    )
    assert str(error.position) == "hub/evictions.yaml:6:3"
    evict(fleet_dir, budget=budget("minAvailable: 50%"))
    [error] = fleet_dir.compile().diagnostics.errors
    assert "min available as a percentage 50%" in error.message
    evict(fleet_dir, budget=budget("minAvailable: 1\n  maxUnavailable: 1"))
    [error] = fleet_dir.compile().diagnostics.errors
    assert error.message == "Both MaxUnavailable and MinAvailable cannot be specified"
    evict(fleet_dir, budget=budget("minAvailable: 120%"))
    assert fleet_dir.compile().diagnostics.errors
    evict(fleet_dir, budget=budget("minAvailable: 1", name="other"))
    result = fleet_dir.compile()
    assert result.ok
    assert any("has no effect: there is no placement" in m for m in messages(result))


def test_pick_all_with_minimum_count_blocks_by_budget(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, {}))
    evict(fleet_dir, ("e", "app", "cluster-01"), budget=budget("minAvailable: 6"))
    [message] = [m for m in messages(fleet_dir.compile()) if "does not evict" in m]
    assert "availablePlacements: 6, totalPlacements: 6" in message


def test_eviction_spec_is_immutable_once_recorded(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, {}))
    evict(fleet_dir, ("e", "app", "cluster-01"))
    render(fleet_dir)
    evict(fleet_dir, ("e", "app", "cluster-02"))
    [error] = fleet_dir.compile().diagnostics.errors
    assert error.message.startswith("The ClusterName field is immutable")
    assert str(error.position) == "hub/evictions.yaml:7:3"


def test_eviction_schema_errors_are_at_the_field(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, {}))
    fleet_dir.write(
        "hub/evictions.yaml",
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\n"
        "kind: ClusterResourcePlacementEviction\nmetadata:\n  name: e\n"
        "spec:\n  placementName: app\n  cluster: x\n",
    )
    errors = fleet_dir.compile().diagnostics.errors
    assert {str(e.position) for e in errors} == {"hub/evictions.yaml:7:3", "hub/evictions.yaml:5:1"}
