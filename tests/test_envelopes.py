"""ClusterResourceEnvelope / ResourceEnvelope: wrapped manifests are delivered and overridden."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from conftest import SHARED_CRDS, needs_crds
from fleetc.core.model import ObjectKey

ROLE = ObjectKey("rbac.authorization.k8s.io", "ClusterRole", "", "reader")
CONFIGMAP = ObjectKey("", "ConfigMap", "app", "wrapped")
CRE = ObjectKey("placement.kubernetes-fleet.io", "ClusterResourceEnvelope", "", "rbac")
RE = ObjectKey("placement.kubernetes-fleet.io", "ResourceEnvelope", "app", "configs")

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: test
spec:
  placements:
    - name: apps
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
        - {group: placement.kubernetes-fleet.io, version: v1beta1, kind: ClusterResourceEnvelope,
           name: rbac}
"""

HUB = """
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourceEnvelope
metadata:
  name: rbac
data:
  "reader.yaml":
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata:
      name: reader
    rules: []
---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ResourceEnvelope
metadata:
  name: configs
  namespace: app
data:
  "cm.yaml":
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: wrapped
    data:
      colour: blue
"""

OVERRIDES = """
  overrides:
    - name: colour
      kind: ResourceOverride
      namespace: app
      resourceSelectors:
        - {group: "", version: v1, kind: ConfigMap, name: wrapped}
      policy:
        overrideRules:
          - clusterSelector:
              clusterSelectorTerms:
                - labelSelector: {matchLabels: {region: west}}
            jsonPatchOverrides:
              - {op: replace, path: /data/colour, value: "${MEMBER-CLUSTER-NAME}"}
    - name: no-role-in-east
      kind: ClusterResourceOverride
      clusterResourceSelectors:
        - {group: rbac.authorization.k8s.io, version: v1, kind: ClusterRole, name: reader}
      policy:
        overrideRules:
          - clusterSelector:
              clusterSelectorTerms:
                - labelSelector: {matchLabels: {region: east}}
            overrideType: Delete
"""


def make_fleet(fleet_dir, hub: str = HUB, overrides: str = ""):
    fleet_dir.write("fleet.yaml", textwrap.dedent(FLEET).lstrip("\n") + overrides)
    fleet_dir.write("hub/app.yaml", hub)
    fleet_dir.cluster("east-1", {"region": "east"})
    fleet_dir.cluster("west-1", {"region": "west"})
    return fleet_dir.compile()


def errors(result):
    return [d.format() for d in result.diagnostics.errors]


def test_envelopes_deliver_their_manifests_not_themselves(memory_fleet):
    result = make_fleet(memory_fleet)
    assert result.ok, errors(result)
    for cluster in ("east-1", "west-1"):
        placed = result.compilation.clusters[cluster]
        assert CRE not in placed and RE not in placed
        assert placed[ROLE].body["rules"] == []
        # An entry without a namespace gets its ResourceEnvelope's.
        assert placed[CONFIGMAP].body["metadata"] == {"name": "wrapped", "namespace": "app"}
        assert placed[CONFIGMAP].placements == ("apps",)
    assert "west-1/app/configmap_wrapped.yaml" in result.files
    assert not any("envelope" in path for path in result.files)


def test_wrapped_manifests_are_overridden_like_any_other_object(memory_fleet):
    result = make_fleet(memory_fleet, overrides=OVERRIDES)
    assert result.ok, errors(result)
    placed = result.compilation.clusters
    assert placed["west-1"][CONFIGMAP].body["data"] == {"colour": "west-1"}
    assert placed["east-1"][CONFIGMAP].body["data"] == {"colour": "blue"}
    assert ROLE not in placed["east-1"]
    assert ROLE in placed["west-1"]
    text = result.files["west-1/app/configmap_wrapped.yaml"].decode()
    assert "fleetc.io/overrides: app/colour" in text
    assert "fleetc.io/source: hub/app.yaml" in text


def test_cluster_envelope_rejects_namespaced_objects(memory_fleet):
    hub = HUB.replace(
        "      name: reader\n    rules: []",
        "      name: reader\n      namespace: app\n    rules: []",
    ).replace("kind: ClusterRole", "kind: Role")
    [message] = errors(make_fleet(memory_fleet, hub))
    assert "ClusterResourceEnvelope 'rbac' entry 'reader.yaml'" in message
    assert "wraps cluster-scoped objects only" in message
    assert message.startswith("hub/app.yaml:14:")


def test_resource_envelope_rejects_other_namespaces(memory_fleet):
    hub = HUB.replace("      name: wrapped\n", "      name: wrapped\n      namespace: other\n")
    [message] = errors(make_fleet(memory_fleet, hub))
    assert "wraps objects of its own namespace 'app' only" in message
    assert message.startswith("hub/app.yaml:29:7:")


def test_resource_envelope_rejects_cluster_scoped_objects(memory_fleet):
    hub = HUB.replace(
        "    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: wrapped\n",
        "    apiVersion: v1\n    kind: Namespace\n    metadata:\n      name: wrapped\n",
    )
    [message] = errors(make_fleet(memory_fleet, hub))
    assert "a ResourceEnvelope wraps namespaced objects only; Namespace/wrapped" in message


def test_envelope_entries_must_be_objects(memory_fleet):
    hub = HUB.replace('  "cm.yaml":\n', '  "text.yaml": "kind: ConfigMap"\n  "cm.yaml":\n')
    [message] = errors(make_fleet(memory_fleet, hub))
    assert "entry 'text.yaml' must be a Kubernetes object" in message


def test_an_object_delivered_twice_is_an_error(memory_fleet):
    hub = HUB + textwrap.dedent(
        """\
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: wrapped
          namespace: app
        """
    )
    messages = errors(make_fleet(memory_fleet, hub))
    assert len(messages) == 2  # one per cluster
    assert "delivers ConfigMap/app/wrapped to cluster 'east-1'" in messages[0]


@needs_crds
@pytest.mark.parametrize("kind", ["clusterresourceenvelopes", "resourceenvelopes"])
def test_the_envelope_documents_match_the_upstream_crd_shape(kind):
    """Our examples use the served v1beta1 envelope with ``data`` as a map of objects."""
    path = SHARED_CRDS / "kubefleet" / f"placement.kubernetes-fleet.io_{kind}.yaml"
    crd = yaml.safe_load(path.read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    data = version["schema"]["openAPIV3Schema"]["properties"]["data"]
    assert data["type"] == "object"
    assert data["additionalProperties"]["type"] == "object"


def test_legacy_configmap_envelope_is_placed_verbatim_with_a_warning(fleet_dir):
    hub = HUB + textwrap.dedent(
        """
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: legacy
          namespace: app
          annotations:
            kubernetes-fleet.io/envelope-configmap: "true"
        data:
          role.yaml: |
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {name: r, namespace: app}
        """
    )
    result = make_fleet(fleet_dir, hub)
    assert result.ok, errors(result)
    legacy = ObjectKey("", "ConfigMap", "app", "legacy")
    placed = result.compilation.clusters["east-1"]
    assert "role.yaml" in placed[legacy].body["data"]
    assert ObjectKey("rbac.authorization.k8s.io", "Role", "app", "r") not in placed
    [warning] = [w for w in result.diagnostics.warnings if "legacy envelope" in w.message]
    assert str(warning.position) == "hub/app.yaml:39:5"
    assert "ResourceEnvelope" in warning.hint and "ClusterResourceEnvelope" in warning.hint
