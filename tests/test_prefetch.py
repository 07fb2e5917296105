"""A render of a large output looks at the disk in a second process while it compiles
(``shell/prefetch.py``): holding the repository's lock from before the look, with the same
output as a render that looks itself, and falling back to looking itself when the look is not
of the folder it writes or the second process fails.

Large outputs are simulated by lowering ``fanout.PARALLEL_MIN``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, run
from fleetc.shell import cache, fanout, prefetch
from fleetc.shell import compile as compile_shell
from test_cache import apply, make, tree


@pytest.fixture
def large(monkeypatch):
    """Every output counts as large: renders look at it in a second process."""
    monkeypatch.setattr(fanout, "PARALLEL_MIN", 1)
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))  # files written just now count as verified


@pytest.fixture
def results(monkeypatch) -> list[object]:
    """What each render's ``Prefetch.result`` returned."""
    found: list[object] = []
    real = prefetch.Prefetch.result

    def result(self, output):
        found.append(real(self, output))
        return found[-1]

    monkeypatch.setattr(prefetch.Prefetch, "result", result)
    return found


def twins(tmp_path):
    cached, fresh = tmp_path / "cached", tmp_path / "fresh"
    make(cached)
    make(fresh)
    return cached, fresh


def render_both(cli, cached, fresh) -> None:
    assert run(cli, "render", "-f", str(cached)).exit_code == 0
    assert run(cli, "render", "-f", str(fresh), "--no-cache").exit_code == 0
    assert tree(cached) == tree(fresh)


def test_a_render_uses_the_looks_of_the_second_process(tmp_path, cli, large, results):
    cached, fresh = twins(tmp_path)
    render_both(cli, cached, fresh)
    assert results == []  # no earlier compile said where the output is
    for step, edit in enumerate(["relabel", "hub", "edit-output", "add-cluster"]):
        for root in (cached, fresh):
            apply(root, edit, step)
        render_both(cli, cached, fresh)
    assert len(results) == 4 and all(isinstance(r, prefetch.Prefetched) for r in results)
    assert all(r.steady and r.shadow_scan for r in results)


def test_the_lock_is_held_while_the_render_compiles(tmp_path, cli, large, monkeypatch):
    """Nothing else writes the trees the second process looks at before the render writes."""
    cached, _ = twins(tmp_path)
    assert run(cli, "render", "-f", str(cached)).exit_code == 0
    apply(cached, "hub", 1)
    refused: list[subprocess.CompletedProcess] = []
    real = compile_shell.compile_file

    def compile_file(*args, **kwargs):
        command = [sys.executable, "-m", "fleetc", "render", "-f", str(cached)]
        refused.append(subprocess.run(command, capture_output=True, text=True, cwd=REPO))
        return real(*args, **kwargs)

    monkeypatch.setattr(compile_shell, "compile_file", compile_file)
    assert run(cli, "render", "-f", str(cached)).exit_code == 0
    assert refused[0].returncode == 1
    assert "another fleetc render is running" in refused[0].stderr


def test_looks_at_another_folder_are_not_used(tmp_path, cli, large, results):
    cached, fresh = twins(tmp_path)
    render_both(cli, cached, fresh)
    apply(cached, "relabel", 0)
    assert run(cli, "render", "-f", str(cached)).exit_code == 0
    for root in (cached, fresh):
        fleet = root / "fleet.yaml"
        fleet.write_text(fleet.read_text().replace("spec:\n", "spec:\n  output: out\n", 1))
        apply(root, "relabel", 1)
    assert run(cli, "render", "-f", str(cached)).exit_code == 0
    assert run(cli, "render", "-f", str(fresh), "--no-cache").exit_code == 0
    assert results[-1] is None
    out = {p.relative_to(cached / "out"): p.read_bytes() for p in (cached / "out").rglob("*.*")}
    want = {p.relative_to(fresh / "out"): p.read_bytes() for p in (fresh / "out").rglob("*.*")}
    assert out == want and out


def test_a_failing_second_process_leaves_the_looking_to_the_render(
    tmp_path, cli, large, results, monkeypatch
):
    cached, fresh = twins(tmp_path)
    render_both(cli, cached, fresh)

    def look(*args):
        raise PermissionError(13, "Permission denied", "rendered/c0")

    monkeypatch.setattr(prefetch, "_look", look)
    for step, edit in enumerate(["relabel", "edit-output"]):
        for root in (cached, fresh):
            apply(root, edit, step)
        render_both(cli, cached, fresh)
    assert results == [None, None]


def test_a_small_output_is_looked_at_by_the_render_itself(tmp_path, cli, results):
    cached, fresh = twins(tmp_path)
    render_both(cli, cached, fresh)
    apply(cached, "hub", 1)
    apply(fresh, "hub", 1)
    render_both(cli, cached, fresh)
    assert results == []


def test_without_a_second_process_the_render_looks_itself(tmp_path, cli, large, monkeypatch):
    """A fork that fails leaves no lock behind: the render takes it at the write."""
    cached, fresh = twins(tmp_path)
    render_both(cli, cached, fresh)

    def no_fork(*args):
        raise BlockingIOError(11, "Resource temporarily unavailable")  # as os.fork may

    monkeypatch.setattr(prefetch, "Prefetch", no_fork)
    for step, edit in enumerate(["relabel", "hub"]):
        for root in (cached, fresh):
            apply(root, edit, step)
        render_both(cli, cached, fresh)
