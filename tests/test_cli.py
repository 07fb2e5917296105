"""The command line: fleetc-style diagnostics, exit codes, help a newcomer can follow."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO, run
from fleetc.cli import main


@pytest.fixture
def broken(fleet_dir):
    fleet_dir.write(
        "fleet.yaml",
        """
        apiVersion: fleetc.io/v1alpha1
        kind: Fleet
        metadata:
          name: demo
        spec:
          placements:
            - name: web
              resourceSelectors:
                - {group: "", version: v1, kind: Namespace, name: web}
              policy:
                placementType: PickFixed
                clusterNames: [east-1, esat-2]
        """,
    )
    fleet_dir.write(
        "hub/web.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n  labels: {a: 1}\n",
    )
    fleet_dir.cluster("east-1")
    fleet_dir.cluster("east-2")
    return fleet_dir


def test_validate_prints_every_problem_compiler_style(cli, broken):
    result = run(cli, "validate", "-f", str(broken.root))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert (
        "fleet.yaml:12:32: error: placement 'web' names cluster 'esat-2', which is not in the inventory "
        "[at spec.placements[0].policy.clusterNames[1]]"
    ) in lines
    assert "  hint: did you mean 'east-2'?" in lines
    assert any(
        line.startswith("hub/web.yaml:5:3: error: metadata.labels must map strings to strings")
        for line in lines
    )
    assert lines[-1] == "2 error(s), 2 warning(s)"  # unfulfilled, and a selector matching nothing


def test_validate_accepts_the_folder_or_the_file(cli, broken):
    assert run(cli, "validate", "-f", str(broken.root / "fleet.yaml")).exit_code == 1
    broken.write("hub/web.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n")
    broken.write(
        "clusters/esat-2.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: esat-2\n",
    )
    result = run(cli, "validate", "-f", str(broken.root))
    assert result.exit_code == 0, result.output


def test_missing_fleet_file_is_an_error_not_a_traceback(cli, tmp_path):
    result = run(cli, "validate", "-f", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "error: no fleet file" in result.output


def test_usage_errors_exit_2(cli):
    assert run(cli, "render", "--no-such-flag").exit_code == 2
    assert run(cli, "frobnicate").exit_code == 2


def test_strict_turns_an_unfulfilled_placement_into_an_error(cli, broken):
    broken.write("hub/web.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n")
    broken.write(
        "clusters/esat-2.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: esat-2\nstatus:\n  state: NotReady\n",
    )
    relaxed = run(cli, "render", "-f", str(broken.root))
    assert relaxed.exit_code == 0
    assert "warning: placement 'web' is not fulfilled" in relaxed.output
    strict = run(cli, "render", "--strict", "-f", str(broken.root))
    assert strict.exit_code == 1
    assert "error: placement 'web' is not fulfilled" in strict.output


def test_render_prints_a_one_line_summary(cli, broken):
    broken.write("hub/web.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n")
    broken.cluster("esat-2")
    result = run(cli, "render", "-f", str(broken.root))
    assert result.exit_code == 0
    assert result.output.splitlines()[-1].startswith("rendered 3 cluster(s), 2 object(s) into ")
    assert result.output.splitlines()[-1].endswith(": 5 file(s) written, 0 unchanged, 0 removed")


@pytest.mark.parametrize("command", [[], ["validate"], ["render"], ["check"]])
def test_every_command_has_help(cli, command):
    result = run(cli, *command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 5


def test_explain_takes_a_placement_or_a_cluster_and_object(cli):
    from conftest import REPO

    assert run(cli, "explain", "-f", str(REPO)).exit_code == 2
    assert (
        run(cli, "explain", "kuard-demo", "--cluster", "aks-member-1", "-f", str(REPO)).exit_code
        == 2
    )
    assert run(cli, "explain", "--object", "Namespace/kuard-demo", "-f", str(REPO)).exit_code == 2
    traced = run(
        cli,
        "explain",
        "--cluster",
        "aks-member-1",
        "--object",
        "Namespace/kuard-demo",
        "-f",
        str(REPO),
    )
    assert traced.exit_code == 0 and "kind: Namespace" in traced.output


def _fleetc(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """``python -m fleetc``: the command as installed (``cli.run``), in a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "fleetc", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)


def test_the_command_says_everything_and_exits_with_mains_code(cli, broken):
    """``cli.run`` leaves without the interpreter's teardown: what ``main`` printed is all
    there, and the exit code is ``main``'s."""
    root = str(broken.root)
    for args in (["check", "-f", root], ["explain", root], ["--version"], ["nonsense"]):
        alone = _fleetc(*args)
        inside = cli.invoke(main, args, prog_name="python -m fleetc")
        assert (alone.returncode, alone.stdout) == (inside.exit_code, inside.stdout), args
        assert alone.stderr == inside.stderr, args
    assert _fleetc("check", "-f", root).returncode == 1
    assert _fleetc("nonsense").returncode == 2


def test_the_installed_command_is_run():
    scripts = (REPO / "pyproject.toml").read_text().partition("[project.scripts]\n")[2]
    assert scripts.startswith('fleetc = "fleetc.cli:run"\n')
    assert (REPO / "compiler" / "__main__.py").read_text() == "from .cli import run\n\nrun()\n"


def test_a_profiler_still_gets_its_results(tmp_path):
    """Under cProfile (or coverage, or a debugger) the command exits as usual, so that the
    tool writes what it measured."""
    stats = tmp_path / "fleetc.prof"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "fleetc", "--version"]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "fleetc, version" in done.stdout
    assert stats.stat().st_size > 0
