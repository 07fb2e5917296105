"""The cross-run cache in .git/fleetc/: the output is the same bytes with and without it, and a
cache that does not match (edited inputs, edited output, corrupt or foreign entries) is never
trusted."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bootstrap_files import write_bootstrap
from conftest import FleetDir, run
from fleetc import pipeline
from fleetc.cli import DIFF_FORMATS
from fleetc.shell import cache, fanout, writer
from fleetc.views import diff_format
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

FLEET = """\
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: cached
spec:
  placements:
    - name: base
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: base}
      policy:
        placementType: PickAll
    - name: app
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
      policy:
        placementType: PickN
        numberOfClusters: 2
        affinity:
          clusterAffinity:
            preferredDuringSchedulingIgnoredDuringExecution:
              - weight: 10
                preference:
                  labelSelector: {matchLabels: {env: prod}}
"""


def hub(version: int) -> str:
    return (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: base\n---\n"
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: app\n"
        f"data:\n  version: '{version}'\n"
    )


def make(root: Path) -> FleetDir:
    fleet = FleetDir(root)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    fleet.write("fleet.yaml", FLEET)
    fleet.write("hub/app.yaml", hub(1))
    for index, env in enumerate(["prod", "dev", "prod", "dev"]):
        fleet.cluster(f"c{index}", {"env": env})
    return fleet


def tree(root: Path) -> dict[str, bytes]:
    out = root / "rendered"
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    lock = root / "fleet.lock"
    return {**files, "../fleet.lock": lock.read_bytes() if lock.exists() else b""}


def cache_files(root: Path) -> list[Path]:
    folder = writer.scratch_dir(root) / "cache"
    return sorted(folder.glob("compile-*.json")) if folder.is_dir() else []


@pytest.fixture
def no_racy_window(monkeypatch):
    """Files written a moment ago count as verified in the output's manifest (in real use they
    are read again until they are older than the clock tick), so that these tests exercise it."""
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))


EDITS = st.sampled_from(
    [
        "relabel",
        "hub",
        "add-cluster",
        "remove-cluster",
        "drop-lock",
        "edit-output",
        "stray",
        "nothing",
    ]
)
# A hub object no placement selects: a warning, which a compile from the cache shows again.
STRAY = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: stray\n"


def apply(root: Path, edit: str, step: int) -> None:
    fleet = FleetDir(root)
    clusters = sorted((root / "clusters").glob("*.yaml"))
    if edit == "relabel" and clusters:
        path = clusters[step % len(clusters)]
        text = path.read_text()
        swapped = text.replace("env: 'prod'", "env: 'x'").replace("env: 'dev'", "env: 'prod'")
        path.write_text(swapped.replace("env: 'x'", "env: 'dev'"))
    elif edit == "hub":
        fleet.write("hub/app.yaml", hub(step + 2))
    elif edit == "add-cluster":
        fleet.cluster(f"n{step}", {"env": "prod" if step % 2 else "dev"})
    elif edit == "remove-cluster" and len(clusters) > 1:
        clusters[-1].unlink()
    elif edit == "stray":
        stray = root / "hub" / "stray.yaml"
        stray.unlink() if stray.exists() else fleet.write("hub/stray.yaml", STRAY)
    elif edit == "drop-lock":
        (root / "fleet.lock").unlink(missing_ok=True)
    elif edit == "edit-output":
        files = sorted((root / "rendered").rglob("*.yaml")) if (root / "rendered").is_dir() else []
        if files:
            target = files[step % len(files)]
            stat = target.stat()
            target.write_bytes(target.read_bytes().replace(b"a", b"b", 1))
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # hide the edit's mtime


# "prefetched": every output counts as large, so renders look at it in a second process while
# they compile (shell/prefetch.py).
@pytest.mark.parametrize(
    "parallel_min", [fanout.PARALLEL_MIN, 1], ids=["render-looks", "prefetched"]
)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=st.lists(EDITS, min_size=1, max_size=6))
@example(edits=["stray", "hub", "stray"])  # warnings shown from the cache, then gone
def test_output_is_byte_identical_with_and_without_the_cache(
    tmp_path_factory, cli, no_racy_window, monkeypatch, parallel_min, edits
):
    monkeypatch.setattr(fanout, "PARALLEL_MIN", parallel_min)
    base = tmp_path_factory.mktemp("cache")
    cached, fresh = base / "cached", base / "fresh"
    make(cached)
    make(fresh)
    for step, edit in enumerate(["nothing", *edits]):
        for root in (cached, fresh):
            apply(root, edit, step)
        # check first: it may answer from the cache, and must agree with a full compile.
        checked = run(cli, "check", "-f", str(cached))
        expected = run(cli, "check", "-f", str(fresh), "--no-cache")
        assert checked.exit_code == expected.exit_code, (edits, step, checked.output)
        assert diagnostics(checked.output, cached) == diagnostics(expected.output, fresh)
        with_cache = run(cli, "render", "-f", str(cached))
        without = run(cli, "render", "-f", str(fresh), "--no-cache")
        assert with_cache.exit_code == without.exit_code == 0, without.output
        assert diagnostics(with_cache.output, cached) == diagnostics(without.output, fresh)
        assert tree(cached) == tree(fresh), (edits, step)
        again = run(cli, "check", "-f", str(cached))
        assert again.exit_code == 0
        assert diagnostics(again.output, cached) == diagnostics(without.output, fresh)
    assert cache_files(cached) and not cache_files(fresh)


def diagnostics(output: str, root: Path) -> list[str]:
    """The diagnostics and their summary, the fleet's folder left out (diagnostics name files
    relative to the current folder)."""
    lines = output.replace(str(root), "<root>").replace(os.path.relpath(root), "<root>")
    lines = lines.splitlines()
    return [line for line in lines if "warning" in line or "error" in line or "hint:" in line]


def test_a_render_with_nothing_changed_answers_from_the_cache(tmp_path, cli, monkeypatch):
    fleet = make(tmp_path / "repo")
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0  # records the output

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled although nothing changed")

    monkeypatch.setattr("fleetc.shell.compile.compile_fleet", no_compile)
    result = run(cli, "render", "-f", str(fleet.root))
    assert result.exit_code == 0 and "0 file(s) written" in result.output
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0


@pytest.mark.parametrize("style", ["text", "json"])
def test_a_render_with_warnings_answers_from_the_cache_and_shows_them_again(
    tmp_path, cli, monkeypatch, style
):
    fleet = make(tmp_path / "repo")
    fleet.write("hub/stray.yaml", STRAY)
    args = ["-f", str(fleet.root), "--diagnostics-format", style]
    first = run(cli, "render", *args)
    assert first.exit_code == 0 and "stray" in first.output
    assert run(cli, "check", *args).exit_code == 0  # records the output

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled although nothing changed")

    monkeypatch.setattr("fleetc.shell.compile.compile_fleet", no_compile)
    for command in ("render", "check"):
        again = run(cli, command, *args)
        assert again.exit_code == 0, again.output
        assert diagnostics(again.output, fleet.root) == diagnostics(first.output, fleet.root)
    assert "0 file(s) written" in run(cli, "render", *args).output
    monkeypatch.undo()
    strict = run(cli, "check", *args, "--strict")  # another key: compiled, and refused
    assert strict.exit_code == 1 and "stray" in strict.output


def test_a_cached_diagnostic_of_the_wrong_shape_is_a_miss(tmp_path, cli, monkeypatch):
    fleet = make(tmp_path / "repo")
    fleet.write("hub/stray.yaml", STRAY)
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    [entry] = cache_files(fleet.root)
    payload = entry.read_bytes().split(b"\n", 2)[2]
    assert b'"position":["hub/stray.yaml",' in payload
    payload = payload.replace(b'"position":["hub/stray.yaml",', b'"position":[["hub"],')
    entry.write_bytes(cache.MAGIC + cache.digest(payload).encode() + b"\n" + payload)
    compiled = []
    real = pipeline.compile_fleet
    monkeypatch.setattr(
        "fleetc.shell.compile.compile_fleet", lambda *a, **k: compiled.append(1) or real(*a, **k)
    )
    again = run(cli, "render", "-f", str(fleet.root))
    assert again.exit_code == 0 and "stray" in again.output
    assert compiled == [1]


def test_an_output_file_edited_in_place_is_stale_even_with_its_times_restored(
    tmp_path, cli, no_racy_window
):
    fleet = make(tmp_path / "repo")
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0
    target = fleet.root / "rendered" / "c0" / "_cluster" / "namespace_base.yaml"
    info = target.stat()
    with open(target, "r+b") as handle:  # same inode, same size
        data = handle.read()
        handle.seek(0)
        handle.write(data.replace(b"base", b"bass", 1))
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    result = run(cli, "check", "-f", str(fleet.root))
    assert result.exit_code == 1 and "stale:   c0/_cluster/namespace_base.yaml" in result.output


def corrupt_variants(entry: bytes) -> list[bytes]:
    return [
        entry[: len(entry) // 2],  # truncated
        b"",
        b"garbage\n",
        entry.replace(b'"objects":', b'"objects":1', 1),  # payload no longer matches digest
        b"fleetc-cache 1\n" + b"0" * 64 + b"\n{}",
    ]


def test_a_corrupt_or_truncated_cache_is_ignored_and_rebuilt(tmp_path, cli):
    fleet = make(tmp_path / "repo")
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    (entry,) = cache_files(fleet.root)
    good = entry.read_bytes()
    for variant in corrupt_variants(good):
        fleet.write("hub/app.yaml", hub(7))  # the output is now stale
        entry.write_bytes(variant)
        result = run(cli, "check", "-f", str(fleet.root))
        assert result.exit_code == 1 and "stale:" in result.output
        assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
        assert entry.read_bytes().startswith(b"fleetc-cache 1\n")
        fleet.write("hub/app.yaml", hub(1))
        assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0


def test_an_entry_altered_after_it_was_written_is_not_trusted(tmp_path, cli):
    """An entry whose record is made to match new inputs, without its digest line: trusting
    it would call the stale output up to date."""
    fleet = make(tmp_path / "repo")
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0
    (entry,) = cache_files(fleet.root)
    old_hub = hashlib.sha256((fleet.root / "hub" / "app.yaml").read_bytes()).hexdigest()
    fleet.write("hub/app.yaml", hub(9))
    new_hub = hashlib.sha256((fleet.root / "hub" / "app.yaml").read_bytes()).hexdigest()
    altered = entry.read_bytes().replace(old_hub.encode(), new_hub.encode())
    assert altered != entry.read_bytes()
    entry.write_bytes(altered)
    result = run(cli, "check", "-f", str(fleet.root))
    assert result.exit_code == 1 and "stale:" in result.output


def test_a_foreign_cache_entry_is_ignored(tmp_path, cli):
    """An entry copied from another fleet (another root) does not match this fleet's key."""
    one = make(tmp_path / "one")
    two = make(tmp_path / "two")
    two.write("hub/app.yaml", hub(5))
    assert run(cli, "render", "-f", str(one.root)).exit_code == 0
    assert run(cli, "render", "-f", str(two.root)).exit_code == 0
    (mine,) = cache_files(one.root)
    (theirs,) = cache_files(two.root)
    shutil.copy(theirs, mine.parent / theirs.name)
    shutil.copy(theirs, mine)
    one.write("hub/app.yaml", hub(5))  # now the same inputs as 'two', but not rendered
    result = run(cli, "check", "-f", str(one.root))
    assert result.exit_code == 1 and "stale:" in result.output


def test_no_cache_neither_reads_nor_writes_it(tmp_path, cli, monkeypatch):
    fleet = make(tmp_path / "repo")
    assert run(cli, "render", "-f", str(fleet.root), "--no-cache").exit_code == 0
    assert cache_files(fleet.root) == []
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    (entry,) = cache_files(fleet.root)
    before = entry.read_bytes()
    fleet.write("hub/app.yaml", hub(3))
    assert run(cli, "render", "-f", str(fleet.root), "--no-cache").exit_code == 0
    assert entry.read_bytes() == before
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=fleet.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "cache" not in status and "compile-" not in status


def test_extra_files_are_found_and_flux_system_folders_ignored(tmp_path, cli, no_racy_window):
    fleet = make(tmp_path / "repo")
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    write_bootstrap(fleet, "c0")  # a real bootstrap folder (recognised by content)
    # The committed output stays valid for Flux after bootstrap (issue 16): check passes with a
    # note, and the next render lists flux-system in the cluster's kustomization.
    result = run(cli, "check", "-f", str(fleet.root))
    assert result.exit_code == 0 and "note: c0/flux-system/ (flux bootstrap)" in result.output
    before = (fleet.root / "rendered" / "c0" / "kustomization.yaml").read_bytes()
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    assert (fleet.root / "rendered" / "c0" / "kustomization.yaml").read_bytes() != before
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0
    (fleet.root / "rendered" / "c1" / "_cluster" / "extra.yaml").write_text("x\n")
    result = run(cli, "check", "-f", str(fleet.root))
    assert result.exit_code == 1 and "extra:   c1/_cluster/extra.yaml" in result.output


def test_only_the_last_keys_files_are_kept(tmp_path):
    """Each option set, output folder or fleetc version has its own key: the files of all but
    the last ``KEPT_KEYS`` keys written are deleted, the one just written never."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    store = cache.Cache(tmp_path)
    keys = [f"{n:x}" * 64 for n in range(1, 8)]
    for age, key in enumerate(keys):
        store.store_digests(key, {"c1/a.yaml": "d"})
        name = store.folder / f"digests-{key[:32]}.txt"
        os.utime(name, ns=(age * 10**9, age * 10**9))
    store.store_digests(keys[0], {"c1/a.yaml": "d"})  # the oldest, written again: current
    left = sorted(p.name for p in store.folder.iterdir() if p.name.startswith("digests-"))
    expected = [keys[0], *keys[-(cache.KEPT_KEYS - 1) :]]
    assert left == sorted(f"digests-{k[:32]}.txt" for k in expected)


def test_an_output_files_digest_is_computed_once_per_bytes_object(tmp_path, monkeypatch):
    """The comparison and the record of the output both ask; the emit stage shares one bytes
    object between clusters whose file is the same."""
    hashed: list[bytes] = []
    real = cache.digest
    monkeypatch.setattr(cache, "digest", lambda data: hashed.append(data) or real(data))
    store = cache.Cache(tmp_path)
    shared, alike = b"a: 1\n", bytes(b"a: 1\n"[i] for i in range(5))
    assert store.output_digest(shared) == store.output_digest(shared) == real(shared)
    assert store.output_digest(alike) == real(shared)
    assert len(hashed) == 2  # once for each object, the equal copy included


def test_a_command_answered_from_the_cache_does_not_import_the_compiler(tmp_path, cli):
    """A no-op render or check needs the cache, the writer's comparison and the terminal, not
    the stages: importing them costs more than the answer (a tenth of a second and more)."""
    fleet = make(tmp_path / "repo")
    fleet.write("hub/stray.yaml", STRAY)  # a warning, shown again from the cache
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0  # records the output
    script = (
        "import sys\n"
        "from fleetc.cli import main\n"
        "try:\n"
        "    main([sys.argv[1], '-f', sys.argv[2]])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = ('fleetc.pipeline', 'fleetc.stages.schedule', 'jinja2', 'jsonschema', 'git')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    for command in ("render", "check"):
        done = subprocess.run(
            [sys.executable, "-c", script, command, str(fleet.root)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "stray" in done.stderr
        assert done.stdout.splitlines()[-1] == "[]", (command, done.stdout)


def test_the_diff_formats_the_cli_names_are_the_views():
    assert tuple(sorted(diff_format.FORMATS)) == DIFF_FORMATS
