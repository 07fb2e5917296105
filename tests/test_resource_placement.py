"""ResourcePlacement: namespaced selection, NamespaceAffinity, ResourceOverrides, views."""

from __future__ import annotations

import json
import textwrap

from conftest import run
from fleetc.core.model import ObjectKey
from fleetc.views import diff
from fleetc.views import status as status_view

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: test
spec:
  placements:
    - name: namespaces
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app, selectionScope: NamespaceOnly}
"""

HUB = """
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: app
  labels: {tier: web}
data:
  colour: blue
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: unlabelled
  namespace: app
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: elsewhere
  namespace: other
  labels: {tier: web}
"""

RP = """
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ResourcePlacement
metadata:
  name: web
  namespace: app
spec:
  resourceSelectors:
    - group: ""
      version: v1
      kind: ConfigMap
      labelSelector:
        matchLabels: {tier: web}
"""

SETTINGS = ObjectKey("", "ConfigMap", "app", "settings")


def make(fleet_dir, rp: str = RP, extra: str = ""):
    fleet_dir.write("fleet.yaml", textwrap.dedent(FLEET).lstrip("\n"))
    fleet_dir.write("hub/app.yaml", HUB)
    fleet_dir.write("hub/rp.yaml", rp + extra)
    fleet_dir.cluster("east-1", status="status:\n  namespaces: [app]\n")
    fleet_dir.cluster("west-1", status="status:\n  namespaces: [other]\n")
    fleet_dir.cluster("central-1")  # reports no namespaces: NamespaceAffinity passes
    return fleet_dir.compile()


def errors(result):
    return [d.format() for d in result.diagnostics.errors]


def test_rp_places_objects_of_its_namespace_where_the_namespace_exists(fleet_dir):
    result = make(fleet_dir)
    assert result.ok, errors(result)
    outcome = result.compilation.outcomes["app/web"]
    assert outcome.selected == ["central-1", "east-1"]
    [west] = [d for d in outcome.decisions if d.cluster == "west-1"]
    assert west.filtered_by == "NamespaceAffinity"
    assert west.reason == "ClusterUnschedulable, target namespace does not exist on cluster"
    placed = result.compilation.clusters
    assert placed["east-1"][SETTINGS].placements == ("app/web",)
    # Only its own namespace, only what the selector matches.
    assert ObjectKey("", "ConfigMap", "other", "elsewhere") not in placed["east-1"]
    assert ObjectKey("", "ConfigMap", "app", "unlabelled") not in placed["east-1"]
    assert SETTINGS not in placed["west-1"]


def test_rp_cannot_select_cluster_scoped_kinds(fleet_dir):
    rp = RP.replace(
        "kind: ConfigMap\n      labelSelector:\n        matchLabels: {tier: web}",
        "kind: Namespace\n      name: app",
    )
    result = make(fleet_dir, rp)
    [error] = result.diagnostics.errors
    assert error.message == "cannot select cluster-scoped resource Namespace in a resourcePlacement"
    assert str(error.position) == "hub/rp.yaml:10:7"


def test_rp_needs_a_namespace(fleet_dir):
    result = make(fleet_dir, RP.replace("  namespace: app\n", "", 1))
    [error] = result.diagnostics.errors
    assert "ResourcePlacement 'web' is namespaced but has no metadata.namespace" in error.message


def test_rp_policy_rules_are_checked_like_a_crp(fleet_dir):
    rp = RP + "  policy:\n    placementType: PickAll\n    numberOfClusters: 2\n"
    [error] = make(fleet_dir, rp).diagnostics.errors
    assert error.message == "numberOfClusters cannot be set when placementType is PickAll"
    assert str(error.position) == "hub/rp.yaml:15:5"


def test_member_collecting_namespaces_without_a_list_is_filtered(fleet_dir):
    fleet_dir.write(
        "clusters/member.yaml",
        """
        apiVersion: cluster.kubernetes-fleet.io/v1
        kind: MemberCluster
        metadata:
          name: member-1
        status:
          conditions:
            - {type: NamespaceCollectionSucceeded, status: "False", reason: Degraded}
          agentStatus:
            - type: MemberAgent
              conditions:
                - {type: Joined, status: "True"}
                - {type: Healthy, status: "True"}
        """,
    )
    result = make(fleet_dir)
    [member] = [
        d for d in result.compilation.outcomes["app/web"].decisions if d.cluster == "member-1"
    ]
    assert member.reason == "ClusterUnschedulable, cluster has no namespace information available"


RO = """
---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ResourceOverride
metadata:
  name: colour
  namespace: app
spec:
  placement: {name: PLACEMENT, scope: Namespaced}
  resourceSelectors:
    - {group: "", version: v1, kind: ConfigMap, name: settings}
  policy:
    overrideRules:
      - clusterSelector: {clusterSelectorTerms: []}
        jsonPatchOverrides:
          - {op: replace, path: /data/colour, value: green}
"""


def test_resource_override_refers_to_the_rp_in_its_namespace(fleet_dir):
    result = make(fleet_dir, extra=RO.replace("PLACEMENT", "web"))
    assert result.ok, errors(result)
    assert result.compilation.clusters["east-1"][SETTINGS].body["data"] == {"colour": "green"}
    result = make(fleet_dir, extra=RO.replace("PLACEMENT", "nope"))
    assert result.compilation.clusters["east-1"][SETTINGS].body["data"] == {"colour": "blue"}
    [warning] = [w for w in result.diagnostics.warnings if "scoped to placement" in w.message]
    assert "no ResourcePlacement in namespace 'app' of that name" in warning.message


def test_crp_and_rp_selecting_one_object_is_co_ownership(fleet_dir):
    fleet = FLEET.replace(", selectionScope: NamespaceOnly", "")
    make(fleet_dir)
    fleet_dir.write("fleet.yaml", textwrap.dedent(fleet).lstrip("\n"))
    result = fleet_dir.compile()
    assert any("co-ownership is disallowed" in e for e in errors(result))


def test_rp_has_its_own_lines_in_status_explain_and_diff(fleet_dir, cli):
    result = make(fleet_dir)
    report = status_view.status(result.compilation)
    [item] = [p for p in report["placements"] if p["name"] == "app/web"]
    assert item["kind"] == "ResourcePlacement" and item["namespace"] == "app"
    assert "ResourcePlacement app/web (PickAll)" in status_view.status_text(report)
    out = run(cli, "explain", "app/web", "-f", str(fleet_dir.root), "--format", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["name"] == "app/web"  # warnings go to stderr
    (fleet_dir.root / "hub/rp.yaml").unlink()
    before = fleet_dir.compile()
    changes = diff.compare(before.compilation, result.compilation, "base", "head")
    assert "ResourcePlacement app/web added" in changes.policies
    assert ("app/web", "east-1", "gained") in [
        (p.placement, p.cluster, p.change) for p in changes.placements
    ]
