"""render writes only what changed, still atomically; its journal and shadow tree stay in the
git directory, and recovery trusts only a journal fleetc wrote in this working tree."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import bootstrap_files
import pytest
from conftest import run
from fleetc.shell import writer
from test_crash_safety import (
    compiled,
    kill_after_each_operation,
    leftovers,
    make_fleet,
    set_version,
    snapshot,
)


def git_init(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)


def counting(monkeypatch, calls: list[str]) -> None:
    """Record every file-system write the writer makes (name of the operation, path)."""
    for owner, name in (
        (os, "rename"),
        (os, "replace"),
        (os, "link"),
        (os, "mkdir"),
        (os, "unlink"),
        (os, "rmdir"),
        (Path, "write_bytes"),
        (Path, "write_text"),
        (Path, "mkdir"),
        (Path, "unlink"),
        (writer, "_exchange"),
    ):
        real = getattr(owner, name)

        def operation(*args, _real=real, _name=name, **kwargs):
            calls.append(f"{_name} {args[0]}")
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, operation)


def render(root: Path):
    result = compiled(root)
    writer.commit(root, root / "rendered", result.files, root / "fleet.lock", result.lock)
    return result


def test_a_render_with_nothing_changed_writes_nothing(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    make_fleet(root, clusters=3, configmaps=2)
    result = render(root)
    calls: list[str] = []
    with monkeypatch.context() as patch:
        counting(patch, calls)
        writer.commit(root, root / "rendered", result.files, root / "fleet.lock", result.lock)
    assert calls == []


def test_a_change_writes_only_the_changed_files(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=20, configmaps=3)
    render(root)
    set_version(root, "B")
    render(root)  # every file changes: the shadow (the old tree) is rewritten once
    hub = root / "hub" / "app.yaml"
    hub.write_text(hub.read_text().replace("name: cm1\n", "name: cm1\n  labels: {x: y}\n", 1))
    render(root)  # cm1 changes in the 20 clusters
    hub.write_text(hub.read_text().replace("name: cm2\n", "name: cm2\n  labels: {x: y}\n", 1))
    result = compiled(root)
    calls: list[str] = []
    with monkeypatch.context() as patch:
        counting(patch, calls)
        changes = writer.commit(
            root, root / "rendered", result.files, root / "fleet.lock", result.lock
        )
    assert len(changes.changed) == 20 and not changes.added and not changes.removed
    written = [c for c in calls if c.startswith(("write_bytes", "link"))]
    # The 20 changed cm2 files, the lock's temporary copy, and 20 links: the shadow (the tree
    # before the last render) catches up with the last render's cm1. The other 40 files are
    # not touched: the shadow already holds them as links to the live files.
    assert sorted(c.split()[0] for c in written) == ["link"] * 20 + ["write_bytes"] * 21
    assert all("configmap_cm1.yaml" in c for c in written if c.startswith("link"))
    assert snapshot(root / "rendered") == result.files
    assert (root / "fleet.lock").read_bytes() == result.lock


def test_the_shadow_and_journal_live_in_the_git_directory(tmp_path):
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=2, configmaps=1)
    render(root)
    set_version(root, "B")
    render(root)
    scratch = root / ".git" / "fleetc" / "root"
    assert [p.name for p in scratch.iterdir() if p.name.startswith("shadow-rendered-")]
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "shadow" not in status and ".fleetc-staging" not in status
    assert not list(root.glob(".fleetc-shadow-*"))


def test_a_kill_after_any_operation_in_a_git_repository_leaves_old_or_new(tmp_path, monkeypatch):
    """The exhaustive kill test of test_crash_safety with the shadow in the git directory."""
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=2, configmaps=2)
    old = render(root)
    set_version(root, "B")
    kill_after_each_operation(monkeypatch, root, old, compiled(root))


def test_a_tampered_shadow_is_not_trusted(tmp_path):
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=2, configmaps=1)
    render(root)
    set_version(root, "B")
    render(root)
    shadow = writer.shadow_path(root, root / "rendered")
    outside = tmp_path / "outside.yaml"
    outside.write_text("outside\n")
    planted = sorted(p for p in shadow.rglob("*.yaml") if p.is_file())
    planted[0].write_text("edited in the shadow\n")  # a hard link: the live file changes too
    planted[1].unlink()
    planted[1].symlink_to(outside)
    set_version(root, "A")
    result = render(root)
    assert snapshot(root / "rendered") == result.files
    assert outside.read_text() == "outside\n"
    set_version(root, "B")
    result = render(root)
    assert snapshot(root / "rendered") == result.files


def write_journal(repo: Path, **fields) -> Path:
    root = repo
    here = os.stat(root)
    new_tree = root / "rendered"
    info = new_tree.stat()
    journal = {
        "version": 2,
        "root": os.path.abspath(root),
        "root_device": here.st_dev,
        "root_inode": here.st_ino,
        "output": "rendered",
        "lock": "fleet.lock",
        "inode": info.st_ino,
        "device": info.st_dev,
        **fields,
    }
    path = writer.scratch_dir(root) / writer.JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(journal))
    return path


@pytest.mark.parametrize(
    "fields",
    [
        {"lock": "../victim/fleet.lock"},
        {"output": "../victim", "lock": "fleet.lock"},
        {"lock": "hub/../../victim/fleet.lock"},
        {"lock": "/tmp/fleet.lock"},
        {"root": "/elsewhere"},
        {"root_inode": 1},
        {"version": 1},
    ],
    ids=["lock-climbs", "output-climbs", "lock-climbs-inside", "absolute", "root", "inode", "v1"],
)
def test_a_journal_fleetc_did_not_write_here_is_never_replayed(tmp_path, cli, fields):
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=1, configmaps=1)
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "fleet.lock").write_text("precious")
    (victim / ".fleetc-staging-fleet.lock").write_text("planted")
    lock = (root / "fleet.lock").read_bytes()
    (root / ".fleetc-staging-fleet.lock").write_text("planted")
    journal = write_journal(root, **fields)
    result = run(cli, "validate", "-f", str(root))
    assert result.exit_code == 0 and "interrupted render" not in result.output
    assert (victim / "fleet.lock").read_text() == "precious"
    assert (root / "fleet.lock").read_bytes() == lock
    assert not journal.exists()


def test_the_same_journal_written_by_fleetc_is_replayed(tmp_path, cli):
    """The control for the test above: the fields it forges are what makes it refuse."""
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=1, configmaps=1)
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    # In a git repository the new lock waits in the git directory (never in git status).
    lock_temp = writer._lock_temp(root, root / "fleet.lock")
    assert lock_temp.parent == writer.scratch_dir(root)
    lock_temp.write_text("completed\n")
    write_journal(root)
    result = run(cli, "validate", "-f", str(root))
    assert "note: completed an interrupted render" in result.output
    assert (root / "fleet.lock").read_text() == "completed\n"


def test_a_journal_committed_in_the_tree_is_never_replayed(tmp_path, cli):
    """A pull request can add files to the working tree, never to the git directory."""
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=1, configmaps=1)
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    lock = (root / "fleet.lock").read_bytes()
    journal = write_journal(root)
    (root / writer.JOURNAL).write_bytes(journal.read_bytes())  # as a pull request would add it
    journal.unlink()
    (root / ".fleetc-staging-fleet.lock").write_text("planted by the pull request\n")
    result = run(cli, "check", "-f", str(root))
    assert "interrupted render" not in result.output
    assert (root / "fleet.lock").read_bytes() == lock


def test_a_disk_full_in_the_shadow_names_the_output_file_and_leaves_nothing(
    tmp_path, monkeypatch, cli
):
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=2, configmaps=2)
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    before = snapshot(root / "rendered"), (root / "fleet.lock").read_bytes()
    set_version(root, "B")
    real = Path.write_bytes

    def write_bytes(self, data):
        if self.name.endswith(".yaml"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    result = run(cli, "render", "-f", str(root))
    assert result.exit_code == 1
    assert f"No space left on device ({root / 'rendered'}/c000" in result.output
    assert "shadow-rendered" not in result.output and "fleetc-staging" not in result.output
    assert (snapshot(root / "rendered"), (root / "fleet.lock").read_bytes()) == before
    # The render lock file stays (it is the repository's, not the failed render's).
    left = [p.name for p in writer.scratch_dir(root).glob(".fleetc-*")]
    assert leftovers(root) == [] and left in ([], [writer.RENDER_LOCK])


def test_a_read_only_lock_folder_names_fleet_lock_and_leaves_nothing(tmp_path, monkeypatch, cli):
    root = tmp_path / "repo"
    make_fleet(root, clusters=2, configmaps=1)
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    before = snapshot(root / "rendered"), (root / "fleet.lock").read_bytes()
    set_version(root, "B")
    real = Path.write_bytes

    def write_bytes(self, data):
        if self.name.startswith(".fleetc-staging-fleet.lock"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    result = run(cli, "render", "-f", str(root))
    assert result.exit_code == 1
    assert f"Permission denied ({root / 'fleet.lock'})" in result.output
    assert (snapshot(root / "rendered"), (root / "fleet.lock").read_bytes()) == before
    assert leftovers(root) == []


def test_flux_system_folders_survive_incremental_renders(tmp_path):
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=2, configmaps=1)
    render(root)
    flux = root / "rendered" / "c0000" / "flux-system"
    flux.mkdir()
    # A real bootstrap folder (shell/bootstrap.py recognises it by content).
    (flux / "gotk-components.yaml").write_text(bootstrap_files.COMPONENTS)
    (flux / "kustomization.yaml").write_text(bootstrap_files.KUSTOMIZATION)
    sync = bootstrap_files.SYNC.replace("{cluster}", "c0000")
    (flux / "gotk-sync.yaml").write_text(sync)
    for version in "BABA":
        set_version(root, version)
        render(root)
        assert (flux / "gotk-sync.yaml").read_text() == sync
    (flux / "gotk-sync.yaml").write_text(sync.replace("10m0s", "5m0s"))
    set_version(root, "B")
    render(root)
    assert (flux / "gotk-sync.yaml").read_text() == sync.replace("10m0s", "5m0s")
    assert not (root / "rendered" / "c0001" / "flux-system").exists()
