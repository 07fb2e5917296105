"""fleetc explain and fleetc status: text for people, JSON for tools; PickFixed outcomes."""

from __future__ import annotations

import json

from conftest import REPO, run
from ninefleet import nine_cluster_fleet, outcome, pick_n
from test_schedule_pickn import NOT_READY


def test_explain_shows_why_the_example_left_out_its_tainted_and_not_ready_clusters(cli):
    result = run(cli, "explain", "kuard-demo", "-f", str(REPO))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "kuard-demo (PickAll): Scheduled=True, SchedulingPolicyFulfilled"
    at4 = lines.index("  aks-member-4  filtered   by TaintToleration")
    assert lines[at4 + 1] == (
        "      ClusterUnschedulable, taint {key: maintenance, value: kernel-upgrade, "
        "effect: NoSchedule} cannot be tolerated"
    )
    at5 = lines.index("  aks-member-5  filtered   by ClusterEligibility")
    assert lines[at5 + 1] == "      " + (
        "ClusterUnschedulable, cluster is not connected to the fleet: "
        "unhealthy for a prolonged period of time"
    )


def test_explain_json_uses_the_status_decision_items(cli):
    result = run(cli, "explain", "kuard-demo", "-f", str(REPO), "--format", "json")
    assert result.exit_code == 0, result.output
    item = json.loads(result.output)
    status = json.loads(run(cli, "status", "-f", str(REPO), "--format", "json").output)
    assert item == next(p for p in status["placements"] if p["name"] == "kuard-demo")
    by_cluster = {d["cluster"]: d for d in item["decisions"]}
    assert by_cluster["aks-member-4"]["verdict"] == "filtered"
    assert by_cluster["aks-member-4"]["filter"] == "TaintToleration"
    assert by_cluster["aks-member-5"]["filter"] == "ClusterEligibility"


def test_explain_unknown_placement_is_a_usage_error(cli):
    result = run(cli, "explain", "kuard", "-f", str(REPO))
    assert result.exit_code == 2
    assert "did you mean 'kuard-demo'?" in result.output


def test_status_json_contract(fleet_dir, cli):
    nine_cluster_fleet(fleet_dir, pick_n(7), {"placementType": "PickAll"})
    result = run(cli, "status", "-f", str(fleet_dir.root), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["placements", "services", "loadBalancers"]
    assert data["services"] == [] and data["loadBalancers"] == []
    first, second = data["placements"]
    assert [first["name"], second["name"]] == ["app", "app2"]
    assert first["scheduled"] == {
        "status": "False",
        "reason": "SchedulingPolicyUnfulfilled",
        "message": "could not find all clusters needed as specified by the scheduling policy, "
        "found 6 cluster(s) instead",
    }
    assert second["scheduled"]["status"] == "True"
    for item in data["placements"]:
        assert sorted(d["cluster"] for d in item["decisions"]) == [
            f"cluster-0{i}" for i in range(1, 10)
        ]
        for decision in item["decisions"]:
            assert {"cluster", "selected", "affinityScore", "topologySpreadScore", "reason"} <= set(
                decision
            )
    verdicts = [d["verdict"] for d in first["decisions"]]
    assert verdicts == ["selected"] * 6 + ["filtered"] * 3


def test_status_text(fleet_dir, cli):
    nine_cluster_fleet(fleet_dir, pick_n(2))
    result = run(cli, "status", "-f", str(fleet_dir.root))
    assert result.output == (
        "app (PickN): Scheduled=True, SchedulingPolicyFulfilled\n"
        "  found all cluster needed as specified by the scheduling policy, found 2 cluster(s)\n"
        "  selected: cluster-09, cluster-05\n"
    )


def test_render_warns_about_an_unfulfilled_placement_and_strict_fails(fleet_dir, cli):
    nine_cluster_fleet(fleet_dir, pick_n(7))
    result = run(cli, "render", "-f", str(fleet_dir.root))
    assert result.exit_code == 0
    assert "warning: placement 'app' is not fulfilled: could not find all clusters" in result.output
    strict = run(cli, "render", "-f", str(fleet_dir.root), "--strict")
    assert strict.exit_code == 1


def test_pick_fixed_checks_eligibility_only(memory_fleet):
    names = ["cluster-06", "cluster-07", "cluster-99", "cluster-01"]
    result = nine_cluster_fleet(
        memory_fleet, {"placementType": "PickFixed", "clusterNames": names}
    ).compile()
    decisions = [(d.cluster, d.selected, d.reason) for d in outcome(result).decisions]
    assert decisions[:4] == [
        (
            "cluster-06",
            True,
            'Successfully scheduled resources for placement in "cluster-06": '
            "picked by scheduling policy",
        ),
        (
            "cluster-01",
            True,
            'Successfully scheduled resources for placement in "cluster-01": '
            "picked by scheduling policy",
        ),
        (
            "cluster-07",
            False,
            'Cluster "cluster-07" is not eligible for resource placement yet: '
            + NOT_READY.removeprefix("ClusterUnschedulable, "),
        ),
        ("cluster-99", False, 'Specified cluster "cluster-99" is not found'),
    ]
    condition = outcome(result).condition
    assert (condition.status, condition.reason) == ("False", "SchedulingPolicyUnfulfilled")


def test_pick_fixed_without_names_is_pending(memory_fleet):
    result = nine_cluster_fleet(memory_fleet, {"placementType": "PickFixed", "clusterNames": []})
    condition = outcome(result.compile()).condition
    assert (condition.status, condition.reason, condition.message) == (
        "Unknown",
        "SchedulePending",
        "Scheduling has not completed",
    )


def test_status_json_reports_services_and_load_balancer_pools(cli):
    services = json.loads(
        run(
            cli, "status", "-f", str(REPO / "examples" / "azure-fleet-l4"), "--format", "json"
        ).output
    )
    assert [s["service"] for s in services["services"]] == [
        "kuard-demo/kuard",
        "kuard-demo/kuard-internal",
    ]
    assert [e["cluster"] for e in services["services"][0]["exporters"]] == [
        "aks-member-1",
        "aks-member-2",
    ]
    pools = json.loads(
        run(cli, "status", "-f", str(REPO / "examples" / "arc-metallb"), "--format", "json").output
    )
    assert pools["loadBalancers"] and all(p["pools"] for p in pools["loadBalancers"])
    text = run(cli, "status", "-f", str(REPO / "examples" / "baremetal-sites")).output
    assert "pool west-1/ingress: 10.20.0.32/29" in text
