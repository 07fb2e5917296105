"""The one load-compile-merge helper, and render --commit compiling each tree once."""

from __future__ import annotations

import pytest
from conftest import run
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.inputs import Inputs
from fleetc.pipeline import Options
from fleetc.shell import compile as shell_compile
from fleetc.shell import gitloop
from fleetc.shell.load import load
from gitrepo import APP_PLACEMENT, HUB, GitFleet, demo_fleet


@pytest.fixture
def calls(monkeypatch) -> dict[str, int]:
    """How often the working tree and a commit are loaded, and how often anything compiles."""
    counts = {"compile": 0, "working tree": 0, "commit": 0}

    def counted(name, func):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return func(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        shell_compile, "compile_fleet", counted("compile", shell_compile.compile_fleet)
    )
    monkeypatch.setattr(shell_compile, "load", counted("working tree", shell_compile.load))
    monkeypatch.setattr(gitloop, "load_commit", counted("commit", gitloop.load_commit))
    return counts


def test_render_commit_compiles_the_working_tree_and_head_once_each(cli, tmp_path, calls):
    fleet = demo_fleet(tmp_path)
    result = run(cli, "render", "--commit", "-f", str(fleet.root))
    assert result.exit_code == 0, result.output
    assert calls == {"compile": 2, "working tree": 1, "commit": 1}
    assert fleet.repo.head.commit.message.startswith("fleetc render: 3 cluster(s) affected")


def test_render_commit_of_a_first_commit_compiles_once(cli, tmp_path, calls):
    fleet = GitFleet(tmp_path)
    fleet.write("fleet.yaml", APP_PLACEMENT)
    fleet.write("hub/app.yaml", HUB)
    fleet.cluster("c1", {"env": "prod"})
    result = run(cli, "render", "--commit", "-f", str(fleet.root))
    assert result.exit_code == 0, result.output
    assert calls == {"compile": 1, "working tree": 1, "commit": 0}
    assert fleet.repo.head.commit.message.startswith("fleetc render: 1 cluster(s) affected")


def test_diff_still_compiles_both_trees(cli, tmp_path, calls):
    fleet = demo_fleet(tmp_path)
    result = run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD")
    assert result.exit_code == 0, result.output
    assert calls == {"compile": 2, "working tree": 1, "commit": 1}


def test_the_loads_diagnostics_come_first(fleet_dir):
    fleet_dir.write(
        "fleet.yaml", APP_PLACEMENT.replace("PickAll", "PickN\n        numberOfClusters: 2")
    )
    fleet_dir.write("hub/app.yaml", HUB)
    fleet_dir.cluster("c3", {"env": "dev"})

    def load_inputs(diags: Diagnostics) -> Inputs:
        inputs = load(fleet_dir.root / "fleet.yaml", diags)
        diags.warning("noted while loading")
        return inputs

    result = shell_compile.compile_loaded(load_inputs, Options()).result
    messages = [d.message for d in result.diagnostics.items if not d.code]  # lints aside
    assert messages[0] == "noted while loading"
    assert messages[1].startswith("placement 'baseline' is not fulfilled")
    assert len(messages) == 2
