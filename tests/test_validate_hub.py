"""Hub manifests checked where they are written, against the schemas of the clusters they reach."""

from __future__ import annotations

from conftest import FleetDir, run

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: t
spec:
  placements:
    - name: web
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: web}
"""
DEPLOYMENT = """
apiVersion: v1
kind: Namespace
metadata:
  name: web
---
apiVersion: apps/v1
kind: KIND
metadata:
  name: app
  namespace: web
spec:
  replicas: REPLICAS
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
            - {containerPort: 80, PROTOCOL: TCP}
"""


def make(fleet_dir: FleetDir, kind="Deployment", replicas="3", protocol="protocol") -> FleetDir:
    fleet_dir.write("fleet.yaml", FLEET)
    hub = DEPLOYMENT.replace("KIND", kind).replace("REPLICAS", replicas)
    fleet_dir.write("hub/app.yaml", hub.replace("PROTOCOL", protocol))
    fleet_dir.cluster("old", spec="spec:\n  kubernetesVersion: '1.29'\n")
    fleet_dir.cluster("new", spec="spec:\n  kubernetesVersion: '1.33'\n")
    return fleet_dir


def errors(cli, fleet_dir: FleetDir) -> tuple[int, list[str]]:
    result = run(cli, "validate", "-f", str(fleet_dir.root))
    return result.exit_code, [line for line in result.stderr.splitlines() if ": error" in line]


def test_valid_manifests_pass(cli, fleet_dir):
    assert errors(cli, make(fleet_dir)) == (0, [])


def test_a_quoted_number_is_reported_once_at_the_hub_file(cli, fleet_dir):
    code, found = errors(cli, make(fleet_dir, replicas='"3"'))
    assert code == 1
    assert found == [
        "hub/app.yaml:12:3: error: Deployment (apps/v1): spec.replicas: expected integer, got "
        "'3' (Kubernetes 1.29 and 1.33 schema) [at spec.replicas]"
    ]


def test_a_field_typo_gets_a_did_you_mean(cli, fleet_dir):
    result = run(cli, "validate", "-f", str(make(fleet_dir, protocol="protocl").root))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    at = lines.index(
        "hub/app.yaml:23:35: error: Deployment (apps/v1): "
        "spec.template.spec.containers[0].ports[0].protocl: unknown field 'protocl' "
        "(Kubernetes 1.29 and 1.33 schema) [at spec.template.spec.containers[0].ports[0].protocl]"
    )
    assert lines[at + 1] == "  hint: did you mean 'protocol'?"


def test_a_kind_typo_gets_a_did_you_mean(cli, fleet_dir):
    result = run(cli, "validate", "-f", str(make(fleet_dir, kind="Deploymnet").root))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    at = lines.index(
        "hub/app.yaml:7:1: error: Deploymnet (apps/v1): kind: Kubernetes serves no apps/v1 "
        "Deploymnet (Kubernetes 1.29 and 1.33 schema) [at kind]"
    )
    assert lines[at + 1] == "  hint: did you mean 'Deployment'?"


def test_render_refuses_what_validate_reports(cli, fleet_dir):
    make(fleet_dir, replicas='"3"')
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 1
    assert not (fleet_dir.root / "rendered").exists()


def test_custom_resources_are_checked_against_a_crd_in_spec_crds(cli, fleet_dir):
    make(fleet_dir)
    fleet_dir.write("fleet.yaml", FLEET + "  crds: [crds/]\n")
    fleet_dir.write(
        "crds/widget.yaml",
        """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.example.com
        spec:
          group: example.com
          scope: Namespaced
          names: {kind: Widget, plural: widgets}
          versions:
            - name: v1
              served: true
              storage: true
              schema:
                openAPIV3Schema:
                  type: object
                  properties:
                    spec:
                      type: object
                      properties:
                        size: {type: integer}
        """,
    )
    fleet_dir.write(
        "hub/widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: web\n"
        "spec:\n  size: big\n",
    )
    code, found = errors(cli, fleet_dir)
    assert code == 1
    assert found == [
        "hub/widget.yaml:7:3: error: Widget (example.com/v1): spec.size: expected integer, got "
        "'big' (CRD widgets.example.com) [at spec.size]"
    ]


def test_spec_crds_stay_inside_the_repository(cli, fleet_dir):
    make(fleet_dir)
    fleet_dir.write("fleet.yaml", FLEET + "  crds: [../outside/]\n")
    code, found = errors(cli, fleet_dir)
    assert code == 1
    assert found == [
        "fleet.yaml:10:10: error: CRD path '../outside/' points outside the repository "
        "[at spec.crds[0]]"
    ]
