"""examples/staged-rollout: rendered, committed, checked; its documents are KubeFleet's; the
scheduled CI job's advance step moves the run in progress."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import crdschema
import git
import pytest
import yaml
from conftest import REPO, run

EXAMPLE = REPO / "examples" / "staged-rollout"
WORKFLOW = REPO / "ci" / "github-actions" / "fleetc-rollout.yaml"
BIN = str(Path(sys.executable).parent)


def test_example_is_rendered_and_checked(cli):
    result = run(cli, "check", "-f", str(EXAMPLE))
    assert result.exit_code == 0, result.output


def _docs(rel: str) -> list[dict]:
    return list(yaml.safe_load_all((EXAMPLE / rel).read_text()))


def test_example_has_three_stages_over_at_least_nine_clusters():
    clusters = list((EXAMPLE / "clusters").glob("*.yaml"))
    assert len(clusters) >= 9
    (strategy,) = _docs("hub/rollout/strategy.yaml")
    stages = strategy["spec"]["stages"]
    assert [s["name"] for s in stages] == ["canary", "eastus", "rest"]
    assert stages[1]["sortingLabelKey"] == "rollout-order"  # the ring by region, in order
    assert stages[2]["beforeStageTasks"] == [{"type": "Approval"}]
    for rel in ("hub/rollout/strategy.yaml", "hub/rollout/web-v2.yaml"):
        for doc in _docs(rel):
            assert crdschema.errors(doc) == []


def test_example_is_mid_rollout_canary_first(cli):
    def image(cluster: str) -> str:
        path = EXAMPLE / "rendered" / cluster / "web" / "deployment.apps_web.yaml"
        return yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]

    assert image("canary-1").endswith(":1.5.0")
    assert image("eastus-1").endswith(":1.4.0") and image("westus-2").endswith(":1.4.0")
    status = run(cli, "rollout", "status", "-f", str(EXAMPLE), "--now", "2026-12-01T09:30:00Z")
    assert "blocked: stage canary: TimedWait until 2026-12-01T10:00:00Z" in status.output
    data = run(
        cli, "rollout", "status", "-f", str(EXAMPLE), "--format", "json",
        "--now", "2026-12-01T10:00:00Z",
    )  # fmt: skip
    (item,) = json.loads(data.output)
    assert [s["reason"] for s in item["stages"]] == ["StageUpdatingStarted", None, None, None]
    assert item["next"]["moves"] == ["eastus-2", "eastus-4"]  # rollout-order 1 and 2


@pytest.fixture
def example_repo(tmp_path) -> Path:
    work = tmp_path / "fleet"
    shutil.copytree(EXAMPLE, work)
    repo = git.Repo.init(work, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
        config.set_value("commit", "gpgsign", "false")
    repo.git.add("--all")
    repo.git.commit("--quiet", "-m", "example")
    return work


def _advance_step() -> tuple[str, dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["advance"]
    (step,) = [s for s in job["steps"] if s.get("name") == "Advance one step"]
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare on as true
    assert triggers["schedule"] and "gh pr create" in str(job["steps"])
    return step["run"], job["env"]


def _run_step(script: str, cwd: Path, tmp: Path) -> dict[str, str]:
    out = tmp / "github-output"
    out.write_text("")
    env = {
        **os.environ,
        "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
        "FLEET": ".",
        "RUN": "",
        "GITHUB_OUTPUT": str(out),
        "RUNNER_TEMP": str(tmp),
    }
    done = subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in out.read_text().splitlines())


def test_scheduled_job_advances_the_run_and_reports_when_nothing_changed(example_repo, tmp_path):
    script, _env = _advance_step()
    # Past the canary's TimedWait, as a replay: the eastus ring's first batch.
    subprocess.run(
        [f"{BIN}/fleetc", "rollout", "advance", "--now", "2100-01-01T00:00:00Z"],
        cwd=example_repo, check=True, capture_output=True,
    )  # fmt: skip
    repo = git.Repo(example_repo)
    repo.git.add("--all")
    repo.git.commit("--quiet", "-m", "eastus 1/2")
    # The job's own step (the clock is now): the second batch of the ring; no wait is involved.
    assert _run_step(script, example_repo, tmp_path) == {"changed": "true"}
    assert "eastus-1" in (tmp_path / "advance.txt").read_text()
    repo.git.add("--all")
    repo.git.commit("--quiet", "-m", "eastus 2/2")
    # Blocked by the Approval before stage rest: nothing changes, no pull request.
    assert _run_step(script, example_repo, tmp_path) == {"changed": "false"}
    assert "web-v2-before-rest" in (tmp_path / "advance.txt").read_text()
