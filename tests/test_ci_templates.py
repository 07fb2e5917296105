"""The shipped CI workflow and pre-commit hooks, run as their scripts would run them."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import git
import pytest
import yaml
from conftest import REPO
from gitrepo import demo_fleet

WORKFLOW = REPO / "ci" / "github-actions" / "fleetc.yaml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
BIN = str(Path(sys.executable).parent)


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", ""), **extra}


def _shell(script: str, cwd: Path, env: dict[str, str]):
    """As GitHub Actions runs a step's script."""
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def pull_request(tmp_path) -> Path:
    """A clone whose feature branch adds a cluster, as actions/checkout leaves it."""
    origin = demo_fleet(tmp_path / "origin")
    subprocess.run([f"{BIN}/fleetc", "render", "-f", str(origin.root)], check=True)
    origin.commit("render")
    clone = git.Repo.clone_from(origin.root, tmp_path / "work")
    with clone.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    work = Path(clone.working_tree_dir)
    clone.git.checkout("--quiet", "-b", "feature")
    (work / "clusters/c4.yaml").write_text(
        "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: c4\n"
        "  labels:\n    env: prod\n"
    )
    clone.git.add("--all")
    clone.git.commit("--quiet", "-m", "add c4")
    return work


def _steps() -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    return [step for step in job["steps"] if "run" in step], job["env"]


def _hook(entry: str, cwd: Path, *args: str):
    """As pre-commit runs a hook: the entry split like a shell would, then the args."""
    return subprocess.run(
        [*shlex.split(entry), *args], cwd=cwd, env=_env(), capture_output=True, text=True
    )


def test_workflow_steps_post_the_diff_and_gate_on_stale_output(pull_request, tmp_path):
    steps, job_env = _steps()
    summary = tmp_path / "summary.md"
    env = _env(
        FLEET=".",
        CRDS="",
        BASE_REF="main",
        GITHUB_STEP_SUMMARY=str(summary),
        FLEETC=job_env["FLEETC"],
    )
    results = {
        step["name"]: _shell(step["run"], pull_request, env)
        for step in steps
        if not step["name"].startswith("Install")
    }
    diff = results["Diff against the base branch (job summary)"]
    assert diff.returncode == 0, diff.stderr
    text = summary.read_text()
    assert text.startswith("## fleetc diff")
    assert "<details><summary><code>c4 (cluster added): +4 -0 ~0</code></summary>" in text
    # c4 was added without rendering: the check step fails, naming the missing files.
    stale = results["Rendered output is current"]
    assert stale.returncode == 1
    assert "missing: c4/kustomization.yaml" in stale.stderr
    valid = results["Rendered objects are valid for their clusters"]
    assert valid.returncode == 0, valid.stderr


def test_workflow_uploads_the_html_report_and_links_it_from_the_diff(pull_request, tmp_path):
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    by_name = {step.get("name"): step for step in job["steps"]}
    summary = tmp_path / "summary.md"
    env = _env(FLEET=".", BASE_REF="main", GITHUB_STEP_SUMMARY=str(summary))
    made = _shell(by_name["HTML report of the change"]["run"], pull_request, env)
    assert made.returncode == 0, made.stderr
    page = (pull_request / "fleetc-report.html").read_text()
    assert '"clustersAffected":1' in page  # the change, as diff counts it: c4 added
    upload = by_name["Upload the HTML report"]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"] == "fleetc-report.html"
    link = by_name["Link the HTML report from the diff (job summary)"]
    assert link["env"]["REPORT_URL"] == "${{ steps.upload-report.outputs.artifact-url }}"
    url = "https://github.com/o/r/actions/runs/1/artifacts/2"
    linked = _shell(link["run"], pull_request, {**env, "REPORT_URL": url})
    assert linked.returncode == 0, linked.stderr
    assert f"[HTML report of this change]({url})" in summary.read_text()


def test_workflow_passes_crd_folders(pull_request):
    steps, _env_block = _steps()
    (step,) = [s for s in steps if "validate" in s["run"]]
    crds = pull_request / "crds"
    crds.mkdir()
    result = _shell(step["run"], pull_request, _env(FLEET=".", CRDS="crds/ crds"))
    assert result.returncode == 0, result.stderr


def test_pre_commit_render_hook_fails_once_on_stale_output(tmp_path):
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}
    render = hooks["fleetc-render"]
    assert render["pass_filenames"] is False
    fleet = demo_fleet(tmp_path)
    stale = _hook(render["entry"], fleet.root)
    assert stale.returncode == 1
    assert "has been re-rendered" in stale.stderr
    assert (fleet.root / "rendered/c1/kustomization.yaml").is_file()
    current = _hook(render["entry"], fleet.root)
    assert current.returncode == 0, current.stderr
    check = _hook(hooks["fleetc-check"]["entry"], fleet.root)
    assert check.returncode == 0


def test_pre_commit_hooks_take_a_fleet_path(tmp_path):
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}
    fleet = demo_fleet(tmp_path / "repo")
    result = _hook(hooks["fleetc-render"]["entry"], tmp_path, "-f", str(fleet.root))
    assert result.returncode == 1
    assert (fleet.root / "rendered/c1/kustomization.yaml").is_file()


def test_shell_completion_script_is_generated():
    done = subprocess.run(
        [shutil.which("fleetc", path=BIN) or "fleetc"],
        env=_env(_FLEETC_COMPLETE="bash_source"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert "_fleetc_completion" in done.stdout
