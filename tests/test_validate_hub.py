"""Hub manifests checked where they are written, against the schemas of the clusters they reach."""

from __future__ import annotations

import subprocess

from conftest import FleetDir, run
from fleetc.core.memo import Memo
from fleetc.shell import cache, validate_hub
from widget_crd import spec_of, widget_crd

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


def widget_crd_of_size(size_type: str) -> str:
    """The Widget CRD whose ``spec.size`` is of ``size_type``."""
    return widget_crd(spec_of({"size": {"type": size_type}}))


WIDGET = (
    "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: web\n"
    "spec:\n  size: 3\n"
)


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
    fleet_dir.write("crds/widget.yaml", widget_crd_of_size("integer"))
    fleet_dir.write("hub/widget.yaml", WIDGET.replace("size: 3", "size: big"))
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


# -- the cache's memo: each object's problems, by what the check reads ---------------------


def in_git(fleet_dir: FleetDir) -> FleetDir:
    subprocess.run(["git", "init", "-q", str(fleet_dir.root)], check=True)
    return fleet_dir


def counting_checks(monkeypatch) -> list[str]:
    """The objects the schema check runs on from now on."""
    checked: list[str] = []
    real = validate_hub._problems

    def problems(hub, versions, crds):
        checked.append(hub.key.name)
        return real(hub, versions, crds)

    monkeypatch.setattr(validate_hub, "_problems", problems)
    return checked


def test_an_object_checked_before_is_not_checked_again(cli, fleet_dir, monkeypatch):
    make(in_git(fleet_dir))
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    fleet_dir.cluster("newer", spec="spec:\n  kubernetesVersion: '1.33'\n")  # no new version
    checked = counting_checks(monkeypatch)
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    assert checked == []
    fleet_dir.write("hub/app.yaml", fleet_dir.read("hub/app.yaml").replace("nginx", "nginx:2"))
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    assert checked == ["app"]  # the body changed; the Namespace's did not
    fleet_dir.cluster("oldest", spec="spec:\n  kubernetesVersion: '1.28'\n")
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    assert sorted(checked) == ["app", "app", "web"]  # another lowest version: both again


def test_a_problem_recalled_is_the_problem_found(cli, fleet_dir, monkeypatch):
    make(in_git(fleet_dir), protocol="protocl")
    first = run(cli, "render", "-f", str(fleet_dir.root))
    assert first.exit_code == 1 and "did you mean 'protocol'?" in first.stderr
    fleet_dir.cluster("newer", spec="spec:\n  kubernetesVersion: '1.33'\n")
    checked = counting_checks(monkeypatch)
    again = run(cli, "render", "-f", str(fleet_dir.root))
    assert checked == []
    assert again.exit_code == 1 and again.stderr == first.stderr


def test_a_remembered_problem_of_the_wrong_shape_is_checked_again(cli, fleet_dir, monkeypatch):
    make(in_git(fleet_dir), replicas='"3"')
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 1
    memo = cache.Cache(fleet_dir.root).memo()
    table = memo._earlier[validate_hub.MEMO_TABLE]
    assert any(table.values())  # the Deployment's problem
    broken = Memo({validate_hub.MEMO_TABLE: {k: [[1, 2]] if v else v for k, v in table.items()}})
    cache.Cache(fleet_dir.root).save_memo(recalled_all(broken))
    checked = counting_checks(monkeypatch)
    again = run(cli, "render", "-f", str(fleet_dir.root))
    assert checked == ["app"]
    assert again.exit_code == 1 and "spec.replicas: expected integer" in again.stderr


def recalled_all(memo: Memo) -> Memo:
    """``memo`` with every entry marked used, so that saving it keeps them all."""
    for table, entries in memo._earlier.items():
        for key in entries:
            memo.recall(table, key)
    return memo


def test_another_crd_schema_checks_its_resources_again(cli, fleet_dir, monkeypatch):
    make(in_git(fleet_dir))
    fleet_dir.write("hub/crd.yaml", widget_crd_of_size("integer"))
    fleet_dir.write("hub/widget.yaml", WIDGET)
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    fleet_dir.write("hub/crd.yaml", widget_crd_of_size("string"))
    checked = counting_checks(monkeypatch)
    again = run(cli, "render", "-f", str(fleet_dir.root))
    assert "w" in checked
    assert again.exit_code == 1 and "spec.size: expected string" in again.stderr
