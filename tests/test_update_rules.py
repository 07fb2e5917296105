"""KubeFleet's update rules against fleet.lock: placementType, tolerations, External."""

from __future__ import annotations

import pytest
import yaml
from ninefleet import nine_cluster_fleet, render, write_fleet


def line_of(fleet_dir, needle: str) -> int:
    lines = (fleet_dir.root / "fleet.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def change(fleet_dir, policy, strategy=None):
    write_fleet(fleet_dir, policy)
    if strategy is not None:
        data = yaml.safe_load((fleet_dir.root / "fleet.yaml").read_text())
        data["spec"]["placements"][0]["strategy"] = strategy
        fleet_dir.write("fleet.yaml", yaml.safe_dump(data, sort_keys=False))
    return fleet_dir.compile()


def only_error(result):
    [error] = result.diagnostics.errors
    assert "create a new placement" in error.hint
    assert result.compilation.outcomes["app"].valid is False
    return error


TOLERATE = {"key": "maintenance", "operator": "Equal", "value": "yes", "effect": "NoSchedule"}


def test_the_lock_records_what_the_rules_need_compactly(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, {"placementType": "PickAll", "tolerations": [TOLERATE]}))
    entry = yaml.safe_load((fleet_dir.root / "fleet.lock").read_text())["placements"]["app"]
    assert entry["placementType"] == "PickAll"
    assert entry["tolerations"] == ["Equal maintenance=yes:NoSchedule"]
    assert "external" not in entry


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({}, {"placementType": "PickN", "numberOfClusters": 2}),
        ({"placementType": "PickN", "numberOfClusters": 2}, {}),
        (
            {"placementType": "PickN", "numberOfClusters": 2},
            {"placementType": "PickFixed", "clusterNames": ["cluster-01"]},
        ),
    ],
)
def test_placement_type_cannot_change(fleet_dir, before, after):
    render(nine_cluster_fleet(fleet_dir, before))
    error = only_error(change(fleet_dir, after))
    assert "placement type is immutable" in error.message
    assert error.position.file == "fleet.yaml"
    if "placementType" in after:
        assert error.position.line == line_of(fleet_dir, "placementType:")


def test_a_changed_toleration_is_an_error_at_its_line(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, {"tolerations": [TOLERATE]}))
    error = only_error(change(fleet_dir, {"tolerations": [{**TOLERATE, "value": "no"}]}))
    assert "only additions to tolerations are allowed" in error.message
    assert "'Equal maintenance=yes:NoSchedule'" in error.message
    # At the changed item, not at the list.
    assert error.position.line == line_of(fleet_dir, "tolerations:") + 1
    assert error.path == "spec.placements[0].policy.tolerations[0]"


def test_a_removed_toleration_is_an_error(fleet_dir):
    other = {"key": "other", "operator": "Exists"}
    render(nine_cluster_fleet(fleet_dir, {"tolerations": [TOLERATE, other]}))
    error = only_error(change(fleet_dir, {"tolerations": [TOLERATE]}))
    assert "'Exists other'" in error.message
    assert error.position.line == line_of(fleet_dir, "tolerations:")
    (fleet_dir.root / "fleet.lock").unlink()
    render(nine_cluster_fleet(fleet_dir, {"tolerations": [TOLERATE]}))
    error = only_error(change(fleet_dir, {}))
    assert "only additions" in error.message


def test_tolerations_may_be_added_and_reordered(fleet_dir):
    other = {"key": "other", "operator": "Exists"}
    render(nine_cluster_fleet(fleet_dir, {"tolerations": [TOLERATE]}))
    result = change(fleet_dir, {"tolerations": [other, TOLERATE]})
    assert result.ok, [d.format() for d in result.diagnostics]
    # Spelling out the default operator is no change either.
    plain = {k: v for k, v in TOLERATE.items() if k != "operator"}
    assert change(fleet_dir, {"tolerations": [plain]}).ok


def test_external_cannot_go_back(fleet_dir):
    nine_cluster_fleet(fleet_dir, {})
    change(fleet_dir, {}, {"type": "External"})
    render(fleet_dir)
    entry = yaml.safe_load((fleet_dir.root / "fleet.lock").read_text())["placements"]["app"]
    assert entry["external"] is True
    error = only_error(change(fleet_dir, {}, {"type": "RollingUpdate"}))
    assert "cannot change rollout strategy type from 'External'" in error.message
    assert error.position.line == line_of(fleet_dir, "type: RollingUpdate")
    # Clearing the field (default RollingUpdate) is going back too.
    error = only_error(change(fleet_dir, {}))
    assert "from 'External'" in error.message
    # RollingUpdate -> External is allowed.
    (fleet_dir.root / "fleet.lock").unlink()
    render(nine_cluster_fleet(fleet_dir, {}))
    assert change(fleet_dir, {}, {"type": "External"}).ok


def test_a_lock_without_the_fields_checks_nothing(fleet_dir):
    render(nine_cluster_fleet(fleet_dir, {}))
    path = fleet_dir.root / "fleet.lock"
    lock = yaml.safe_load(path.read_text())
    del lock["placements"]["app"]["placementType"]
    path.write_text(yaml.safe_dump(lock))
    assert change(fleet_dir, {"placementType": "PickN", "numberOfClusters": 1}).ok


@pytest.mark.parametrize(
    "bad", [{"placementType": "PickSome"}, {"tolerations": "x"}, {"external": "yes"}]
)
def test_malformed_rule_fields_in_the_lock_are_errors(fleet_dir, bad):
    render(nine_cluster_fleet(fleet_dir, {}))
    path = fleet_dir.root / "fleet.lock"
    lock = yaml.safe_load(path.read_text())
    lock["placements"]["app"].update(bad)
    path.write_text(yaml.safe_dump(lock))
    result = fleet_dir.compile()
    assert any("is malformed" in d.message for d in result.diagnostics.errors)
