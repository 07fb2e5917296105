"""Rendering: layout, pruning, flux-system, atomicity, byte stability, and the check gate."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from bootstrap_files import write_bootstrap
from conftest import REPO, run

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: demo
spec:
  placements:
    - name: web
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: web}
      policy:
        affinity:
          clusterAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              clusterSelectorTerms:
                - labelSelector: {matchLabels: {tier: web}}
"""

HUB = """
apiVersion: v1
kind: Namespace
metadata:
  name: web
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: web
data:
  mode: "on"
  script: |
    echo one
    echo two
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
  namespace: web
rules: []
"""


@pytest.fixture
def fleet(fleet_dir):
    fleet_dir.write("fleet.yaml", FLEET)
    fleet_dir.write("hub/web.yaml", HUB)
    fleet_dir.cluster("c1", {"tier": "web"})
    fleet_dir.cluster("c2", {"tier": "web"})
    fleet_dir.cluster("c3", {"tier": "batch"})
    return fleet_dir


def render(cli, fleet, *extra):
    return run(cli, "render", "-f", str(fleet.root), *extra)


def test_layout_is_one_file_per_object_with_a_kustomization(cli, fleet):
    assert render(cli, fleet).exit_code == 0
    assert sorted(fleet.files()) == [
        "c1/_cluster/namespace_web.yaml",
        "c1/kustomization.yaml",
        "c1/web/configmap_settings.yaml",
        "c1/web/role.rbac.authorization.k8s.io_reader.yaml",
        "c2/_cluster/namespace_web.yaml",
        "c2/kustomization.yaml",
        "c2/web/configmap_settings.yaml",
        "c2/web/role.rbac.authorization.k8s.io_reader.yaml",
        "c3/kustomization.yaml",
    ]


GOLDEN_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: web
  annotations:
    fleetc.io/placement: web
    fleetc.io/source: hub/web.yaml
data:
  mode: 'on'
  script: |
    echo one
    echo two
"""

GOLDEN_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- _cluster/namespace_web.yaml
- web/configmap_settings.yaml
- web/role.rbac.authorization.k8s.io_reader.yaml
"""


def test_rendered_yaml_is_conventional_and_annotated(cli, fleet):
    render(cli, fleet)
    files = fleet.files()
    assert files["c1/web/configmap_settings.yaml"].decode() == GOLDEN_CONFIGMAP
    assert files["c1/kustomization.yaml"].decode() == GOLDEN_KUSTOMIZATION
    assert files["c3/kustomization.yaml"].decode().endswith("resources: []\n")


def test_pruning_objects_and_clusters(cli, fleet):
    render(cli, fleet)
    fleet.write("hub/web.yaml", HUB.split("---\napiVersion: rbac")[0])
    (fleet.root / "clusters/c2.yaml").unlink()
    result = render(cli, fleet)
    assert "5 removed" in result.output  # c1's Role, and all four files of c2
    files = fleet.files()
    assert "c1/web/role.rbac.authorization.k8s.io_reader.yaml" not in files
    assert not any(path.startswith("c2/") for path in files)
    assert "role" not in files["c1/kustomization.yaml"].decode()


def test_flux_system_folder_is_kept_and_applied(cli, fleet):
    render(cli, fleet)
    written = write_bootstrap(fleet, "c1")
    assert render(cli, fleet).exit_code == 0
    for rel, text in written.items():
        assert (fleet.root / rel).read_text() == text
    assert fleet.files()["c1/kustomization.yaml"].decode().endswith("- flux-system\n")
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0


def test_a_failing_input_leaves_the_previous_output_untouched(cli, fleet):
    render(cli, fleet)
    before = fleet.files()
    lock = (fleet.root / "fleet.lock").read_bytes()
    fleet.write("hub/web.yaml", HUB + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    fleet.cluster("c4", {"tier": "web"})
    result = render(cli, fleet)
    assert result.exit_code == 1
    assert fleet.files() == before
    assert (fleet.root / "fleet.lock").read_bytes() == lock


def test_unchanged_files_are_not_rewritten(cli, fleet):
    render(cli, fleet)
    path = fleet.root / "rendered/c1/web/configmap_settings.yaml"
    inode = path.stat().st_ino
    fleet.cluster("c4", {"tier": "web"})
    result = render(cli, fleet)
    assert "4 file(s) written" in result.output
    assert path.stat().st_ino == inode
    assert not list(fleet.root.glob(".fleetc-staging-*"))


def test_check_reports_stale_missing_and_extra_files(cli, fleet):
    render(cli, fleet)
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0
    (fleet.root / "rendered/c1/web/configmap_settings.yaml").write_text("edited\n")
    (fleet.root / "rendered/c2/_cluster/namespace_web.yaml").unlink()
    fleet.write("rendered/c3/stray.yaml", "kind: Stray\n")
    result = run(cli, "check", "-f", str(fleet.root))
    assert result.exit_code == 1
    assert "stale:   c1/web/configmap_settings.yaml" in result.output
    assert "missing: c2/_cluster/namespace_web.yaml" in result.output
    assert "extra:   c3/stray.yaml" in result.output


def test_check_fails_when_fleet_lock_is_missing(cli, fleet):
    render(cli, fleet)
    (fleet.root / "fleet.lock").unlink()
    result = run(cli, "check", "-f", str(fleet.root))
    assert result.exit_code == 1 and "fleet.lock" in result.output


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds_every_example_cluster():
    folders = [p for p in sorted((REPO / "rendered").iterdir()) if p.is_dir()]
    for examples in (
        sorted((REPO / "examples").glob("*/rendered")) if (REPO / "examples").is_dir() else []
    ):
        folders += [p for p in sorted(examples.iterdir()) if p.is_dir()]
    assert folders
    for folder in folders:
        built = subprocess.run(
            ["kubectl", "kustomize", str(folder)], capture_output=True, text=True
        )
        assert built.returncode == 0, f"{folder}: {built.stderr}"
