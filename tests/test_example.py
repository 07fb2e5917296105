"""The repository's own example: it compiles cleanly and its committed output is current."""

from __future__ import annotations

from conftest import REPO, run


def test_committed_example_is_up_to_date(cli):
    result = run(cli, "check", "-f", str(REPO))
    assert result.exit_code == 0, result.output


def test_example_places_kuard_on_eastus_clusters_only(example):
    result = example.compile()
    assert result.ok, [d.format() for d in result.diagnostics]
    outcome = result.compilation.outcomes["kuard-demo"]
    assert outcome.selected == ["aks-member-1", "aks-member-2"]
    reasons = {d.cluster: d.reason for d in outcome.decisions}
    assert reasons["aks-member-4"] == (
        "ClusterUnschedulable, taint &{Key:maintenance Value:kernel-upgrade Effect:NoSchedule} "
        "cannot be tolerated"
    )
    assert reasons["aks-member-5"] == (
        "ClusterUnschedulable, cluster is not connected to the fleet: "
        "unhealthy for a prolonged period of time"
    )
    assert reasons["aks-member-3"] == (
        "ClusterUnschedulable, "
        "cluster does not match with any of the required cluster affinity terms"
    )
