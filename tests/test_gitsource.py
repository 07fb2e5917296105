"""Loading from a commit reads what the working tree would, with the same path-safety rules."""

from __future__ import annotations

import os

import pytest
from fleetc.core.diagnostics import Diagnostics
from fleetc.pipeline import compile_fleet
from fleetc.shell.gitsource import GitSource, load_commit
from fleetc.shell.load import load
from gitrepo import demo_fleet


def _load(fleet, where: str):
    diags = Diagnostics()
    if where == "worktree":
        inputs = load(fleet.root / "fleet.yaml", diags)
    else:
        fleet.commit("snapshot")
        inputs = load_commit(fleet.repo.head.commit, "", fleet.root, diags)
    return inputs, diags


def _errors(diags: Diagnostics) -> list[str]:
    return [d.format() for d in diags.errors]


BOTH = pytest.mark.parametrize("where", ["worktree", "commit"])


def test_a_commit_loads_exactly_like_the_working_tree(tmp_path):
    fleet = demo_fleet(tmp_path)
    worktree, _ = _load(fleet, "worktree")
    committed, _ = _load(fleet, "commit")
    for field in ("inventory", "hub"):
        got = [(d.file, d.data, d.positions) for d in getattr(committed, field)]
        want = [(d.file, d.data, d.positions) for d in getattr(worktree, field)]
        assert got == want
    assert compile_fleet(committed).files == compile_fleet(worktree).files


@BOTH
def test_links_inside_the_fleet_are_followed(tmp_path, where):
    fleet = demo_fleet(tmp_path)
    fleet.write("shared/extra.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
    os.symlink("../shared/extra.yaml", fleet.root / "hub/extra.yaml")
    os.symlink("../shared", fleet.root / "hub/linked")
    inputs, diags = _load(fleet, where)
    assert not diags.has_errors, _errors(diags)
    files = sorted({d.file for d in inputs.hub})
    assert files == ["hub/app.yaml", "hub/extra.yaml", "hub/linked/extra.yaml"]


@BOTH
@pytest.mark.parametrize("target", ["../../outside.yaml", "/etc/hostname"])
def test_links_leaving_the_fleet_are_refused(tmp_path, where, target):
    fleet = demo_fleet(tmp_path / "repo")
    (tmp_path / "outside.yaml").write_text("apiVersion: v1\nkind: Namespace\n")
    os.symlink(target, fleet.root / "hub/evil.yaml")
    inputs, diags = _load(fleet, where)
    assert [(d.position.file, d.message) for d in diags.errors] == [
        ("hub/evil.yaml", "symbolic link points outside the repository")
    ]
    assert "hub/evil.yaml" not in {d.file for d in inputs.hub}


@BOTH
@pytest.mark.parametrize("entry", ["../elsewhere/", "/etc/"])
def test_resource_paths_leaving_the_fleet_are_refused(tmp_path, where, entry):
    fleet = demo_fleet(tmp_path)
    path = fleet.root / "fleet.yaml"
    path.write_text(path.read_text().replace("spec:\n", f"spec:\n  resources: [{entry!r}]\n", 1))
    _inputs, diags = _load(fleet, where)
    assert any(f"resource path {entry!r}" in e for e in _errors(diags)), _errors(diags)


@BOTH
def test_a_link_loop_is_not_followed_forever(tmp_path, where):
    fleet = demo_fleet(tmp_path)
    os.symlink("b", fleet.root / "hub/a")
    os.symlink("a", fleet.root / "hub/b")
    inputs, _diags = _load(fleet, where)
    assert [d.file for d in inputs.hub][:1] == ["hub/app.yaml"]


def test_a_fleet_in_a_sub_folder_cannot_read_its_parent(tmp_path):
    fleet = demo_fleet(tmp_path)
    fleet.commit("x")
    source = GitSource(fleet.repo.head.commit, "hub")
    assert source.resolve("app.yaml") == "app.yaml"
    assert source.resolve("../fleet.yaml") is None
    assert source.is_file("app.yaml")
    assert not source.is_file("../fleet.yaml")


def _plant_in_index(fleet, mode: str, sha: str, path: str) -> str:
    fleet.repo.git.update_index("--add", "--cacheinfo", f"{mode},{sha},{path}")
    fleet.repo.git.commit("--quiet", "-m", "planted")
    return fleet.repo.head.commit.hexsha


@pytest.mark.parametrize("where", ["hub/vendor", "fleet.yaml", "clusters/c9.yaml"])
def test_a_gitlink_in_the_base_is_a_diagnostic_not_a_crash(tmp_path, cli, where):
    # Issue 13 (17): a submodule entry made GitPython raise AttributeError in 'fleetc diff'.
    from conftest import run

    fleet = demo_fleet(tmp_path)
    base = fleet.commit("base")
    if where == "fleet.yaml":
        fleet.repo.git.rm("--cached", "--quiet", "fleet.yaml")
    planted = _plant_in_index(fleet, "160000", base, where)
    result = run(cli, "diff", "--base", planted, "-f", str(fleet.root))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    if where == "fleet.yaml":
        # A submodule is no fleet.yaml: the base compiles as an empty fleet (issue 16).
        assert result.exit_code == 0, result.output
        assert "without fleet.yaml: an empty fleet" in result.output


def test_a_very_deep_path_in_the_base_is_no_recursion_error(tmp_path, cli):
    from conftest import run

    fleet = demo_fleet(tmp_path)
    fleet.commit("base")
    blob = fleet.repo.git.execute(
        ["git", "hash-object", "-w", str(fleet.root / "fleet.yaml")]
    ).strip()
    deep = "/".join(["d"] * 1200)
    planted = _plant_in_index(fleet, "100644", blob, f"hub/{deep}/x.yaml")
    source = GitSource(fleet.repo.commit(planted))
    assert source.is_file(f"hub/{deep}/x.yaml")
    result = run(cli, "diff", "--base", planted, "-f", str(fleet.root))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
