"""KubeFleet's rules for ClusterStagedUpdateStrategy and ClusterStagedUpdateRun, each reported at
the offending line; the CRP strategy warnings and the External -> RollingUpdate error; Stop and
Run; the documents are never rendered to members."""

from __future__ import annotations

import textwrap

import crdschema
import pytest
import stagedfleet as sf
import yaml
from conftest import FleetDir, run

STRATEGY_FILE = "hub/rollout/strategy.yaml"


@pytest.fixture
def staged(cli, tmp_path) -> FleetDir:
    fleet = FleetDir(tmp_path)
    sf.build(fleet, cli)
    return fleet


def _line(text: str, needle: str) -> int:
    lines = textwrap.dedent(text).lstrip("\n").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def _errors(fleet: FleetDir) -> list:
    result = fleet.compile()
    return [d for d in result.diagnostics.errors]


def _error_at(fleet: FleetDir, file: str, line: int, words: str):
    errors = _errors(fleet)
    found = [d for d in errors if words in d.message]
    assert found, [d.format() for d in errors]
    assert (found[0].position.file, found[0].position.line) == (file, line), found[0].format()
    return found[0]


def _strategy(stages: str) -> str:
    head = """
    apiVersion: placement.kubernetes-fleet.io/v1
    kind: ClusterStagedUpdateStrategy
    metadata:
      name: web-stages
    spec:
      stages:
    """
    return textwrap.dedent(head) + textwrap.indent(textwrap.dedent(stages).lstrip("\n"), "    ")


ALL = """
- name: all
  labelSelector: {}
"""


def _with_run(fleet: FleetDir, stages: str) -> str:
    text = _strategy(stages)
    fleet.write(STRATEGY_FILE, text)
    sf.write_run(fleet)
    return text


# -- the documents as KubeFleet's CRDs see them ----------------------------------------------


def test_the_test_documents_are_valid_kubefleet_objects():
    for text in (sf.STRATEGY, sf.RUN.replace("NAME", "web-v2").replace("STATE", "Run")):
        obj = yaml.safe_load(text)
        assert crdschema.errors(obj) == []


@pytest.mark.parametrize(
    ("stages", "needle", "words"),
    [
        (
            "- name: a\n  afterStageTasks:\n  - {type: TimedWait}  # HERE\n",
            "HERE",
            "AfterStageTaskType is TimedWait, waitTime is required",
        ),
        (
            "- name: a\n  afterStageTasks:\n  - {type: Approval, waitTime: 1h}  # HERE\n",
            "HERE",
            "AfterStageTaskType is Approval, waitTime is not allowed",
        ),
        (
            "- name: a\n  beforeStageTasks:\n  - {type: TimedWait, waitTime: 1h}  # HERE\n",
            "HERE",
            "BeforeStageTaskType cannot be TimedWait",
        ),
        (
            "- name: a\n  afterStageTasks:\n  - {type: TimedWait, waitTime: 1d}  # HERE\n",
            "HERE",
            "is not a duration",
        ),
        ("- name: a\n  maxConcurrency: 0  # HERE\n", "HERE", "maxConcurrency must be at least 1"),
        ("- name: a\n  maxConcurrency: 150%  # HERE\n", "HERE", "a percentage from 1% to 100%"),
        ("- name: Canary-1  # HERE\n", "HERE", "lowercase letters and digits"),
        ("- name: a\n- name: a  # HERE\n", "HERE", "is used twice"),
        (
            "- name: a\n  afterStageTasks:\n  - {type: Approval}\n  - {type: Approval}  # HERE\n",
            "HERE",
            "may hold one Approval task only",
        ),
        (
            "- name: a\n  beforeStageTasks:\n  - {type: Approval}\n  - {type: Approval}  # HERE\n",
            "HERE",
            "takes at most 1 task(s)",
        ),
    ],
)
def test_strategy_rules_at_the_offending_line(staged, stages, needle, words):
    text = _strategy(stages)
    staged.write(STRATEGY_FILE, text)
    line = _line(text, needle)
    _error_at(staged, STRATEGY_FILE, line, words)
    # KubeFleet's CRD schema refuses the same document, except for the rules its CEL
    # expressions (which jsonschema does not run) or its controller enforce.
    beyond_schema = (
        "waitTime is required", "is not allowed", "cannot be TimedWait", "at least 1",
        "is used twice", "one Approval task only",
    )  # fmt: skip
    if not any(w in words for w in beyond_schema):
        assert crdschema.errors(yaml.safe_load(text)), words


def test_more_than_31_stages(staged):
    stages = "".join(f"- name: s{i}\n" for i in range(32))
    text = _strategy(stages)
    staged.write(STRATEGY_FILE, text)
    _error_at(staged, STRATEGY_FILE, _line(text, "name: s31"), "too many stages: 32")
    assert crdschema.errors(yaml.safe_load(text))  # maxItems 31


def test_a_cluster_in_two_stages_fails_at_the_second_stage(staged):
    text = _with_run(
        staged,
        """
        - name: east
          labelSelector: {matchLabels: {region: eastus}}
        - name: all
          labelSelector: {}  # HERE
        """,
    )
    error = _error_at(staged, STRATEGY_FILE, _line(text, "HERE"), "appears in more than one stage")
    assert "`eastus-1`" in error.message and "'east' and 'all'" in error.message


def test_a_selected_cluster_in_no_stage(staged):
    text = _with_run(staged, "- name: east\n  labelSelector: {matchLabels: {region: eastus}}\n")
    error = _error_at(staged, STRATEGY_FILE, _line(text, "stages:"), "not placed in any stage")
    assert "canary-1" in error.message and "eastus-1" not in error.message


def test_a_stage_without_label_selector_takes_no_cluster(staged):
    _with_run(staged, "- name: none\n- name: all\n  labelSelector: {}\n")
    assert _errors(staged) == []


def test_a_non_integer_sorting_label(staged):
    text = _with_run(
        staged,
        """
        - name: all
          labelSelector: {}
          sortingLabelKey: region  # HERE
        """,
    )
    error = _error_at(staged, STRATEGY_FILE, _line(text, "HERE"), "is not valid")
    assert "`region:westeurope` on cluster `canary-1`" in error.message


def test_a_missing_sorting_label_is_not_an_integer(staged):
    text = _with_run(staged, f"{ALL}  sortingLabelKey: rollout-order  # HERE\n")
    _error_at(staged, STRATEGY_FILE, _line(text, "HERE"), "`rollout-order:` on cluster `canary-1`")


RUN_FILE = "hub/rollout/web-v2.yaml"


def _run_doc(staged, spec: str) -> str:
    head = (
        "apiVersion: placement.kubernetes-fleet.io/v1\n"
        "kind: ClusterStagedUpdateRun\n"
        "metadata:\n  name: web-v2\nspec:\n"
    )
    text = head + textwrap.indent(textwrap.dedent(spec).lstrip("\n"), "  ")
    staged.write(RUN_FILE, text)
    return text


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (
            "placementName: web\nstagedRolloutStrategyName: web-stages\n"
            "resourceSnapshotIndex: abc  # HERE\n",
            "invalid resource snapshot index `abc` provided, expected an integer >= 0",
        ),
        (
            "placementName: web\nstagedRolloutStrategyName: web-stages\n"
            'resourceSnapshotIndex: "7"  # HERE\n',
            "no resourceSnapshots with index `7` found for placement `web`",
        ),
        (
            "placementName: webb  # HERE\nstagedRolloutStrategyName: web-stages\n",
            "parent placement not found",
        ),
        (
            "placementName: platform  # HERE\nstagedRolloutStrategyName: web-stages\n",
            "parent placement does not have an external rollout strategy, current strategy: "
            "RollingUpdate",
        ),
        (
            "placementName: web\nstagedRolloutStrategyName: nope  # HERE\n",
            "ClusterStagedUpdateStrategy 'nope' not found",
        ),
        (
            "placementName: web\nstagedRolloutStrategyName: web-stages\nstate: Go  # HERE\n",
            "state 'Go' must be one of",
        ),
    ],
)
def test_run_rules_at_the_offending_line(staged, spec, words):
    text = _run_doc(staged, spec)
    _error_at(staged, RUN_FILE, _line(text, "HERE"), words)


def test_run_fields_are_immutable_and_state_transitions_follow_the_crd(cli, staged):
    sf.write_run(staged, state="Run")
    sf.render(cli, staged)
    text = _run_doc(staged, "placementName: web\nstagedRolloutStrategyName: other  # HERE\n")
    staged.write("hub/rollout/other.yaml", sf.STRATEGY.replace("web-stages", "other"))
    _error_at(staged, RUN_FILE, _line(text, "HERE"), "stagedRolloutStrategyName is immutable")
    text = _run_doc(
        staged,
        "placementName: web\nstagedRolloutStrategyName: web-stages\nstate: Initialize  # HERE\n",
    )
    _error_at(
        staged, RUN_FILE, _line(text, "HERE"),
        "invalid state transition: cannot transition from Run to Initialize",
    )  # fmt: skip


def test_stop_pauses_and_run_resumes(cli, staged):
    sf.write_hub(staged, image="1.5.0")
    sf.write_run(staged, state="Run")
    sf.render(cli, staged)
    sf.fleetc(cli, staged, "rollout", "advance", "--now", "2026-12-01T09:00:00Z")
    sf.write_run(staged, state="Stop")
    sf.render(cli, staged)
    result = sf.fleetc(cli, staged, "rollout", "advance", "--now", "2026-12-02T09:00:00Z", code=1)
    assert "is stopped (spec.state: Stop)" in result.output
    status = sf.fleetc(cli, staged, "rollout", "status").output
    assert "Progressing=False UpdateRunStopped: The update run has been stopped" in status
    assert sf.image_on(staged, "eastus-2") == "1.4.0"
    sf.write_run(staged, state="Run")
    sf.render(cli, staged)
    result = sf.fleetc(cli, staged, "rollout", "advance", "--now", "2026-12-02T09:00:00Z")
    assert "moved eastus-2, eastus-4" in result.output
    assert sf.image_on(staged, "eastus-2") == "1.5.0"


def test_initialize_does_not_start(cli, staged):
    sf.write_run(staged, state="Initialize")
    sf.render(cli, staged)
    result = sf.fleetc(cli, staged, "rollout", "advance", "--now", "2026-12-01T09:00:00Z", code=1)
    assert "initialized but not started" in result.output


def test_a_run_aborts_when_its_stages_change(cli, staged):
    sf.write_run(staged)
    sf.render(cli, staged)
    staged.cluster("eastus-5", {"region": "eastus", "ring": "regional", "rollout-order": "9"})
    sf.render(cli, staged)
    status = sf.fleetc(cli, staged, "rollout", "status").output
    assert "Succeeded=False UpdateRunFailed: the stages of the updateRun are outdated" in status
    result = sf.fleetc(
        cli, staged, "rollout", "advance", "web-v2", "--now", "2026-12-01T09:00:00Z", code=1
    )
    assert "has finished (Failed)" in result.output


# -- the placement's strategy ---------------------------------------------------------------


def _rolling(fleet_dir, settings: str):
    head = """
    apiVersion: fleetc.io/v1alpha1
    kind: Fleet
    metadata: {name: f}
    spec:
      placements:
        - name: app
          resourceSelectors:
            - {group: "", version: v1, kind: Namespace, name: app}
          strategy:
            type: RollingUpdate
            rollingUpdate:  # HERE
    """
    text = textwrap.dedent(head).lstrip("\n") + textwrap.indent(settings, " " * 10)
    fleet_dir.write("fleet.yaml", text)
    fleet_dir.write("hub/app.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n")
    fleet_dir.cluster("c1")
    return text, [w for w in fleet_dir.compile().diagnostics.warnings if "strategy" in w.path]


def test_rolling_update_settings_warn_and_point_to_staged_runs(fleet_dir):
    text, warnings = _rolling(
        fleet_dir, "maxUnavailable: 1\nmaxSurge: 25%\nunavailablePeriodSeconds: 30\n"
    )
    (warning,) = warnings
    assert warning.position.line == _line(text, "HERE")
    assert "(maxUnavailable, unavailablePeriodSeconds) has no effect" in warning.message
    assert "every selected cluster gets a change when rendered/ merges" in warning.message
    assert "ClusterStagedUpdateRun" in warning.hint


def test_rolling_update_defaults_spelled_out_are_quiet(fleet_dir):
    _text, warnings = _rolling(
        fleet_dir, "maxUnavailable: 25%\nmaxSurge: 25%\nunavailablePeriodSeconds: 60\n"
    )
    assert warnings == []


def test_external_cannot_go_back_to_rolling_update(cli, staged):
    text = sf.FLEET.replace("STRATEGY", "RollingUpdate  # HERE")
    staged.write("fleet.yaml", text)
    _error_at(
        staged, "fleet.yaml", _line(text, "HERE"),
        "cannot change rollout strategy type from 'External' to other types",
    )  # fmt: skip
    staged.write("fleet.yaml", sf.FLEET.replace("      strategy:\n        type: STRATEGY\n", ""))
    assert any("from 'External'" in d.message for d in _errors(staged))


def test_staged_documents_are_never_rendered(cli, staged):
    sf.write_run(staged)
    sf.render(cli, staged)
    texts = [p.read_text() for p in (staged.root / "rendered").rglob("*.yaml")]
    assert texts and not any("ClusterStagedUpdate" in t for t in texts)


def test_render_and_check_never_advance(cli, staged):
    sf.write_hub(staged, image="1.5.0")
    sf.write_run(staged)
    for _ in range(2):
        sf.render(cli, staged)
        assert run(cli, "check", "-f", str(staged.root)).exit_code == 0
    assert set(sf.images(staged).values()) == {"1.4.0"}
    assert "progress:" not in (staged.root / "fleet.lock").read_text()


def test_a_run_name_of_64_characters_is_refused(staged):
    name = "r" * 64
    text = sf.RUN.replace("NAME", name).replace("STATE", "Run")
    staged.write("hub/rollout/long.yaml", text)
    _error_at(staged, "hub/rollout/long.yaml", _line(text, name), "shorter than 64 characters")


def test_approval_requests_exist_only_once_the_run_reaches_them(cli, staged):
    sf.write_run(staged)
    sf.render(cli, staged)
    args = (
        "rollout",
        "approve",
        "web-v2",
        "--stage",
        "rest",
        "--before",
        "--now",
        "2026-12-01T09:00:00Z",
    )
    result = sf.fleetc(cli, staged, *args, code=1)
    assert "ClusterApprovalRequest web-v2-before-rest does not exist yet" in result.output
    result = sf.fleetc(cli, staged, "rollout", "approve", "web-v2", "--stage", "rest", code=1)
    assert "has no Approval in its afterStageTasks" in result.output
    result = sf.fleetc(cli, staged, "rollout", "approve", "web-v2", "--stage", "nope", code=1)
    assert "has no stage 'nope'" in result.output


def test_advance_needs_one_run_in_progress_or_a_name(cli, staged):
    result = sf.fleetc(cli, staged, "rollout", "advance", code=1)
    assert "no ClusterStagedUpdateRun is in progress" in result.output
    sf.write_run(staged, "web-a")
    sf.write_run(staged, "web-b")
    sf.render(cli, staged)
    result = sf.fleetc(cli, staged, "rollout", "advance", code=1)
    assert "several runs are in progress (web-a, web-b): name one" in result.output
    result = sf.fleetc(cli, staged, "rollout", "advance", "web-b", "--now", "2026-12-01T09:00:00Z")
    assert "web-b: stage canary: moved canary-1" in result.output


def test_now_must_be_a_time_with_a_zone(cli, staged):
    result = run(cli, "rollout", "advance", "-f", str(staged.root), "--now", "tomorrow")
    assert result.exit_code == 2 and "is not a time" in result.output
    result = run(cli, "rollout", "advance", "-f", str(staged.root), "--now", "2026-12-01T09:00:00")
    assert result.exit_code == 2 and "no time zone" in result.output


def test_approval_request_documents_are_ignored_with_a_warning(staged):
    staged.write(
        "hub/rollout/approval.yaml",
        "apiVersion: placement.kubernetes-fleet.io/v1\nkind: ClusterApprovalRequest\n"
        "metadata:\n  name: web-v2-before-rest\nspec:\n  parentStageRollout: web-v2\n"
        "  targetStage: rest\n",
    )
    warnings = staged.compile().diagnostics.warnings
    assert any(
        "ClusterApprovalRequest 'web-v2-before-rest' is ignored" in w.message
        and "fleetc rollout approve" in w.hint
        for w in warnings
    )
