"""fleetc's own files (render lock, journal, staging) never show in git status."""

from __future__ import annotations

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
    # A staging tree left by a killed render is ignored until the next render removes it.
    (fleet.root / f"{writer.STAGING_PREFIX}rendered-99999/c1").mkdir(parents=True)
    (fleet.root / f"{writer.STAGING_PREFIX}rendered-99999/c1/x.yaml").write_text("x\n")
    assert not [line for line in _status(fleet) if writer.STAGING_PREFIX in line]
    fleet.commit("rendered")
    assert _status(fleet) == []


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
    gitdir = writer.git_dir(other)
    assert gitdir is not None and gitdir.parent.name == "worktrees"
    assert (gitdir / "fleetc/root" / writer.RENDER_LOCK).is_file()
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
