"""Every bad input is a diagnostic with file and line; one run reports all of them."""

from __future__ import annotations

import pytest

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: demo
spec:
  placements:
{placements}
"""

PLACEMENT = """\
    - name: web
      resourceSelectors:
        - group: ""
          version: v1
          kind: Namespace
          name: web
"""

HUB = """
apiVersion: v1
kind: Namespace
metadata:
  name: web
"""


@pytest.fixture
def fleet(memory_fleet):
    memory_fleet.write("fleet.yaml", FLEET.format(placements=PLACEMENT))
    memory_fleet.write("hub/web.yaml", HUB)
    memory_fleet.cluster("c1", {"region": "east"})
    memory_fleet.cluster("c2", {"region": "west"})
    return memory_fleet


def errors(result) -> list[str]:
    return [f"{d.position.file}:{d.position.line}: {d.message}" for d in result.diagnostics.errors]


def test_clean_fleet_compiles(fleet):
    result = fleet.compile()
    assert result.ok, errors(result)
    assert result.compilation.outcomes["web"].selected == ["c1", "c2"]


def test_unknown_field_is_an_error_at_its_line(fleet):
    fleet.write(
        "fleet.yaml",
        FLEET.format(placements=PLACEMENT).replace(
            "  placements:", "  placemnts: []\n  placements:"
        ),
    )
    result = fleet.compile()
    (message,) = errors(result)
    assert message.startswith("fleet.yaml:6: unknown field 'placemnts'")


def test_schema_violations_in_cluster_files(fleet):
    fleet.write(
        "clusters/bad.yaml",
        """
        apiVersion: fleetc.io/v1alpha1
        kind: Cluster
        metadata:
          name: Bad_Name
        status:
          state: Sleeping
        """,
    )
    found = errors(fleet.compile())
    assert any(m.startswith("clusters/bad.yaml:4:") and "does not match" in m for m in found)
    assert any(m.startswith("clusters/bad.yaml:6:") and "Sleeping" in m for m in found)


def test_duplicate_cluster_and_duplicate_object(fleet):
    fleet.write(
        "clusters/again.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: c1\n",
    )
    fleet.write("hub/again.yaml", HUB)
    found = errors(fleet.compile())
    # Files are read in name order, so again.yaml comes first and c1.yaml / web.yaml repeat it.
    assert (
        "clusters/c1.yaml:4: cluster 'c1' is defined twice (first at clusters/again.yaml:4:3)"
        in found
    )
    assert "hub/web.yaml:4: Namespace/web is defined twice (first at hub/again.yaml:4:3)" in found


def test_unknown_cluster_name_gets_a_did_you_mean_hint(fleet):
    placement = (
        PLACEMENT
        + "      policy:\n        placementType: PickFixed\n        clusterNames: [c3x, c1x]\n"
    )
    fleet.write("fleet.yaml", FLEET.format(placements=placement))
    result = fleet.compile()
    diags = result.diagnostics.errors
    assert [d.position.line for d in diags] == [15, 15]
    assert "not in the inventory" in diags[0].message
    assert diags[1].hint == "did you mean 'c1'?"


def test_invalid_label_selector(fleet):
    placement = PLACEMENT.replace(
        "          name: web\n",
        "          labelSelector:\n            matchExpressions:\n              - key: team\n                operator: In\n",
    )
    fleet.write("fleet.yaml", FLEET.format(placements=placement))
    (message,) = errors(fleet.compile())
    assert "operator In needs at least one value" in message


def test_non_dns_names_and_missing_namespace(fleet):
    fleet.write(
        "hub/bad.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: ../../etc
          namespace: web
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        """,
    )
    found = errors(fleet.compile())
    assert any(
        "hub/bad.yaml:4: object name '../../etc' is not a valid Kubernetes name" in m for m in found
    )
    assert any(
        "ConfigMap 'settings' is namespaced but has no metadata.namespace" in m for m in found
    )


def test_missing_and_escaping_resource_paths(fleet):
    fleet.write(
        "fleet.yaml",
        FLEET.format(placements=PLACEMENT).replace(
            "spec:\n", "spec:\n  resources: [hub/, missing/, ../outside, /etc]\n"
        ),
    )
    found = errors(fleet.compile())
    assert any("fleet.yaml:6: resource path 'missing/' does not exist" in m for m in found)
    assert any("'../outside' points outside the repository" in m for m in found)
    assert any("'/etc' is an absolute path" in m for m in found)


def test_yaml_errors_are_reported_together(fleet):
    fleet.write("hub/broken.yaml", "a: [1\n")
    fleet.write("clusters/dup.yaml", "apiVersion: fleetc.io/v1alpha1\napiVersion: x\n")
    found = errors(fleet.compile())
    assert any(m.startswith("hub/broken.yaml") and "syntax error" in m for m in found)
    assert any(m.startswith("clusters/dup.yaml:2") and "duplicate key" in m for m in found)


def test_membercluster_documents_are_inventory(fleet):
    fleet.write(
        "clusters/member.yaml",
        """
        apiVersion: cluster.kubernetes-fleet.io/v1
        kind: MemberCluster
        metadata:
          name: m1
          labels:
            region: east
        spec:
          identity: {kind: ServiceAccount, name: fleet-member-agent, namespace: fleet-system}
          taints:
            - {key: gpu, value: "true", effect: NoSchedule}
        status:
          agentStatus:
            - type: MemberAgent
              conditions:
                - {type: Joined, status: "True"}
                - {type: Healthy, status: "True"}
          properties:
            kubernetes-fleet.io/node-count: {value: "4", observationTime: "2024-01-01T00:00:00Z"}
            k8s.io/k8s-version: {value: "v1.31.2"}
          resourceUsage:
            allocatable: {cpu: "8", memory: 32Gi}
        """,
    )
    result = fleet.compile()
    assert result.ok, errors(result)
    cluster = result.compilation.fleet.clusters["m1"]
    assert cluster.labels == {"region": "east"}
    assert cluster.properties["kubernetes-fleet.io/node-count"] == "4"
    assert cluster.kubernetes_version == "v1.31.2"
    assert cluster.resource_usage["allocatable"] == {"cpu": "8", "memory": "32Gi"}
    assert cluster.ineligible_reason is None
    assert [t.key for t in cluster.taints] == ["gpu"]


@pytest.mark.parametrize(
    ("agent", "reason"),
    [
        ("", "cluster is not connected to the fleet: member agent not online yet"),
        (
            "  agentStatus:\n    - type: MemberAgent\n      conditions: [{type: Joined, status: 'False'}]\n",
            "cluster is not connected to the fleet: member agent not joined yet",
        ),
        (
            "  agentStatus:\n    - type: MemberAgent\n      conditions: [{type: Joined, status: 'True'}]\n",
            "cluster is not connected to the fleet: health condition from member agent is not available",
        ),
    ],
)
def test_membercluster_eligibility_follows_agent_conditions(fleet, agent, reason):
    fleet.write(
        "clusters/member.yaml",
        "apiVersion: cluster.kubernetes-fleet.io/v1beta1\nkind: MemberCluster\nmetadata:\n  name: m1\n"
        + ("status:\n" + agent if agent else ""),
    )
    result = fleet.compile()
    assert result.compilation.fleet.clusters["m1"].ineligible_reason == reason
