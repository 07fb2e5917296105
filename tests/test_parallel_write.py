"""The writer's fast paths: a second process for large trees (``shell/fanout.py``), digests the
caller vouches for instead of reading live files, and a shadow filled after a first render.

Large trees are simulated by lowering ``fanout.PARALLEL_MIN``; the reference is always the
in-process writer, or simply the files a render asks for.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import bootstrap_files
import pytest
from conftest import REPO
from fleetc.shell import fanout, store, writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_crash_safety import (
    KillSwitch,
    compiled,
    kill_after_each_operation,
    leftovers,
    make_fleet,
    set_version,
    snapshot,
)
from test_incremental_write import counting, git_init


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}


def vouching(files: dict[str, bytes]) -> writer.Known:
    """``known`` from the digests of ``files`` (what a manifest would record)."""
    recorded = digests(files)

    def known(rel: str, data: bytes) -> bool | None:
        digest = recorded.get(rel)
        return None if digest is None else hashlib.sha256(data).hexdigest() == digest

    return known


def shadow_links_live(root: Path, output: Path) -> bool:
    """Every live file is linked from the shadow (same inode), and the shadow has nothing
    else: the next render writes only what it changes."""
    shadow = writer.shadow_path(root, output)
    live = {rel: os.lstat(output / rel).st_ino for rel in snapshot(output)}
    mirror = {rel: os.lstat(shadow / rel).st_ino for rel in snapshot(shadow)}
    return live == mirror


# -- the second process gives the same trees --------------------------------------------------

names = st.sampled_from(["a.yaml", "b.yaml", "x/c.yaml", "x/y/d.yaml", "e.yaml"])
trees = st.dictionaries(
    st.tuples(st.sampled_from(["c1", "c2", "c3", "c4"]), names).map("/".join),
    st.sampled_from([b"one\n", b"two\n", b"three\n"]),
    max_size=14,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sequence=st.lists(trees, min_size=1, max_size=5), parallel=st.booleans(), vouch=st.booleans()
)
def test_any_sequence_of_renders_writes_exactly_the_files(
    tmp_path_factory, sequence, parallel, vouch
):
    """Whatever each render changes, adds or removes (folders becoming files too), the
    output is exactly the render's files, with one or two processes and with or without
    vouched digests; and the changes reported are those of the in-process reference."""
    root = tmp_path_factory.mktemp("repo")
    git_init(root)
    output = root / "rendered"
    before: dict[str, bytes] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fanout, "PARALLEL_MIN", 1 if parallel else 10**9)
        for files in sequence:
            expected = writer.compare(output, files)
            known = vouching(before) if vouch else None
            changes = writer.commit(root, output, files, known=known)
            assert snapshot(output) == files
            assert (changes.added, changes.changed, changes.removed) == (
                expected.added,
                expected.changed,
                expected.removed,
            )
            assert changes.kept == expected.kept
            before = files


def test_a_first_render_leaves_a_shadow_of_links_so_the_next_writes_only_changes(
    tmp_path, monkeypatch
):
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=6, configmaps=3)
    output = root / "rendered"
    monkeypatch.setattr(fanout, "PARALLEL_MIN", 1)
    first = compiled(root)
    writer.commit(root, output, first.files, root / "fleet.lock", first.lock)
    assert shadow_links_live(root, output)
    hub = root / "hub" / "app.yaml"
    hub.write_text(hub.read_text().replace("name: cm1\n", "name: cm1\n  labels: {x: y}\n", 1))
    result = compiled(root)
    calls: list[str] = []
    with monkeypatch.context() as patch:
        counting(patch, calls)
        patch.setattr(fanout, "PARALLEL_MIN", 10**9)  # in this process, so counted
        changes = writer.commit(root, output, result.files, root / "fleet.lock", result.lock)
    assert len(changes.changed) == 6
    written = sorted(c.split()[0] for c in calls if c.startswith(("write_bytes", "link")))
    assert written == ["write_bytes"] * 7  # the 6 changed files and the lock: no link at all
    assert snapshot(output) == result.files


# -- vouched digests ---------------------------------------------------------------------------


def test_vouched_files_are_compared_by_digest_and_not_read(tmp_path, monkeypatch):
    output = tmp_path / "rendered"
    old = {"c1/a.yaml": b"a\n", "c1/b.yaml": b"b\n", "c2/c.yaml": b"c\n"}
    writer.commit(tmp_path, output, old)
    new = {"c1/a.yaml": b"a\n", "c1/b.yaml": b"B\n", "c2/d.yaml": b"d\n"}
    read: list[str] = []
    real = writer.read_with_inode
    monkeypatch.setattr(writer, "read_with_inode", lambda path: read.append(path) or real(path))
    changes = writer.compare(output, new, known=vouching({"c1/a.yaml": old["c1/a.yaml"]}))
    assert (changes.changed, changes.added, changes.removed) == (
        ["c1/b.yaml"],
        ["c2/d.yaml"],
        ["c2/c.yaml"],
    )
    assert changes.kept == {"c1/a.yaml"}
    assert read == [os.path.join(output, "c1/b.yaml")]  # only the file nobody vouched for


def test_a_vouched_digest_is_believed(tmp_path):
    """The caller's word replaces the read: a wrong answer makes an unchanged file look
    changed (so it is rewritten, which is harmless), which shows it was not read."""
    output = tmp_path / "rendered"
    writer.commit(tmp_path, output, {"c1/a.yaml": b"a\n"})
    changes = writer.compare(output, {"c1/a.yaml": b"a\n"}, known=lambda rel, data: False)
    assert changes.changed == ["c1/a.yaml"]


def test_a_vouched_digest_never_makes_a_link_a_kept_file(tmp_path):
    output = tmp_path / "rendered"
    writer.commit(tmp_path, output, {"c1/a.yaml": b"a\n"})
    (output / "c1" / "a.yaml").unlink()
    (output / "c1" / "a.yaml").symlink_to(tmp_path / "elsewhere")
    changes = writer.compare(output, {"c1/a.yaml": b"a\n"}, known=lambda rel, data: True)
    assert changes.changed == ["c1/a.yaml"]


# -- failures in the second process -----------------------------------------------------------


def big_change(root: Path):
    """A rendered fleet and the render of a change to every file, written in two processes."""
    make_fleet(root, clusters=8, configmaps=2)
    old = compiled(root)
    writer.commit(root, root / "rendered", old.files, root / "fleet.lock", old.lock)
    set_version(root, "B")
    return old, compiled(root)


def in_child(action):
    """A ``fanout._create`` that does ``action(path)`` in the child process, else writes."""
    parent = os.getpid()
    real = fanout._create

    def create(path: str, data: bytes) -> None:
        if os.getpid() != parent:
            action(path)
        real(path, data)

    return create


def test_a_failing_write_in_the_second_process_names_the_output_file(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    old, new = big_change(root)
    monkeypatch.setattr(fanout, "PARALLEL_MIN", 1)

    def disk_full(path: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(fanout, "_create", in_child(disk_full))
    with pytest.raises(writer.WriteError) as failure:
        writer.commit(root, root / "rendered", new.files, root / "fleet.lock", new.lock)
    message = str(failure.value)
    assert f"No space left on device ({root / 'rendered'}/c000" in message
    assert "shadow" not in message and "the previous output is intact" in message
    assert snapshot(root / "rendered") == old.files
    assert (root / "fleet.lock").read_bytes() == old.lock
    monkeypatch.undo()
    writer.commit(root, root / "rendered", new.files, root / "fleet.lock", new.lock)
    assert snapshot(root / "rendered") == new.files


def test_a_killed_second_process_fails_the_render_and_keeps_the_old_output(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    old, new = big_change(root)
    monkeypatch.setattr(fanout, "PARALLEL_MIN", 1)
    monkeypatch.setattr(fanout, "_create", in_child(lambda path: os.kill(os.getpid(), 9)))
    with pytest.raises(writer.WriteError, match=r"killed by signal 9.*previous output is intact"):
        writer.commit(root, root / "rendered", new.files, root / "fleet.lock", new.lock)
    assert snapshot(root / "rendered") == old.files
    assert leftovers(root) == [] and not (root / writer.JOURNAL).exists()
    monkeypatch.undo()
    writer.commit(root, root / "rendered", new.files, root / "fleet.lock", new.lock)
    assert snapshot(root / "rendered") == new.files


def test_a_failing_scan_in_the_second_process_fails_the_render(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    old, new = big_change(root)
    monkeypatch.setattr(fanout, "PARALLEL_MIN", 1)
    parent = os.getpid()
    real = writer.encode_scan

    def encode(shadow: Path) -> bytes:
        if os.getpid() != parent:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(shadow / "c0001"))
        return real(shadow)

    monkeypatch.setattr(writer, "encode_scan", encode)
    with pytest.raises(writer.WriteError, match=r"Permission denied .*previous output is intact"):
        writer.commit(root, root / "rendered", new.files, root / "fleet.lock", new.lock)
    assert snapshot(root / "rendered") == old.files


class ParentKillSwitch(KillSwitch):
    """Counts and kills in this process only; the child (which inherits the patched
    functions) goes through."""

    def wrap(self, func):
        counted = super().wrap(func)
        parent = os.getpid()

        def operation(*args, **kwargs):
            return (counted if os.getpid() == parent else func)(*args, **kwargs)

        return operation


def test_a_kill_after_any_operation_with_two_processes_leaves_old_or_new(tmp_path, monkeypatch):
    """test_crash_safety's exhaustive kill test with the work shared: a kill after each of
    this process's operations (a killed child is tested above)."""
    root = tmp_path / "repo"
    make_fleet(root, clusters=3, configmaps=2)
    monkeypatch.setattr(fanout, "PARALLEL_MIN", 1)
    old = compiled(root)
    writer.commit(root, root / "rendered", old.files, root / "fleet.lock", old.lock)
    set_version(root, "B")
    kill_after_each_operation(monkeypatch, root, old, compiled(root), ParentKillSwitch)


SLOW_RENDER = """
import os, sys, time
from pathlib import Path
from fleetc.shell import fanout, store, writer
fanout.PARALLEL_MIN = 1
parent = os.getpid()
real = fanout._create
def create(path, data):
    if os.getpid() != parent:
        Path(sys.argv[2]).write_text(str(os.getpid()))
    time.sleep(0.05)
    real(path, data)
fanout._create = create
root = Path(sys.argv[1])
files = {f"c{i}/f{j}.yaml": b"x" for i in range(10) for j in range(100)}
writer.commit(root, root / "rendered", files)
"""


def test_the_second_process_dies_with_the_first(tmp_path):
    marker = tmp_path / "child.pid"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", SLOW_RENDER, str(tmp_path), str(marker)]
    render = subprocess.Popen(command, env=env)
    try:
        for _ in range(600):
            if marker.exists() and marker.read_text():
                break
            time.sleep(0.05)
        child = int(marker.read_text())
    finally:
        render.send_signal(signal.SIGKILL)
        render.wait()
    for _ in range(600):
        status = Path(f"/proc/{child}/status")
        if not status.exists() or "\nState:\tZ" in status.read_text():
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the second process outlived the render")
    assert not (tmp_path / "rendered").exists()


def test_flux_system_folders_survive_renders_in_two_processes(tmp_path, monkeypatch):
    """The child's listing of the shadow reports its flux-system/ folders too."""
    root = tmp_path / "repo"
    git_init(root)
    make_fleet(root, clusters=3, configmaps=1)
    monkeypatch.setattr(fanout, "PARALLEL_MIN", 1)
    output = root / "rendered"
    writer.commit(root, output, compiled(root).files)
    flux = output / "c0001" / "flux-system"
    flux.mkdir()
    (flux / "gotk-components.yaml").write_text(bootstrap_files.COMPONENTS)
    (flux / "kustomization.yaml").write_text(bootstrap_files.KUSTOMIZATION)
    sync = bootstrap_files.SYNC.replace("{cluster}", "c0001")
    (flux / "gotk-sync.yaml").write_text(sync)
    for version in "BAB":
        set_version(root, version)
        result = compiled(root)
        writer.commit(root, output, result.files)
        assert (flux / "gotk-sync.yaml").read_text() == sync
        assert {p for p in snapshot(output) if "flux-system" not in p} == set(result.files)
    shadow = writer.shadow_path(root, output)
    assert (shadow / "c0001" / "flux-system" / "gotk-sync.yaml").read_text() == sync
    assert not (shadow / "c0000" / "flux-system").exists()
    shutil.rmtree(flux)
    set_version(root, "A")
    writer.commit(root, output, compiled(root).files)
    set_version(root, "B")
    writer.commit(root, output, compiled(root).files)
    assert not flux.exists()


def test_the_store_passes_vouched_digests_to_the_writer(tmp_path):
    output = tmp_path / "rendered"
    files = {"c1/a.yaml": b"a\n"}
    store.commit(tmp_path, output, files, b"lock\n", {})
    changes = store.commit(tmp_path, output, files, b"lock\n", {}, known=lambda rel, data: False)
    assert changes.changed == ["c1/a.yaml"]  # believed, not read
    assert snapshot(output) == files
