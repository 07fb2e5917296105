"""The writer lists only the output folders the cache's manifest cannot vouch for, and the
listing is the same as listing every folder, whatever was done to the tree since."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from conftest import FleetDir, run
from fleetc.shell import cache, fanout, writer
from hypothesis import given, settings
from hypothesis import strategies as st
from test_vouched import FLEET  # the same fleet: one PickAll Namespace

PAST_NS = 946_684_800 * 10**9  # 2000-01-01: before any edit a test makes


def backdate(folder: Path) -> None:
    """Every entry's mtime far in the past, so that any later edit shows in a status even
    within one tick of the file system's clock (its ctime moves to now, for every entry)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), ns=(PAST_NS, PAST_NS), follow_symlinks=False)
    os.utime(folder, ns=(PAST_NS, PAST_NS))


def recorded_tree(root: Path, files: dict[str, bytes]) -> tuple[Path, str]:
    """``files`` written into ``root/rendered`` and recorded by the cache as a compile's
    output (digests and manifest); returns the output folder and the compile's key."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    output = root / "rendered"
    writer.commit(root, output, files)
    backdate(output)
    digests = {rel: cache.digest(data) for rel, data in files.items()}
    key = "k" * 64
    recorder = cache.Cache(root)
    recorder.store_digests(key, digests)
    recorder.remember_tree(output, digests, started_ns=time.time_ns() + 2 * cache.RACY_NS)
    return output, key


TREE = {
    f"c{c}/{folder}/{kind}_{n}.yaml": f"{c}{folder}{kind}{n}\n".encode()
    for c in range(3)
    for folder in ("_cluster", "app", "app/bundle")
    for kind, n in (("configmap", 1), ("secret", 2))
} | {f"c{c}/kustomization.yaml": b"resources: []\n" for c in range(3)}


def _folders(output: Path) -> list[Path]:
    return sorted(Path(d) for d, _, _ in os.walk(output))


def _files(output: Path) -> list[Path]:
    return sorted(Path(d) / f for d, _, fs in os.walk(output) for f in fs)


# Edits a pull request, a person or another tool could make to the output between two runs;
# each takes the output folder and an index choosing what it edits.
def add_file(output: Path, i: int) -> None:
    folders = _folders(output)
    (folders[i % len(folders)] / f"new{i}.yaml").write_bytes(b"new\n")


def remove_file(output: Path, i: int) -> None:
    files = _files(output)
    if files:
        files[i % len(files)].unlink()


def rewrite_file(output: Path, i: int) -> None:
    files = _files(output)
    if files:
        files[i % len(files)].write_bytes(b"rewritten in place\n")


def file_to_link(output: Path, i: int) -> None:
    files = _files(output)
    if files:
        target = files[i % len(files)]
        target.unlink()
        target.symlink_to("/etc/hostname")


def add_folder(output: Path, i: int) -> None:
    folders = _folders(output)
    made = folders[i % len(folders)] / f"more{i}"
    made.mkdir(exist_ok=True)
    (made / "x.yaml").write_bytes(b"x\n")


def remove_folder(output: Path, i: int) -> None:
    folders = _folders(output)[1:]
    if folders:
        for path in sorted(folders[i % len(folders)].rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        folders[i % len(folders)].rmdir()


def folder_to_link(output: Path, i: int) -> None:
    folders = _folders(output)[1:]
    if folders:
        target = folders[i % len(folders)]
        target.rename(target.with_name(target.name + ".moved"))
        target.symlink_to(target.with_name(target.name + ".moved"))


def bootstrap(output: Path, i: int) -> None:
    clusters = sorted(p for p in output.iterdir() if p.is_dir() and not p.is_symlink())
    if clusters:
        flux = clusters[i % len(clusters)] / "flux-system"
        flux.mkdir(exist_ok=True)
        (flux / "gotk-sync.yaml").write_bytes(b"sync\n")


EDITS = [
    add_file,
    remove_file,
    rewrite_file,
    file_to_link,
    add_folder,
    remove_folder,
    folder_to_link,
    bootstrap,
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 60)), max_size=4))
def test_the_vouched_listing_is_the_full_listing_after_any_edits(edits):
    with tempfile.TemporaryDirectory() as tmp:
        output, key = recorded_tree(Path(tmp), TREE)
        for edit, index in edits:
            edit(output, index)
        vouched = cache.Cache(Path(tmp)).listing(output, key)
        assert vouched is not None
        assert vouched == writer.listing(output)


def test_a_bootstrapped_cluster_is_found_in_a_folder_that_is_not_listed(tmp_path, monkeypatch):
    output, key = recorded_tree(tmp_path, TREE)
    flux = output / "c1" / "flux-system"
    flux.mkdir()
    (flux / "gotk-sync.yaml").write_bytes(b"sync\n")
    backdate(output)  # c1's status as it is now, recorded again below
    digests = {rel: cache.digest(data) for rel, data in TREE.items()}
    cache.Cache(tmp_path).remember_tree(
        output, digests, started_ns=time.time_ns() + 2 * cache.RACY_NS
    )
    listed = spy_on_scandir(monkeypatch)
    vouched = cache.Cache(tmp_path).listing(output, key)
    assert vouched is not None and vouched.bootstrapped == {"c1"}
    assert listed == []
    assert vouched == writer.listing(output)


def spy_on_scandir(monkeypatch) -> list[str]:
    """The folders listed from now on."""
    listed: list[str] = []
    real = os.scandir

    def scandir(path="."):
        listed.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return listed


def test_only_the_folders_whose_status_changed_are_listed(tmp_path, monkeypatch):
    output, key = recorded_tree(tmp_path, TREE)
    (output / "c2" / "app" / "new.yaml").write_bytes(b"new\n")
    (output / "c0" / "app" / "configmap_1.yaml").write_bytes(b"edited in place\n")
    listed = spy_on_scandir(monkeypatch)
    vouched = cache.Cache(tmp_path).listing(output, key)
    assert listed == [os.fspath(output / "c2" / "app")]
    assert vouched is not None and "c2/app/new.yaml" in vouched.entries
    assert vouched == writer.listing(output)


def test_without_a_manifest_there_is_no_vouched_listing(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    writer.commit(tmp_path, tmp_path / "rendered", TREE)
    assert cache.Cache(tmp_path).listing(tmp_path / "rendered", "k" * 64) is None


def test_a_render_finds_a_file_added_to_an_output_folder_it_did_not_list(
    tmp_path, cli, monkeypatch
):
    """End to end: a stray file in one cluster's folder is removed, the others not listed."""
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))
    fleet = FleetDir(tmp_path)
    fleet.write("fleet.yaml", FLEET)
    fleet.write("hub/app.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n")
    for name in ("c1", "c2", "c3"):
        fleet.cluster(name)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert run(cli, "render", "-f", str(tmp_path)).exit_code == 0
    output = tmp_path / "rendered"
    backdate(output)
    assert run(cli, "check", "-f", str(tmp_path)).exit_code == 0  # records the manifest
    (output / "c2" / "stray.yaml").write_bytes(b"kind: Stray\n")
    fleet.write(
        "hub/app.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n  labels: {a: b}\n",
    )
    listed: list[str] = []
    real_scan = writer._scan

    def scan(*args, **kwargs):  # the writer's walks (the load lists the output too)
        with monkeypatch.context() as patch:
            seen = spy_on_scandir(patch)
            try:
                return real_scan(*args, **kwargs)
            finally:
                listed.extend(p for p in seen if p.startswith(os.fspath(output)))

    monkeypatch.setattr(writer, "_scan", scan)
    result = run(cli, "render", "-f", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "1 removed" in result.output
    assert not (output / "c2" / "stray.yaml").exists()
    assert listed == [os.fspath(output / "c2")]


def test_the_manifest_is_the_same_written_by_one_process_or_two(tmp_path, monkeypatch):
    """A large tree's statuses are ``lstat``-ed half by a second process: the same manifest,
    line for line, files that are not recorded (changed too recently, a link, missing)
    included."""
    output, _key = recorded_tree(tmp_path, TREE)
    digests = {rel: cache.digest(data) for rel, data in TREE.items()}
    os.utime(output / "c1" / "app" / "configmap_1.yaml", ns=(PAST_NS, 2 * 10**18))  # racy
    (output / "c2" / "app" / "secret_2.yaml").unlink()
    (output / "c2" / "app" / "secret_2.yaml").symlink_to("/etc/hostname")
    (output / "c0" / "_cluster" / "configmap_1.yaml").unlink()
    manifests = []
    for parallel_min in (10**9, 1):
        monkeypatch.setattr(fanout, "PARALLEL_MIN", parallel_min)
        recorder = cache.Cache(tmp_path)
        recorder.remember_tree(output, digests, started_ns=time.time_ns() + 2 * cache.RACY_NS)
        manifests.append((recorder.folder / recorder._manifest_name(output)).read_bytes())
    assert manifests[0] == manifests[1]
    _magic, _digest, _header, *lines = manifests[0].decode().split("\n")
    assert "F\0c1/app/configmap_1.yaml" in lines and "F\0c2/app/secret_2.yaml" in lines
    assert "F\0c0/_cluster/configmap_1.yaml" in lines
    recorded = [line for line in lines if line.count("\0") > 1]
    assert len(recorded) == len(lines) - 3  # every other folder and file has its status
