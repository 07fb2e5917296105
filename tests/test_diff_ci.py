"""fleetc diff in the situations CI puts it in: the pull request that adds fleet.yaml, shallow
clones, and policy changes named field by field."""

from __future__ import annotations

import json
import subprocess

import git
from conftest import run
from gitrepo import APP_PLACEMENT, HUB, GitFleet, demo_fleet


def test_the_pull_request_that_adds_fleet_yaml_diffs_against_an_empty_fleet(cli, tmp_path):
    fleet = GitFleet(tmp_path)
    fleet.write("README.md", "a repository before its fleet\n")
    fleet.commit("init")
    fleet.write("fleet.yaml", APP_PLACEMENT)
    fleet.write("hub/app.yaml", HUB)
    fleet.cluster("c1", {"env": "prod"})
    result = run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["base"].endswith(", without fleet.yaml: an empty fleet")
    assert data["summary"]["clusters"] == {
        "c1": {"status": "added", "added": 4, "removed": 0, "changed": 0}
    }
    assert "placement app added" in data["placementSpecs"]
    assert "cluster c1 added to the inventory" in data["inventory"]


def _shallow_clone(tmp_path):
    origin = demo_fleet(tmp_path / "origin")
    (origin.root / "hub/app.yaml").write_text(HUB.replace("color: blue", "color: green"))
    origin.commit("second")
    target = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", f"file://{origin.root}", str(target)],
        check=True,
    )
    return target


def test_a_shallow_clone_without_the_base_names_the_fix(cli, tmp_path):
    clone = _shallow_clone(tmp_path)
    result = run(cli, "diff", "-f", str(clone), "--base", "HEAD~1")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "error: revision 'HEAD~1' is not in this clone" in result.output
    assert "git fetch --deepen" in result.output
    assert "fetch-depth: 0" in result.output


def test_a_shallow_clone_that_fetched_the_base_works(cli, tmp_path):
    clone = _shallow_clone(tmp_path)
    git.Repo(clone).git.fetch("--quiet", "--deepen=1")
    result = run(cli, "diff", "-f", str(clone), "--base", "HEAD~1", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["summary"]["clustersAffected"] == 2


def test_a_policy_change_names_the_fields_and_values(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    path = fleet.root / "fleet.yaml"
    path.write_text(
        path.read_text().replace(
            "      policy:\n        placementType: PickAll\n",
            "      policy:\n        placementType: PickAll\n"
            "        tolerations:\n          - {key: maint, operator: Exists}\n",
        )
    )
    result = run(cli, "diff", "-f", str(fleet.root), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["placementSpecs"] == [
        "placement baseline: policy.tolerations added"
    ]
    path.write_text(
        APP_PLACEMENT.replace("env: prod", "env: dev").replace(
            "PickAll", "PickAll\n        tolerations: []"
        )
    )
    data = json.loads(run(cli, "diff", "-f", str(fleet.root), "--format", "json").output)
    assert data["placementSpecs"] == [
        "placement app: policy.affinity.clusterAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".clusterSelectorTerms[0].labelSelector.matchLabels.env changed from prod to dev",
        "placement baseline: policy.tolerations added",
    ]
