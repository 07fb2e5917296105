"""Lints (FLEET001-FLEET007): valid input that is probably not what its author meant."""

from __future__ import annotations

import json

import pytest
from conftest import FleetDir, run
from gitrepo import demo_fleet

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: t
spec:
  placements:
    - name: web
      resourceSelectors:
        - {{group: "", version: v1, kind: Namespace, name: web}}
      policy:
        affinity:
          clusterAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              clusterSelectorTerms:
                - labelSelector:
                    matchLabels: {{{selector}}}
{extra}"""
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n"
APP = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: nginx
          ports:
            - {name: http, containerPort: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: web
spec:
  selector: SELECTOR
  ports:
    - {port: 80, targetPort: TARGET}
"""


def make(
    fleet_dir: FleetDir,
    selector: str = "tier: frontend",
    extra: str = "",
    service_selector: str = "{app: web}",
    target: str = "http",
) -> FleetDir:
    fleet_dir.write("fleet.yaml", FLEET.format(selector=selector, extra=extra))
    fleet_dir.write("hub/ns.yaml", NAMESPACE)
    fleet_dir.write(
        "hub/app.yaml", APP.replace("SELECTOR", service_selector).replace("TARGET", target)
    )
    fleet_dir.cluster("c1", {"tier": "frontend"})
    fleet_dir.cluster("c2", {"tier": "backend"})
    return fleet_dir


def lints(result) -> list[str]:
    return [d.format() for d in result.diagnostics.sorted() if d.code]


def test_a_clean_fleet_has_no_lints(fleet_dir):
    result = make(fleet_dir).compile()
    assert result.ok and lints(result) == []


def test_label_key_typo_in_a_placement_selector(cli, fleet_dir):
    make(fleet_dir, selector="teir: frontend")
    assert lints(fleet_dir.compile()) == [
        "fleet.yaml:16:35: warning[FLEET001]: no inventory cluster has the label 'teir' "
        "[at spec.placements[0].policy.affinity.clusterAffinity."
        "requiredDuringSchedulingIgnoredDuringExecution.clusterSelectorTerms[0].labelSelector."
        "matchLabels.teir]\n  hint: did you mean 'tier'?"
    ]
    assert run(cli, "validate", "--strict", "-f", str(fleet_dir.root)).exit_code == 1


def test_label_value_typo(fleet_dir):
    make(fleet_dir, selector="tier: fronted")
    [found] = lints(fleet_dir.compile())
    assert "warning[FLEET001]: no inventory cluster has tier='fronted'" in found
    assert found.endswith("hint: did you mean 'frontend'?")


def test_namespace_typo_leaves_an_object_unselected_and_its_override_idle(fleet_dir):
    extra = """  overrides:
    - name: scale
      kind: ResourceOverride
      namespace: wbe
      resourceSelectors:
        - {group: "", version: v1, kind: ConfigMap, name: settings}
      policy:
        overrideRules:
          - clusterSelector: {clusterSelectorTerms: []}
            jsonPatchOverrides:
              - {op: add, path: /data/x, value: "1"}
"""
    make(fleet_dir, extra=extra)
    fleet_dir.write(
        "hub/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: wbe\n"
        "data: {a: b}\n",
    )
    found = lints(fleet_dir.compile())
    assert found == [
        "fleet.yaml:18:7: warning[FLEET003]: ResourceOverride 'wbe/scale' changes nothing: no "
        "rule applies to a placed object on any cluster\n  hint: check its selectors (group, "
        "version, kind, name) and the rules' clusterSelector against the clusters its objects "
        "are placed on",
        "hub/settings.yaml:4:3: warning[FLEET002]: ConfigMap/wbe/settings is selected by no "
        "placement: it reaches no cluster [at metadata.name]\n  hint: its namespace 'wbe' is "
        "not placed; did you mean 'web'?",
    ]


def test_an_override_rule_for_no_placed_cluster(fleet_dir):
    extra = """  overrides:
    - name: web
      kind: ClusterResourceOverride
      clusterResourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: web}
      policy:
        overrideRules:
          - clusterSelector: {clusterSelectorTerms: []}
            jsonPatchOverrides:
              - {op: add, path: /metadata/labels, value: {a: b}}
          - clusterSelector:
              clusterSelectorTerms:
                - labelSelector: {matchLabels: {tier: backend}}
            jsonPatchOverrides:
              - {op: add, path: /metadata/labels, value: {c: d}}
"""
    make(fleet_dir, extra=extra)
    [found] = lints(fleet_dir.compile())
    assert found.startswith(
        "fleet.yaml:27:13: warning[FLEET003]: ClusterResourceOverride 'web' rule 1 applies on "
        "no cluster where its objects are placed [at spec.overrides[0].policy.overrideRules[1]]"
    )


def test_a_service_that_selects_no_pod(fleet_dir):
    make(fleet_dir, service_selector="{app: wbe}")
    assert lints(fleet_dir.compile()) == [
        "hub/app.yaml:25:3: warning[FLEET005]: Service web/app selects no pod template placed "
        "with it on cluster(s) c1: it has no endpoints there [at spec.selector]\n  hint: match "
        "the labels of the workload's pod template, or place the workload on the same clusters"
    ]


def test_a_named_target_port_no_container_has(fleet_dir):
    make(fleet_dir, target="htpp")
    assert lints(fleet_dir.compile()) == [
        "hub/app.yaml:26:3: warning[FLEET006]: Service web/app targets port 'htpp', which no "
        "container it selects names on cluster(s) c1 [at spec.ports]\n  hint: name the "
        "container port, or use its number"
    ]


def test_a_template_whose_objects_no_placement_selects(fleet_dir):
    make(fleet_dir)
    fleet_dir.write(
        "hub/info.yaml.j2",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: info\n  namespace: other\n"
        "data: {cluster: '{{ cluster.name }}'}\n",
    )
    assert lints(fleet_dir.compile()) == [
        "hub/info.yaml.j2: warning[FLEET004]: template hub/info.yaml.j2 renders "
        "ConfigMap/other/info, which no placement selects\n  hint: select it (or its "
        "namespace) in a placement, or remove it"
    ]


def test_a_selection_kept_only_by_fleet_lock(cli, fleet_dir):
    make(fleet_dir)
    fleet_dir.cluster("c3", {"tier": "frontend"})
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    fleet_dir.cluster("c1", {"tier": "backend"})
    assert lints(fleet_dir.compile()) == [
        "fleet.yaml:7:7: warning[FLEET007]: placement 'web' keeps cluster(s) c1 only because "
        "fleet.lock remembers them: they no longer pass its filters (KubeFleet keeps a "
        "selection once made)\n  hint: 'fleetc render --reschedule web' drops them; 'fleetc "
        "explain' shows why each no longer matches"
    ]
    explained = run(cli, "explain", "web", "-f", str(fleet_dir.root)).output
    assert explained.count("  c1  ") == 1
    assert (
        "c1  selected   kept from fleet.lock: no longer matches (ClusterUnschedulable, cluster "
        "does not match with any of the required cluster affinity terms); 'fleetc render "
        "--reschedule web' would drop it"
    ) in explained
    rescheduled = fleet_dir.compile(reschedule=frozenset({"web"}))
    assert lints(rescheduled) == []
    assert rescheduled.compilation.outcomes["web"].selected == ["c3"]


@pytest.mark.parametrize("how", ["annotation", "fleet.yaml"])
def test_lints_are_silenced_per_object_or_in_fleet_yaml(fleet_dir, how):
    extra = ""
    if how == "fleet.yaml":
        extra = (
            "  lints:\n    ignore:\n      - code: FLEET005\n        files: [hub/app.yaml]\n"
            "        reason: the pods come from an operator\n"
        )
    make(fleet_dir, extra=extra, service_selector="{app: operator-managed}")
    if how == "annotation":
        text = (fleet_dir.root / "hub/app.yaml").read_text()
        text = text.replace(
            "  name: app\n  namespace: web\nspec:\n  selector",
            "  name: app\n  namespace: web\n  annotations: {fleetc.io/ignore: FLEET005}\n"
            "spec:\n  selector",
        )
        fleet_dir.write("hub/app.yaml", text)
    result = fleet_dir.compile()
    assert result.ok and lints(result) == []


def test_silencing_needs_a_reason(fleet_dir):
    make(fleet_dir, extra="  lints:\n    ignore:\n      - code: FLEET005\n")
    assert [d.message for d in fleet_dir.compile().diagnostics.errors] == ["'reason' is required"]


def test_diff_warns_when_a_change_leaves_a_cluster_kept_only_by_fleet_lock(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    fleet.commit("render")
    fleet.cluster("c1", {"env": "dev"})  # the app placement selected c1 while it was prod
    result = run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["keptByLock"] == [
        "placement app keeps cluster c1 only because fleet.lock remembers it: it no longer "
        "matches (ClusterUnschedulable, cluster does not match with any of the required cluster "
        "affinity terms); 'fleetc render --reschedule app' would drop it"
    ]


def test_lints_read_malformed_workloads_without_crashing(cli, fleet_dir):
    """The compile's lints run before the hub manifests are schema-checked (in the shell):
    odd shapes must not crash them, and validate then reports the shapes."""
    make(fleet_dir)
    text = (fleet_dir.root / "hub/app.yaml").read_text()
    text = text.replace("      containers:\n", "      containers: true\n      x:\n", 1)
    text = text.replace("    - {port: 80, targetPort: http}", "    7")
    fleet_dir.write("hub/app.yaml", text)
    assert fleet_dir.compile().compilation is not None
    result = run(cli, "validate", "-f", str(fleet_dir.root))
    assert result.exit_code == 1
    assert "spec.template.spec.containers: expected array, got True" in result.output
