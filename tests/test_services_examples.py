"""The multi-cluster Services examples: they render, pass 'fleetc check', and every object of
the feature validates against the upstream CRDs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import crdschema
import pytest
import yaml
from conftest import REPO, run

EXAMPLES = REPO / "examples"
NAMES = ("ack-one", "azure-fleet-l4")
HUB_INTERNAL = {
    "InternalServiceExport",
    "InternalServiceImport",
    "EndpointSliceExport",
    "EndpointSliceImport",
}


def rendered(name: str) -> dict[str, dict[str, Any]]:
    """Committed output of an example: path relative to rendered/ -> object."""
    base = EXAMPLES / name / "rendered"
    return {
        p.relative_to(base).as_posix(): yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted(base.rglob("*.yaml"))
        if p.name != "kustomization.yaml"
    }


@pytest.mark.parametrize("name", NAMES)
def test_example_is_rendered_and_checked(cli, name):
    result = run(cli, "check", "-f", str(EXAMPLES / name))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", NAMES)
def test_example_renders_cleanly_from_scratch(cli, tmp_path, name):
    copy = tmp_path / name
    shutil.copytree(EXAMPLES / name, copy, ignore=shutil.ignore_patterns("rendered", "*.lock"))
    result = run(cli, "render", "--strict", "-f", str(copy))
    assert result.exit_code == 0, result.output
    assert (copy / "fleet.lock").read_bytes() == (EXAMPLES / name / "fleet.lock").read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_example_objects_validate_against_the_crds(name):
    objects = [o for o in rendered(name).values() if crdschema.has_crd(o)]
    assert objects
    for obj in objects:
        assert crdschema.errors(obj) == [], obj
        assert obj["kind"] not in HUB_INTERNAL


def test_ack_one_consumer_imports_service1():
    files = rendered("ack-one")
    assert (
        files["provider/provider-ns/serviceexport.multicluster.x-k8s.io_service1.yaml"][
            "apiVersion"
        ]
        == "multicluster.x-k8s.io/v1alpha1"
    )
    consumer = {path for path in files if path.startswith("consumer/")}
    assert consumer == {
        "consumer/_cluster/namespace_provider-ns.yaml",
        "consumer/provider-ns/serviceimport.multicluster.x-k8s.io_service1.yaml",
        "consumer/kube-system/configmap_coredns.yaml",
        "consumer/_cluster/clusterrole.rbac.authorization.k8s.io_coredns-mcsapi.yaml",
        "consumer/_cluster/clusterrolebinding.rbac.authorization.k8s.io_coredns-mcsapi.yaml",
    }
    imported = files["consumer/provider-ns/serviceimport.multicluster.x-k8s.io_service1.yaml"]
    assert imported["spec"] == {
        "type": "ClusterSetIP",
        "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
        "sessionAffinity": "None",
    }
    # service1.provider-ns.svc.clusterset.local: the kubernetes block serves the zone.
    corefile = files["consumer/kube-system/configmap_coredns.yaml"]["data"]["Corefile"]
    assert "kubernetes cluster.local clusterset.local in-addr.arpa ip6.arpa {" in corefile
    assert "multicluster clusterset.local" in corefile


def test_azure_fleet_l4_exports_from_both_members_and_balances_on_one():
    files = rendered("azure-fleet-l4")
    kinds = {
        (path.split("/")[0], obj["kind"], obj["metadata"]["name"])
        for path, obj in files.items()
        if obj["apiVersion"].startswith("networking.fleet.azure.com/")
    }
    assert kinds == {
        ("aks-member-1", "ServiceExport", "kuard"),
        ("aks-member-1", "ServiceExport", "kuard-internal"),
        ("aks-member-2", "ServiceExport", "kuard"),
        ("aks-member-2", "ServiceExport", "kuard-internal"),
        ("aks-member-1", "MultiClusterService", "kuard"),
        ("aks-member-1", "MultiClusterService", "kuard-internal"),
    }
    base = "aks-member-1/kuard-demo/multiclusterservice.networking.fleet.azure.com_"
    internal = files[base + "kuard-internal.yaml"]["metadata"]["annotations"]
    public = files[base + "kuard.yaml"]["metadata"]["annotations"]
    assert internal["networking.fleet.azure.com/azure-load-balancer-internal"] == "true"
    assert "networking.fleet.azure.com/azure-load-balancer-internal" not in public


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize(
    "folder", ["ack-one/rendered/consumer", "azure-fleet-l4/rendered/aks-member-1"]
)
def test_rendered_clusters_build_with_kustomize(folder):
    done = subprocess.run(
        ["kubectl", "kustomize", str(Path(EXAMPLES / folder))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
