"""fleetc diff on real git repositories: every change kind in every form, and no side effects."""

from __future__ import annotations

import json
import os

import pytest
from conftest import run
from fleetc.core.escape import md_text
from fleetc.pipeline import Options
from fleetc.shell.gitloop import compare_with
from fleetc.views import diff_format
from gitrepo import demo_fleet


def _diff(cli, fleet, *args: str):
    return run(cli, "diff", "-f", str(fleet.root), *args)


def _json(cli, fleet, *args: str) -> dict:
    result = _diff(cli, fleet, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def edit_resource(fleet):
    path = fleet.root / "hub/app.yaml"
    path.write_text(path.read_text().replace("color: blue", "color: green"))


def move_by_label(fleet):
    fleet.cluster("c3", {"env": "prod"})


def add_cluster(fleet):
    fleet.cluster("c4", {"env": "prod"})


def remove_cluster(fleet):
    (fleet.root / "clusters/c2.yaml").unlink()


def change_policy(fleet):
    path = fleet.root / "fleet.yaml"
    path.write_text(path.read_text().replace("matchLabels: {env: prod}", "matchLabels: {env: dev}"))


# kind -> (mutation, {cluster: (status, added, removed, changed)}, placement moves, why, text)
CASES = {
    "resource edit": (
        edit_resource,
        {"c1": ("changed", 0, 0, 1), "c2": ("changed", 0, 0, 1)},
        [],
        [],
        ["-  color: blue", "+  color: green", "~ ConfigMap/app/settings"],
    ),
    "label moves placement": (
        move_by_label,
        {"c3": ("changed", 3, 0, 0)},
        [("app", "c3", "gained")],
        ["cluster c3: label env changed from dev to prod"],
        ["+ Namespace/app", "+ ConfigMap/app/settings"],
    ),
    "new cluster": (
        add_cluster,
        {"c4": ("added", 4, 0, 0)},
        [("app", "c4", "gained"), ("baseline", "c4", "gained")],
        ["cluster c4 added to the inventory"],
        ["c4 (cluster added): +4 -0 ~0", "+ Namespace/base"],
    ),
    "removed cluster": (
        remove_cluster,
        {"c2": ("removed", 0, 4, 0)},
        [("app", "c2", "lost"), ("baseline", "c2", "lost")],
        ["cluster c2 removed from the inventory"],
        ["c2 (cluster removed): +0 -4 ~0", "- ConfigMap/app/settings"],
    ),
    "changed policy": (
        change_policy,
        {
            "c1": ("changed", 0, 3, 0),
            "c2": ("changed", 0, 3, 0),
            "c3": ("changed", 3, 0, 0),
        },
        [("app", "c1", "lost"), ("app", "c2", "lost"), ("app", "c3", "gained")],
        [
            "placement app: policy.affinity.clusterAffinity.requiredDuringSchedulingIgnoredDuringExecution"
            ".clusterSelectorTerms[0].labelSelector.matchLabels.env changed from prod to dev"
        ],
        ["+ Secret/app/creds"],
    ),
}


# Groups of clusters with identical changes in the markdown form.
GROUPS = {
    "resource edit": 1,  # c1 and c2 get the same ConfigMap edit
    "label moves placement": 1,
    "new cluster": 1,
    "removed cluster": 1,
    "changed policy": 2,  # c1 and c2 lose the same three objects; c3 gains them
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_form_reports_the_change(cli, tmp_path, kind):
    mutate, clusters, moves, why, snippets = CASES[kind]
    fleet = demo_fleet(tmp_path)
    mutate(fleet)

    data = _json(cli, fleet)
    assert data["changed"] is True
    summary = data["summary"]["clusters"]
    assert {
        name: (s["status"], s["added"], s["removed"], s["changed"]) for name, s in summary.items()
    } == clusters
    assert data["summary"]["clustersAffected"] == len(clusters)
    assert [(p["placement"], p["cluster"], p["change"]) for p in data["placements"]] == moves
    for move in data["placements"]:
        for reason in why:
            assert reason in move["reasons"]
    assert [c["name"] for c in data["clusters"]] == sorted(clusters)

    text = _diff(cli, fleet).output
    markdown = _diff(cli, fleet, "--format", "markdown").output
    for snippet in snippets:
        assert snippet in text
    for reason in why:
        assert reason in text
        assert md_text(reason) in markdown  # as markdown that shows it literally
    # Clusters with identical changes share one folded group; every cluster is named.
    assert markdown.count("<details>") == GROUPS[kind] == markdown.count("</details>")
    for name in clusters:
        assert f"`{name}`" in markdown or f"<code>{name}</code>" in markdown
    assert "```diff" in markdown
    # The summary comes before the per-cluster detail.
    first_detail = text.index("=== ")
    for name in clusters:
        assert text.index(f"  {name}") < first_detail


def test_placement_move_names_the_scheduler_reason(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    move_by_label(fleet)
    (move,) = _json(cli, fleet)["placements"]
    assert move["reasons"][-1] == (
        "before: ClusterUnschedulable, "
        "cluster does not match with any of the required cluster affinity terms"
    )


def test_secret_values_are_never_printed(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    path = fleet.root / "hub/app.yaml"
    path.write_text(path.read_text().replace("hunter2-old", "hunter2-new"))
    outputs = [_diff(cli, fleet, "--format", form).output for form in ("text", "markdown", "json")]
    for output in outputs:
        assert "hunter2" not in output
        assert "admin" not in output
    text = outputs[0]
    assert "-  password: <redacted-old-value>" in text
    assert "+  password: <redacted-new-value>" in text
    assert "   user: <redacted>" in text


def test_no_changes_and_exit_code(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    assert _diff(cli, fleet, "--exit-code").exit_code == 0
    assert _json(cli, fleet)["changed"] is False
    edit_resource(fleet)
    assert _diff(cli, fleet).exit_code == 0
    assert _diff(cli, fleet, "--exit-code").exit_code == 1


def test_diff_never_touches_working_tree_index_or_stash(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    edit_resource(fleet)
    fleet.repo.git.stash("push", "--quiet")
    move_by_label(fleet)
    fleet.repo.git.add("clusters/c3.yaml")
    add_cluster(fleet)
    status = fleet.repo.git.status("--porcelain")
    stash = fleet.repo.git.stash("list")
    index = (fleet.root / ".git/index").read_bytes()

    def outside_the_cache() -> dict[str, bytes]:
        """Every file but fleetc's cache in .git/fleetc/ (diff keeps its memo there)."""
        return {k: v for k, v in fleet.files(".").items() if not k.startswith(".git/fleetc/")}

    files = outside_the_cache()

    for form in ("text", "markdown", "json"):
        assert _diff(cli, fleet, "--format", form).exit_code == 0
    assert _diff(cli, fleet, "--base", "HEAD").exit_code == 0

    assert (fleet.root / ".git/index").read_bytes() == index
    assert outside_the_cache() == files
    assert fleet.repo.git.status("--porcelain") == status
    assert fleet.repo.git.stash("list") == stash


def test_default_base_is_the_merge_base_with_main(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    fork = fleet.repo.head.commit.hexsha
    fleet.repo.git.checkout("--quiet", "-b", "feature")
    edit_resource(fleet)
    fleet.commit("edit on the feature branch")
    fleet.repo.git.checkout("--quiet", "main")
    add_cluster(fleet)
    fleet.commit("main moves on")
    fleet.repo.git.checkout("--quiet", "feature")

    data = _json(cli, fleet)
    assert data["base"] == f"merge base with main ({fork[:12]})"
    # main's new cluster is not in the feature's diff; the feature's own edit is.
    assert sorted(data["summary"]["clusters"]) == ["c1", "c2"]
    head = _json(cli, fleet, "--base", "HEAD")
    assert head["changed"] is False
    assert head["base"] == f"HEAD ({fleet.repo.head.commit.hexsha[:12]})"


def test_fleet_in_a_sub_folder(cli, tmp_path):
    fleet = demo_fleet(tmp_path / "repo")
    sub = tmp_path / "repo" / "fleets" / "prod"
    sub.mkdir(parents=True)
    for name in ("fleet.yaml", "hub", "clusters"):
        os.rename(fleet.root / name, sub / name)
    fleet.commit("move into a sub-folder")
    remove_cluster_at = sub / "clusters/c2.yaml"
    remove_cluster_at.unlink()
    result = run(cli, "diff", "-f", str(sub), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["summary"]["clusters"]["c2"]["status"] == "removed"


def test_base_that_does_not_compile_is_reported(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    fleet.write("clusters/c9.yaml", "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\n")
    fleet.commit("broken")
    (fleet.root / "clusters/c9.yaml").unlink()
    result = _diff(cli, fleet, "--base", "HEAD")
    assert result.exit_code == 1
    assert "the base does not compile" in result.output
    assert "clusters/c9.yaml" in result.output


def test_unknown_base_is_an_error(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    result = _diff(cli, fleet, "--base", "no-such-ref")
    assert result.exit_code == 1
    assert "unknown revision 'no-such-ref'" in result.output


def test_markdown_leaves_out_yaml_diffs_past_its_budget(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    edit_resource(fleet)
    move_by_label(fleet)
    found = compare_with(fleet.root / "fleet.yaml", "HEAD", Options()).diff
    full = diff_format.markdown(found)
    # Two groups: c1 and c2 share the ConfigMap edit; c3 gains the app namespace.
    assert full.count("```diff") == 2
    first_block = full.index("</details>") + len("</details>")
    short = diff_format.markdown(found, budget=first_block + 10)
    assert short.count("```diff") == 1
    assert short.count("<details>") == 2
    assert "- changed `ConfigMap/app/settings` (`app/configmap_settings.yaml`)" in short
    assert "_YAML diff left out to keep this short._" in short
    assert short.endswith(
        "_YAML diffs of 1 group(s) of clusters omitted to keep this short: "
        f"{diff_format.ARTIFACT_NOTE}._\n"
    )


def test_a_taint_names_itself_as_the_reason(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    fleet.cluster(
        "c2", {"env": "prod"}, spec="spec:\n  taints:\n    - {key: maint, effect: NoSchedule}\n"
    )
    moves = {(p["placement"], p["cluster"]): p["reasons"] for p in _json(cli, fleet)["placements"]}
    assert set(moves) == {("app", "c2"), ("baseline", "c2")}
    assert moves[("baseline", "c2")] == [
        "cluster c2: taints changed from (none) to {key: maint, effect: NoSchedule}",
        "now: ClusterUnschedulable, taint {key: maint, effect: NoSchedule} cannot be tolerated",
    ]


def test_outside_a_repository_is_an_error(cli, fleet_dir):
    fleet_dir.write(
        "fleet.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Fleet\nmetadata:\n  name: x\nspec: {}\n",
    )
    fleet_dir.write("clusters/.keep", "")
    result = run(cli, "diff", "-f", str(fleet_dir.root))
    assert result.exit_code == 1
    assert f"error: {fleet_dir.root} is not inside a git repository" in result.output
