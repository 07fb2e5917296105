"""fleetc render --commit: commits exactly the output and fleet.lock, with a useful message."""

from __future__ import annotations

from conftest import run
from gitrepo import APP_PLACEMENT, HUB, GitFleet, demo_fleet


def _render_commit(cli, fleet):
    return run(cli, "render", "--commit", "-f", str(fleet.root))


def test_commit_message_names_the_source_and_summarises(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    source = fleet.repo.head.commit.hexsha
    result = _render_commit(cli, fleet)
    assert result.exit_code == 0, result.output
    head = fleet.repo.head.commit
    assert head.parents[0].hexsha == source
    message = head.message
    assert message.startswith("fleetc render: 3 cluster(s) affected, 9 object change(s)")
    assert f"Source commit: {source}" in message
    assert "  c1 (cluster added): +4 -0 ~0" in message
    assert "  c3 (cluster added): +1 -0 ~0" in message
    assert "Uncommitted source changes" not in message
    committed = {item.path for item in head.tree.traverse()}
    assert "rendered/c1/app/configmap_settings.yaml" in committed
    assert "fleet.lock" in committed
    changed = set(head.stats.files)
    assert all(p.startswith("rendered/") or p == "fleet.lock" for p in changed)

    again = _render_commit(cli, fleet)
    assert again.exit_code == 0
    assert "nothing to commit" in again.output
    assert fleet.repo.head.commit == head


def test_uncommitted_source_changes_are_named_and_not_committed(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    assert _render_commit(cli, fleet).exit_code == 0
    path = fleet.root / "hub/app.yaml"
    path.write_text(path.read_text().replace("color: blue", "color: green"))
    result = _render_commit(cli, fleet)
    assert result.exit_code == 0, result.output
    head = fleet.repo.head.commit
    assert "2 cluster(s) affected, 2 object change(s)" in head.message
    assert "Uncommitted source changes rendered: hub/app.yaml" in head.message
    assert set(head.stats.files) == {
        "rendered/c1/app/configmap_settings.yaml",
        "rendered/c2/app/configmap_settings.yaml",
    }
    assert " M hub/app.yaml" in fleet.repo.git.status("--porcelain").splitlines()


def test_refuses_when_unrelated_changes_are_staged(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    before = fleet.repo.head.commit
    fleet.write("notes.txt", "staged by hand\n")
    fleet.repo.git.add("notes.txt")
    result = _render_commit(cli, fleet)
    assert result.exit_code == 1
    assert "refusing to commit: other changes are staged: notes.txt" in result.output
    assert fleet.repo.head.commit == before
    assert not (fleet.root / "rendered").exists()
    assert fleet.repo.git.diff("--cached", "--name-only") == "notes.txt"


def test_staged_output_is_not_unrelated(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    fleet.write("rendered/c1/stale.yaml", "kind: Stale\n")
    fleet.repo.git.add("rendered")
    result = _render_commit(cli, fleet)
    assert result.exit_code == 0, result.output
    assert "rendered/c1/stale.yaml" not in {i.path for i in fleet.repo.head.commit.tree.traverse()}


def test_first_commit_of_a_new_repository(cli, tmp_path):
    fleet = GitFleet(tmp_path)
    fleet.write("fleet.yaml", APP_PLACEMENT)
    fleet.write("hub/app.yaml", HUB)
    fleet.cluster("c1", {"env": "prod"})
    result = _render_commit(cli, fleet)
    assert result.exit_code == 0, result.output
    head = fleet.repo.head.commit
    assert head.message.startswith("fleetc render: 1 cluster(s) affected, 4 object change(s)")
    assert "Uncommitted source changes rendered: clusters/c1.yaml, fleet.yaml, hub/app.yaml" in (
        head.message
    )
    assert {p.split("/")[0] for p in head.stats.files} == {"rendered", "fleet.lock"}


def _edit(fleet, old="color: blue", new="color: green"):
    path = fleet.root / "hub/app.yaml"
    path.write_text(path.read_text().replace(old, new))


def _commit_passes_check(fleet, tmp_path) -> None:
    """The new commit, checked out on its own, passes fleetc check."""
    clone = tmp_path / "verify"
    fleet.repo.git.worktree("add", "--quiet", "--detach", str(clone), "HEAD")
    from click.testing import CliRunner
    from fleetc.cli import main

    result = CliRunner().invoke(main, ["check", "-f", str(clone)])
    assert result.exit_code == 0, result.output


def test_include_staged_commits_the_staged_sources_with_the_output(cli, tmp_path):
    fleet = demo_fleet(tmp_path / "repo")
    assert _render_commit(cli, fleet).exit_code == 0
    _edit(fleet)
    fleet.repo.git.add("hub/app.yaml")
    result = run(cli, "render", "--commit", "--include", "staged", "-f", str(fleet.root))
    assert result.exit_code == 0, result.output
    head = fleet.repo.head.commit
    assert set(head.stats.files) == {
        "hub/app.yaml",
        "rendered/c1/app/configmap_settings.yaml",
        "rendered/c2/app/configmap_settings.yaml",
    }
    assert "Source changes in this commit: hub/app.yaml" in head.message
    assert "Uncommitted source changes" not in head.message
    assert fleet.repo.git.status("--porcelain") == ""
    _commit_passes_check(fleet, tmp_path)


def test_include_staged_refuses_when_the_render_would_see_unstaged_changes(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    assert _render_commit(cli, fleet).exit_code == 0
    before = fleet.repo.head.commit
    _edit(fleet)  # not staged
    fleet.write("hub/extra.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
    result = run(cli, "render", "--commit", "--include", "staged", "-f", str(fleet.root))
    assert result.exit_code == 1
    assert (
        "refusing to commit: the render would read changes the commit leaves out: "
        "hub/app.yaml, hub/extra.yaml (that commit would fail fleetc check)" in result.output
    )
    assert "git stash --keep-index --include-untracked" in result.output
    assert fleet.repo.head.commit == before


def test_include_tracked_commits_every_tracked_change(cli, tmp_path):
    fleet = demo_fleet(tmp_path / "repo")
    assert _render_commit(cli, fleet).exit_code == 0
    _edit(fleet)  # not staged: --include tracked takes it
    (fleet.root / "clusters/c3.yaml").unlink()
    result = run(cli, "render", "--commit", "--include", "tracked", "-f", str(fleet.root))
    assert result.exit_code == 0, result.output
    head = fleet.repo.head.commit
    assert {"hub/app.yaml", "clusters/c3.yaml"} <= set(head.stats.files)
    assert "Source changes in this commit: clusters/c3.yaml, hub/app.yaml" in head.message
    assert fleet.repo.git.status("--porcelain") == ""
    _commit_passes_check(fleet, tmp_path)


def test_include_tracked_refuses_untracked_inputs(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    fleet.write("hub/extra.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
    result = run(cli, "render", "--commit", "--include", "tracked", "-f", str(fleet.root))
    assert result.exit_code == 1
    assert "hub/extra.yaml" in result.output and "add them (git add)" in result.output


def test_include_needs_commit(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    result = run(cli, "render", "--include", "staged", "-f", str(fleet.root))
    assert result.exit_code == 2
    assert "--include needs --commit" in result.output


def _forge(fleet, cluster: str) -> None:
    """Add ``cluster`` to placement app's clusters in fleet.lock, as a hand edit would."""
    path = fleet.root / "fleet.lock"
    text = path.read_text()
    head, sep, rest = text.partition("  app:\n")
    block, _, tail = rest.partition("clusters: |\n")
    assert sep and _
    path.write_text(head + sep + block + "clusters: |\n      " + cluster + "\n" + tail)


def test_check_base_refuses_a_forged_lock(cli, tmp_path):
    # Issue 13 (5): a cluster added to a placement in fleet.lock (c3 fails the required
    # affinity env=prod) got the workload, and check passed.
    fleet = demo_fleet(tmp_path)
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    base = fleet.commit("base")
    _forge(fleet, "c3")
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    assert (fleet.root / "rendered/c3/app").is_dir()  # the forged entry placed the workload
    fleet.commit("pull request")
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0  # consistent with its lock
    result = run(cli, "check", "-f", str(fleet.root), "--base", base)
    assert result.exit_code == 1, result.output
    assert "placement 'app' selects c3, which the scheduler would not pick" in result.output


def test_check_base_accepts_an_honest_change_and_reports_sticky_clusters(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    base = fleet.commit("base")
    fleet.cluster("c2", {"env": "dev"})  # still selected: sticky
    fleet.cluster("c4", {"env": "prod"})
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    fleet.commit("pull request")
    result = run(cli, "check", "-f", str(fleet.root), "--base", base)
    assert result.exit_code == 0, result.output
    assert "placement 'app' keeps c2 only because fleet.lock remembers it" in result.output
