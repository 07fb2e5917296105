"""Never lose or corrupt output: kills at any moment, concurrent renders, failing disks.

After any interruption ``rendered/`` alone is entirely old or entirely new, and once the next
fleetc command has run (``writer.recover``), ``rendered/`` and ``fleet.lock`` together are.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import git
import pytest
from conftest import REPO, FleetDir, run
from fleetc.core.diagnostics import Diagnostics
from fleetc.pipeline import compile_fleet
from fleetc.shell import writer
from fleetc.shell.load import load

FLEET = """\
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: big
spec:
  placements:
    - name: app
      resourceSelectors:
        - group: ""
          version: v1
          kind: Namespace
          name: app
      policy:
        placementType: PickAll
"""


def make_fleet(root: Path, clusters: int, configmaps: int) -> None:
    fleet = FleetDir(root)
    fleet.write("fleet.yaml", FLEET)
    for index in range(clusters):
        fleet.cluster(f"c{index:04d}")
    set_version(root, "A", configmaps)


def set_version(root: Path, version: str, configmaps: int | None = None) -> None:
    """Every object's content depends on ``version``, so every output file changes with it."""
    hub = root / "hub" / "app.yaml"
    if configmaps is None:
        hub.write_text(re.sub(r"version: \w", f"version: {version}", hub.read_text()))
        return
    text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n"
    for index in range(configmaps):
        text += (
            f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{index}\n"
            f"  namespace: app\ndata:\n  version: {version}\n"
        )
    hub.parent.mkdir(parents=True, exist_ok=True)
    hub.write_text(text, encoding="utf-8")


def compiled(root: Path):
    diags = Diagnostics()
    result = compile_fleet(load(root / "fleet.yaml", diags))
    assert result.ok and not diags.has_errors
    return result


def snapshot(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".fleetc-staging-"))


def lock_before(lock: bytes, note: str) -> bytes:
    """A valid lock whose bytes differ from what the render writes."""
    return lock + f"# {note}\n".encode()


# -- a kill after every single file-system operation (in-process, exhaustive) ---------------


class Killed(BaseException):
    """Stands in for SIGKILL: no ``except`` or cleanup in the writer catches it."""


class KillSwitch:
    """Counts the writer's file-system operations and 'kills' the render after the n-th."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, after: int) -> None:
        self.after = after
        self.count = 0
        for owner, name in (
            (os, "rename"),
            (os, "replace"),
            (os, "link"),
            (os, "mkdir"),
            (os, "unlink"),
            (os, "rmdir"),
            (Path, "write_bytes"),
            (Path, "write_text"),
            (Path, "mkdir"),  # Python 3.10's Path calls its own bound os functions
            (Path, "unlink"),
            (writer, "_exchange"),
        ):
            monkeypatch.setattr(owner, name, self.wrap(getattr(owner, name)))

    def wrap(self, func):
        def operation(*args, **kwargs):
            result = func(*args, **kwargs)
            self.count += 1
            if self.count == self.after:
                raise Killed
            return result

        return operation


def kill_after_each_operation(
    monkeypatch: pytest.MonkeyPatch, root: Path, old, new, switch: type[KillSwitch] = KillSwitch
) -> None:
    """Render ``new`` over ``old`` (committed in ``root/rendered``), killed after the 1st,
    2nd, ... operation until one render finishes; after each kill ``rendered/`` alone is old
    or new, and after recovery ``rendered/`` and ``fleet.lock`` together are."""
    output, lock_path = root / "rendered", root / "fleet.lock"
    old_lock = lock_before(old.lock, "old")
    outcomes = set()
    for after in range(1, 1000):
        lock_path.write_bytes(old_lock)
        with monkeypatch.context() as patch:
            counter = switch(patch, after)
            with contextlib.suppress(Killed):
                writer.commit(root, output, new.files, lock_path, new.lock)
            finished = counter.count < after
        assert snapshot(output) in (old.files, new.files)
        writer.recover(root)
        state = (snapshot(output), lock_path.read_bytes())
        assert state in ((old.files, old_lock), (new.files, new.lock)), f"killed after op {after}"
        outcomes.add("new" if state[0] == new.files else "old")
        writer.commit(root, output, old.files, lock_path, old.lock)
        assert snapshot(output) == old.files and leftovers(root) == []
        if finished:
            break
    assert outcomes == {"old", "new"} and after > 10


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "three-renames"])
def test_a_kill_after_any_operation_leaves_old_or_new(tmp_path, monkeypatch, exchange):
    root = tmp_path / "repo"
    make_fleet(root, clusters=2, configmaps=2)
    output, lock_path = root / "rendered", root / "fleet.lock"
    old = compiled(root)
    writer.commit(root, output, old.files, lock_path, old.lock)
    old_lock = lock_before(old.lock, "old")
    set_version(root, "B")
    new = compiled(root)
    assert new.files != old.files
    if not exchange:
        monkeypatch.setattr(writer, "_exchange", lambda a, b: False)
    outcomes = set()
    for after in range(1, 1000):
        lock_path.write_bytes(old_lock)
        with monkeypatch.context() as patch:
            switch = KillSwitch(patch, after)
            with contextlib.suppress(Killed):
                writer.commit(root, output, new.files, lock_path, new.lock)
            finished = switch.count < after
        # Without recovery, rendered/ alone is old or new (the three-rename fallback may leave
        # it missing for an instant; recovery puts it back).
        assert snapshot(output) in (old.files, new.files) or (not exchange and not output.exists())
        writer.recover(root)
        state = (snapshot(output), lock_path.read_bytes())
        assert state in ((old.files, old_lock), (new.files, new.lock)), f"killed after op {after}"
        assert not (root / writer.JOURNAL).exists()
        outcomes.add("new" if state[0] == new.files else "old")
        # Back to the old state for the next round.
        writer.commit(root, output, old.files, lock_path, old.lock)
        assert leftovers(root) == []
        if finished:
            break
    assert outcomes == {"old", "new"} and after > 10


# -- real SIGKILLs at random moments (subprocesses) ----------------------------------------


def test_sigkill_at_random_moments_leaves_old_or_new(tmp_path):
    root = tmp_path / "repo"
    make_fleet(root, clusters=100, configmaps=4)
    output, lock_path = root / "rendered", root / "fleet.lock"
    trees = {"A": compiled(root).files}
    set_version(root, "B")
    trees["B"] = compiled(root).files
    lock = compiled(root).lock
    set_version(root, "A")
    command = [sys.executable, "-m", "fleetc", "render", "-f", str(root)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, env=env)
    duration = time.monotonic() - start
    current = "A"
    rng = random.Random(8)
    killed = 0
    for attempt in range(10):
        target = "B" if current == "A" else "A"
        set_version(root, target)
        old_lock = lock_before(lock, f"attempt {attempt}")
        lock_path.write_bytes(old_lock)
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        try:
            proc.wait(timeout=rng.uniform(0.3, 1.2) * duration)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        killed += proc.wait() == -signal.SIGKILL
        tree = snapshot(output)
        assert tree in (trees[current], trees[target]), f"attempt {attempt}: mixed rendered/"
        writer.recover(root)
        state = (snapshot(output), lock_path.read_bytes())
        if state == (trees[target], lock):
            current = target
        else:
            assert state == (trees[current], old_lock), f"attempt {attempt}: lock does not match"
    assert killed, "no render was killed: the test did not test anything"


# -- concurrent renders, failing disks, leftovers --------------------------------------------


def test_a_second_render_is_refused_while_one_holds_the_lock(tmp_path, cli):
    root = tmp_path / "repo"
    make_fleet(root, clusters=2, configmaps=1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from fleetc.shell import writer\n"
            "with writer.repository_lock(Path(sys.argv[1])):\n"
            "    print('locked', flush=True); sys.stdin.read()\n",
            str(root),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        refused = run(cli, "render", "-f", str(root))
        assert refused.exit_code == 1
        assert "another fleetc render is running in this repository" in refused.output
        assert not (root / "rendered").exists() and not (root / "fleet.lock").exists()
    finally:
        holder.communicate("")
    assert run(cli, "render", "-f", str(root)).exit_code == 0


@pytest.mark.parametrize("failing_write", [1, 3, 5])
def test_disk_full_while_staging_keeps_the_old_output(tmp_path, monkeypatch, cli, failing_write):
    root = tmp_path / "repo"
    make_fleet(root, clusters=2, configmaps=2)
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    before = snapshot(root / "rendered"), (root / "fleet.lock").read_bytes()
    set_version(root, "B")
    calls = []
    real = Path.write_bytes

    def write_bytes(self, data):
        calls.append(self)
        if len(calls) == failing_write:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    result = run(cli, "render", "-f", str(root))
    assert result.exit_code == 1
    assert "failed: No space left on device" in result.output
    assert "the previous output is intact" in result.output
    assert (snapshot(root / "rendered"), (root / "fleet.lock").read_bytes()) == before
    assert leftovers(root) == [] and not (root / writer.JOURNAL).exists()


def test_a_failing_lock_rename_after_the_swap_puts_the_old_tree_back(tmp_path, monkeypatch, cli):
    root = tmp_path / "repo"
    make_fleet(root, clusters=2, configmaps=2)
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    (root / "fleet.lock").write_bytes(lock_before((root / "fleet.lock").read_bytes(), "old"))
    before = snapshot(root / "rendered"), (root / "fleet.lock").read_bytes()
    set_version(root, "B")
    real = os.replace

    def replace(src, dst, **kwargs):
        if Path(dst).name == "fleet.lock":
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(dst))
        return real(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    result = run(cli, "render", "-f", str(root))
    assert result.exit_code == 1 and "Permission denied" in result.output
    assert (snapshot(root / "rendered"), (root / "fleet.lock").read_bytes()) == before
    assert leftovers(root) == [] and not (root / writer.JOURNAL).exists()


def test_a_read_only_output_parent_is_reported(tmp_path, monkeypatch):
    """Permissions are simulated (tests may run as root, who ignores them)."""
    output = tmp_path / "rendered"
    writer.commit(tmp_path, output, {"c1/a.yaml": b"old\n"})

    def mkdir(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(Path, "mkdir", mkdir)  # Python 3.10's Path does not call os.mkdir
    with pytest.raises(writer.WriteError, match=r"Permission denied .*previous output is intact"):
        writer.commit(tmp_path, output, {"c1/a.yaml": b"new\n"})
    assert snapshot(output) == {"c1/a.yaml": b"old\n"}


def test_leftovers_of_a_killed_render_are_cleaned_up(tmp_path, cli):
    root = tmp_path / "repo"
    make_fleet(root, clusters=1, configmaps=1)
    (root / ".fleetc-staging-rendered-99999" / "c0000").mkdir(parents=True)
    (root / ".fleetc-staging-rendered-99999" / "c0000" / "x.yaml").write_text("x")
    (root / ".fleetc-staging-fleet.lock-99999").write_text("x")
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    assert leftovers(root) == []


def test_a_forged_journal_cannot_make_recovery_touch_other_files(tmp_path, cli):
    root = tmp_path / "repo"
    make_fleet(root, clusters=1, configmaps=1)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    (root / writer.JOURNAL).write_text(
        '{"output": "../victim", "staging": "../victim", "lock": "../victim/keep.txt", '
        '"lock_temp": "hub/app.yaml", "inode": 1, "device": 1}'
    )
    assert run(cli, "validate", "-f", str(root)).exit_code == 0
    assert (victim / "keep.txt").read_text() == "precious"
    assert (root / "hub" / "app.yaml").exists()
    assert not (root / writer.JOURNAL).exists()


def test_any_command_completes_an_interrupted_render_first(tmp_path, monkeypatch, cli):
    root = tmp_path / "repo"
    make_fleet(root, clusters=2, configmaps=1)
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    set_version(root, "B")
    new = compiled(root)
    (root / "fleet.lock").write_bytes(lock_before(new.lock, "old"))

    def die_after_swap(staging, output):
        real_swap(staging, output)  # the swap happens; the process dies before the lock rename
        raise Killed

    real_swap = writer._swap
    with monkeypatch.context() as patch:
        patch.setattr(writer, "_swap", die_after_swap)
        with pytest.raises(Killed):
            writer.commit(root, root / "rendered", new.files, root / "fleet.lock", new.lock)
    assert (root / writer.JOURNAL).exists()
    result = run(cli, "check", "-f", str(root))
    assert "note: completed an interrupted render" in result.output
    assert result.exit_code == 0, result.output
    assert (root / "fleet.lock").read_bytes() == new.lock


def test_a_failing_lock_rename_on_a_first_render_leaves_no_output(tmp_path, monkeypatch, cli):
    root = tmp_path / "repo"
    make_fleet(root, clusters=1, configmaps=1)
    real = os.replace

    def replace(src, dst, **kwargs):
        if Path(dst).name == "fleet.lock":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    result = run(cli, "render", "-f", str(root))
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert not (root / "rendered").exists() and not (root / "fleet.lock").exists()
    assert leftovers(root) == [] and not (root / writer.JOURNAL).exists()


def test_two_renders_started_at_once_do_not_interleave(tmp_path):
    root = tmp_path / "repo"
    make_fleet(root, clusters=60, configmaps=4)
    expected = compiled(root)
    command = [sys.executable, "-m", "fleetc", "render", "-f", str(root)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(2)
    ]
    results = [(*proc.communicate(), proc.returncode) for proc in procs]
    for _out, err, code in results:
        assert code == 0 or (code == 1 and b"another fleetc render is running" in err), err
    assert any(code == 0 for *_, code in results)
    assert snapshot(root / "rendered") == expected.files
    assert (root / "fleet.lock").read_bytes() == expected.lock
    assert leftovers(root) == [] and not (root / writer.JOURNAL).exists()


def test_in_a_git_repository_the_journal_lives_in_git_and_recovery_still_completes(
    tmp_path, monkeypatch, cli
):
    root = tmp_path / "repo"
    make_fleet(root, clusters=2, configmaps=1)
    git.Repo.init(root)
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    set_version(root, "B")
    new = compiled(root)
    (root / "fleet.lock").write_bytes(lock_before(new.lock, "old"))

    def die_after_swap(staging, output):
        real_swap(staging, output)
        raise Killed

    real_swap = writer._swap
    with monkeypatch.context() as patch:
        patch.setattr(writer, "_swap", die_after_swap)
        with pytest.raises(Killed):
            writer.commit(root, root / "rendered", new.files, root / "fleet.lock", new.lock)
    journal = root / ".git/fleetc/root" / writer.JOURNAL
    assert journal.exists() and not (root / writer.JOURNAL).exists()
    result = run(cli, "check", "-f", str(root))
    assert "note: completed an interrupted render" in result.output
    assert result.exit_code == 0, result.output
    assert (root / "fleet.lock").read_bytes() == new.lock
    assert not journal.exists() and leftovers(root) == []
