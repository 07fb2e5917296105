"""Stickiness through fleet.lock: what KubeFleet's bindings would keep, fleetc keeps."""

from __future__ import annotations

import yaml
from conftest import run
from fleetc.stages.schedule.lock_section import policy_hash
from ninefleet import (
    CLUSTERS,
    labels,
    nine_cluster_fleet,
    outcome,
    pick_n,
    preferred,
    render,
    required,
    write_cluster,
    write_fleet,
)

PROD = required(labels(env="prod"))


def test_lock_records_policy_hash_and_picks_in_order(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, pick_n(2, affinity=PROD)))
    lock = yaml.safe_load((fleet_dir.root / "fleet.lock").read_text())
    entry = lock["placements"]["app"]
    # One line a pick, in pick order; scores of 0 are not written.
    assert entry["clusters"] == "cluster-05\ncluster-04\n"
    assert len(entry["policyHash"]) == 16


def test_render_with_its_own_lock_changes_nothing(memory_fleet):
    fleet = nine_cluster_fleet(
        memory_fleet, pick_n(3, topologySpreadConstraints=[{"topologyKey": "region"}])
    )
    first = render(fleet)
    second = render(fleet)
    assert second.lock == first.lock
    assert second.files == first.files


def test_label_taint_and_state_changes_never_evict(memory_fleet):
    fleet = nine_cluster_fleet(memory_fleet, pick_n(2, affinity=PROD))
    assert outcome(render(fleet)).selected == ["cluster-05", "cluster-04"]
    write_cluster(fleet, "cluster-05", {**CLUSTERS["cluster-05"], "env": "staging"})
    write_cluster(
        fleet, "cluster-04", {**CLUSTERS["cluster-04"], "taint": "x", "state": "NotReady"}
    )
    assert outcome(render(fleet)).selected == ["cluster-05", "cluster-04"]


def test_pick_all_is_sticky_too_until_the_policy_changes(memory_fleet):
    fleet = nine_cluster_fleet(memory_fleet, {"placementType": "PickAll", "affinity": PROD})
    assert outcome(render(fleet)).selected == [
        "cluster-01",
        "cluster-02",
        "cluster-04",
        "cluster-05",
    ]
    write_cluster(fleet, "cluster-01", {**CLUSTERS["cluster-01"], "env": "staging"})
    assert "cluster-01" in outcome(render(fleet)).selected
    write_fleet(
        fleet,
        {
            "placementType": "PickAll",
            "affinity": required(labels(env="prod"), labels(region="nowhere")),
        },
    )
    assert outcome(render(fleet)).selected == ["cluster-02", "cluster-04", "cluster-05"]


def test_changing_only_the_number_keeps_the_selection_and_trims_lowest_score_first(memory_fleet):
    east = preferred((50, labels(region="east")))["clusterAffinity"]
    both = {"clusterAffinity": {**PROD["clusterAffinity"], **east}}
    fleet = nine_cluster_fleet(memory_fleet, pick_n(3, affinity=both))
    assert outcome(render(fleet)).selected == ["cluster-02", "cluster-01", "cluster-05"]
    # Up: cluster-04 joins; nobody is rescored or moved.
    write_fleet(fleet, pick_n(4, affinity=both))
    assert outcome(render(fleet)).selected == [
        "cluster-02",
        "cluster-01",
        "cluster-05",
        "cluster-04",
    ]
    # Down to 1: trim the lowest scores first (05 and 04 score 0), then the smallest name (01).
    write_fleet(fleet, pick_n(1, affinity=both))
    result = render(fleet)
    assert outcome(result).selected == ["cluster-02"]
    assert outcome(result).condition.status == "True"


def test_trim_ties_go_to_the_smallest_name(memory_fleet):
    fleet = nine_cluster_fleet(memory_fleet, pick_n(3, affinity=PROD))
    assert outcome(render(fleet)).selected == ["cluster-05", "cluster-04", "cluster-02"]
    write_fleet(fleet, pick_n(2, affinity=PROD))
    assert outcome(render(fleet)).selected == ["cluster-05", "cluster-04"]


def test_number_zero_trims_everything(memory_fleet):
    fleet = nine_cluster_fleet(memory_fleet, pick_n(2))
    render(fleet)
    write_fleet(fleet, pick_n(0))
    result = render(fleet)
    assert outcome(result).selected == []
    assert outcome(result).condition.status == "True"


def test_a_changed_policy_prefers_obsolete_clusters_only_on_ties(memory_fleet):
    fleet = nine_cluster_fleet(memory_fleet, pick_n(1, affinity=PROD))
    assert outcome(render(fleet)).selected == ["cluster-05"]
    # Without the lock, cluster-09 (the largest name) would win the tie.
    write_fleet(fleet, pick_n(1))
    assert outcome(fleet.compile(reschedule=frozenset({"app"}))).selected == ["cluster-09"]
    assert outcome(render(fleet)).selected == ["cluster-05"]
    # A higher affinity score beats the obsolete flag (ties among east go to cluster-03).
    write_fleet(fleet, pick_n(1, affinity=preferred((10, labels(region="east")))))
    assert outcome(render(fleet)).selected == ["cluster-03"]


def test_a_changed_policy_drops_clusters_that_no_longer_match(memory_fleet):
    fleet = nine_cluster_fleet(memory_fleet, pick_n(2, affinity=PROD))
    render(fleet)
    write_fleet(fleet, pick_n(2, affinity=required(labels(region="east"))))
    assert outcome(render(fleet)).selected == ["cluster-03", "cluster-02"]


def test_obsolete_flag_helps_only_the_first_topology_round(memory_fleet):
    fleet = nine_cluster_fleet(memory_fleet, pick_n(2, affinity=required(labels(region="east"))))
    assert outcome(render(fleet)).selected == ["cluster-03", "cluster-02"]
    spread = [{"topologyKey": "env", "whenUnsatisfiable": "ScheduleAnyway"}]
    write_fleet(fleet, pick_n(2, topologySpreadConstraints=spread))
    # Round 1: every env domain empty, all -1: the obsolete flag picks cluster-03 (staging).
    # Round 2: prod is the unique minimum (score +1): cluster-05 wins by name; cluster-02's
    # obsolete flag no longer counts.
    assert outcome(render(fleet)).selected == ["cluster-03", "cluster-05"]


def test_leaving_or_removed_clusters_are_dropped(fleet_dir):
    fleet = nine_cluster_fleet(fleet_dir, pick_n(2))
    assert outcome(render(fleet)).selected == ["cluster-09", "cluster-05"]
    write_cluster(fleet, "cluster-05", {**CLUSTERS["cluster-05"], "state": "Leaving"})
    (fleet.root / "clusters" / "cluster-09.yaml").unlink()
    assert outcome(render(fleet)).selected == ["cluster-04", "cluster-03"]


def test_reschedule_starts_a_placement_afresh(fleet_dir, cli):
    fleet = nine_cluster_fleet(fleet_dir, pick_n(2, affinity=PROD))
    render(fleet)
    write_cluster(fleet, "cluster-05", {**CLUSTERS["cluster-05"], "env": "staging"})
    assert "cluster-05" in outcome(render(fleet)).selected
    result = run(cli, "render", "-f", str(fleet.root), "--reschedule", "app")
    assert result.exit_code == 0, result.output
    lock = yaml.safe_load((fleet.root / "fleet.lock").read_text())
    assert lock["placements"]["app"]["clusters"].splitlines() == ["cluster-04", "cluster-02"]


def test_reschedule_of_an_unknown_placement_is_an_error(fleet_dir, cli):
    fleet = nine_cluster_fleet(fleet_dir, pick_n(2))
    result = run(cli, "render", "-f", str(fleet.root), "--reschedule", "ap")
    assert result.exit_code == 1
    assert "--reschedule 'ap': there is no placement of that name" in result.output
    assert "did you mean 'app'?" in result.output


def test_check_fails_on_a_stale_lock(fleet_dir, cli):
    fleet = nine_cluster_fleet(fleet_dir, pick_n(2))
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0
    write_fleet(fleet, pick_n(3))
    result = run(cli, "check", "-f", str(fleet.root))
    assert result.exit_code == 1
    assert "stale:   fleet.lock" in result.output


def test_a_malformed_lock_entry_is_an_error(memory_fleet):
    fleet = nine_cluster_fleet(memory_fleet, pick_n(2))
    fleet.write(
        "fleet.lock",
        """
        apiVersion: fleetc.io/v1alpha1
        kind: FleetLock
        placements:
          app:
            clusters: [{name: 3}]
        """,
    )
    result = fleet.compile()
    assert not result.ok
    (error,) = result.diagnostics.errors
    assert "the entry of placement 'app' is malformed" in error.message
    assert error.position.file.endswith("fleet.lock") and error.position.line == 4


def test_spelling_out_defaults_keeps_the_policy_hash():
    terse = {"tolerations": [{"key": "k"}], "topologySpreadConstraints": [{"topologyKey": "r"}]}
    explicit = {
        "placementType": "PickAll",
        "tolerations": [{"key": "k", "operator": "Equal"}],
        "topologySpreadConstraints": [
            {"topologyKey": "r", "maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"}
        ],
    }
    assert policy_hash(terse) == policy_hash(explicit)
    assert policy_hash({**explicit, "numberOfClusters": 3}) == policy_hash(explicit)
    assert policy_hash({"placementType": "PickN"}) != policy_hash({})
