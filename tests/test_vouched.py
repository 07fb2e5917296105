"""render and check compare the output without reading the files the cache's manifest or git's
index vouch for, and still find every stale file."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from conftest import FleetDir, run
from fleetc.shell import cache, writer

FLEET = """\
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: vouched
spec:
  placements:
    - name: app
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
      policy:
        placementType: PickAll
"""


def hub(version: str) -> str:
    return (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: app\n"
        f"data:\n  version: '{version}'\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: app\n"
        "data:\n  version: 'fixed'\n"
    )


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Every output file the writer's comparison reads."""
    seen: list[str] = []

    def counting(real):
        def read(path, *args):
            if "/rendered/" in str(path):
                seen.append(str(path).split("/rendered/", 1)[1])
            return real(path, *args)

        return read

    for name in ("read_regular", "read_with_inode"):
        monkeypatch.setattr(writer, name, counting(getattr(writer, name)))
    return seen


def committed_fleet(root: Path, cli) -> FleetDir:
    fleet = FleetDir(root)
    fleet.write("fleet.yaml", FLEET)
    fleet.write("hub/app.yaml", hub("1"))
    for name in ("c1", "c2", "c3"):
        fleet.cluster(name)
    git(root, "init", "-q", "-b", "main")
    assert run(cli, "render", "-f", str(root), "--no-cache").exit_code == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return fleet


def test_check_in_a_fresh_clone_reads_no_output_file_git_vouches_for(tmp_path, cli, reads):
    committed_fleet(tmp_path / "origin", cli)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin"), str(clone))
    result = run(cli, "check", "-f", str(clone))
    assert result.exit_code == 0, result.output
    assert reads == []


def test_check_in_a_fresh_clone_still_finds_an_edited_file(tmp_path, cli, reads):
    committed_fleet(tmp_path / "origin", cli)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin"), str(clone))
    edited = clone / "rendered" / "c2" / "app" / "configmap_b.yaml"
    edited.write_bytes(edited.read_bytes().replace(b"fixed", b"fixes"))
    result = run(cli, "check", "-f", str(clone))
    assert result.exit_code == 1
    assert "stale:   c2/app/configmap_b.yaml" in result.output
    assert reads == ["c2/app/configmap_b.yaml"]


def test_a_render_after_a_change_reads_no_file_the_manifest_vouches_for(
    tmp_path, cli, reads, monkeypatch
):
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))  # files written just now count as verified
    fleet = committed_fleet(tmp_path, cli)
    assert run(cli, "check", "-f", str(tmp_path)).exit_code == 0  # records the manifest
    fleet.write("hub/app.yaml", hub("2"))
    reads.clear()
    result = run(cli, "render", "-f", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "3 file(s) written" in result.output
    assert reads == []
    assert run(cli, "check", "-f", str(tmp_path), "--no-cache").exit_code == 0


def test_a_render_with_warnings_still_records_what_it_wrote(tmp_path, cli, reads, monkeypatch):
    """A render with warnings records what it wrote: the next render still reads no file the
    manifest vouches for."""
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))
    fleet = committed_fleet(tmp_path, cli)
    fleet.write("hub/stray.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: stray\n")
    fleet.write("hub/app.yaml", hub("2"))  # files git's index no longer vouches for
    first = run(cli, "render", "-f", str(tmp_path))
    assert first.exit_code == 0 and "warning" in first.output
    fleet.write("hub/app.yaml", hub("3"))
    reads.clear()
    second = run(cli, "render", "-f", str(tmp_path))
    assert second.exit_code == 0 and "3 file(s) written" in second.output
    assert reads == []


def test_a_confirmed_file_is_recorded_again_unread_and_a_later_change_still_shows(
    tmp_path, monkeypatch
):
    """The manifest keeps the status ``known`` confirmed a file with (no second lstat); a file
    changed after it was confirmed has another status, so the next run reads it."""
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))
    git(tmp_path, "init", "-q", "-b", "main")
    out = tmp_path / "rendered"
    out.mkdir()
    (out / "a.yaml").write_bytes(b"a: 1\n")
    (out / "b.yaml").write_bytes(b"b: 1\n")
    files = {"a.yaml": cache.digest(b"a: 1\n"), "b.yaml": cache.digest(b"b: 1\n")}
    key = "k" * 64
    first = cache.Cache(tmp_path)
    first.store_digests(key, files)
    first.remember_tree(out, files, time.time_ns())

    second = cache.Cache(tmp_path)
    known = second.known(out, key)
    assert known is not None
    assert known("a.yaml", b"a: 1\n") is True
    statted: list[str] = []
    real_lstat = cache.os.lstat

    def counting(path, *args, **kwargs):
        statted.append(str(path))
        return real_lstat(path, *args, **kwargs)

    (out / "a.yaml").write_bytes(b"a: 22\n")  # changed after it was confirmed
    monkeypatch.setattr(cache.os, "lstat", counting)
    second.remember_tree(out, files, time.time_ns())
    monkeypatch.setattr(cache.os, "lstat", real_lstat)
    assert not any(path.endswith("a.yaml") for path in statted)
    assert any(path.endswith("b.yaml") for path in statted)

    third = cache.Cache(tmp_path).known(out, key)
    assert third is not None
    assert third("a.yaml", b"a: 1\n") is None  # read, not vouched for
    assert third("b.yaml", b"b: 1\n") is True
