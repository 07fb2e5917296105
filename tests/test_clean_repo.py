"""fleetc's own files (render lock, journal, staging) never show in git status."""

from __future__ import annotations

import pytest
from conftest import REPO, run
from fleetc import __version__
from fleetc.shell import scaffold, writer
from gitrepo import demo_fleet


def _status(fleet) -> list[str]:
    return fleet.repo.git.status("--porcelain", "--untracked-files=all").splitlines()


def test_a_render_leaves_only_its_output_in_git_status(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    paths = {line[3:] for line in _status(fleet)}
    assert paths
    assert all(p.startswith("rendered/") or p == "fleet.lock" for p in paths), paths
    assert not (fleet.root / writer.RENDER_LOCK).exists()
    assert (fleet.root / ".git/fleetc/root" / writer.RENDER_LOCK).is_file()
    # The shadow tree (the previous output) is kept in the git directory, not beside rendered/.
    assert not [p for p in fleet.root.iterdir() if p.name.startswith(".fleetc")]
    fleet.commit("rendered")
    assert _status(fleet) == []


class _Killed(BaseException):
    pass


def test_a_render_killed_halfway_shows_nothing_of_fleetc_in_git_status(cli, tmp_path, monkeypatch):
    fleet = demo_fleet(tmp_path)
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    fleet.commit("rendered")
    (fleet.root / "fleet.lock").write_bytes((fleet.root / "fleet.lock").read_bytes() + b"# x\n")
    hub = fleet.root / "hub/app.yaml"
    hub.write_text(hub.read_text().replace("name: settings", "name: settings-2"))
    fleet.commit("changed")
    real_swap = writer._swap

    def die_after_swap(shadow, output):
        real_swap(shadow, output)
        raise _Killed

    with monkeypatch.context() as patch:
        patch.setattr(writer, "_swap", die_after_swap)
        with pytest.raises(_Killed):
            run(cli, "render", "-f", str(fleet.root))
    # The journal, the new fleet.lock waiting to be renamed, the lock file and the shadow
    # are all in the git directory: the render stopped between its two steps, and git sees
    # only the output and fleet.lock.
    scratch = writer.scratch_dir(fleet.root)
    assert (scratch / writer.JOURNAL).exists()
    paths = {line[3:] for line in _status(fleet)}
    assert all(p.startswith("rendered/") or p == "fleet.lock" for p in paths), paths
    result = run(cli, "check", "-f", str(fleet.root))
    assert result.exit_code == 0, result.output
    assert not (scratch / writer.JOURNAL).exists()
    assert all(line[3:].startswith(("rendered/", "fleet.lock")) for line in _status(fleet))


def test_the_journal_lives_in_the_git_directory(tmp_path):
    fleet = demo_fleet(tmp_path / "repo")
    sub = fleet.root / "fleets" / "prod"
    sub.mkdir(parents=True)
    assert writer.scratch_dir(sub) == fleet.root / ".git/fleetc/fleets%2Fprod"
    assert writer.scratch_dir(fleet.root) == fleet.root / ".git/fleetc/root"
    assert writer.scratch_dir(tmp_path / "elsewhere") == tmp_path / "elsewhere"


def test_a_worktree_keeps_its_files_in_its_own_git_directory(cli, tmp_path):
    fleet = demo_fleet(tmp_path / "repo")
    other = tmp_path / "other"
    fleet.repo.git.worktree("add", "--quiet", "-b", "other", str(other))
    assert run(cli, "render", "-f", str(other)).exit_code == 0
    scratch = writer.scratch_dir(other)
    assert scratch.parent.name == "fleetc" and scratch.parents[2].name == "worktrees"
    assert (scratch / writer.RENDER_LOCK).is_file()
    status = fleet.repo.git.execute(
        ["git", "-C", str(other), "status", "--porcelain", "--untracked-files=all"]
    )
    assert all(line[3:].startswith(("rendered/", "fleet.lock")) for line in status.splitlines())


def test_one_version_everywhere(cli):
    result = run(cli, "--version")
    assert result.output == f"fleetc, version {__version__}\n"
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "fleetc.core.version.__version__" }' in pyproject
    assert '\nversion = "' not in pyproject
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert f"\n## {__version__}" in changelog
    workflow = (REPO / "ci/github-actions/fleetc.yaml").read_text()
    assert f"FLEETC: fleetc @ git+{scaffold.SOURCE_REPOSITORY}@v{__version__}\n" in workflow
    assert f"rev: v{__version__}" in scaffold.PRE_COMMIT
