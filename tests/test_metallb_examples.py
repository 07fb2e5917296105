"""The MetalLB examples: they render, `fleetc check` passes, every object is CRD-valid, and the
configuration lands in its own bundle for Flux."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from conftest import REPO, FleetDir, run
from crdschema import errors as crd_errors
from metallb_helpers import pool_addresses

EXAMPLES = ("arc-metallb", "baremetal-sites")
STATUS_ONLY = {"ServiceL2Status", "ServiceBGPStatus", "ConfigurationState"}


@pytest.fixture(params=EXAMPLES)
def metallb_example(request, tmp_path) -> FleetDir:
    shutil.copytree(REPO / "examples" / request.param, tmp_path / "fleet")
    return FleetDir(tmp_path / "fleet")


@pytest.mark.parametrize("name", EXAMPLES)
def test_committed_example_is_up_to_date(cli, name):
    result = run(cli, "check", "-f", str(REPO / "examples" / name))
    assert result.exit_code == 0, result.output


def test_every_rendered_metallb_object_validates_against_the_crds(metallb_example):
    rendered = metallb_example.files()
    objects = [
        yaml.safe_load(data)
        for path, data in rendered.items()
        if "/metallb-config/" in path and not path.endswith("kustomization.yaml")
    ]
    assert objects
    for body in objects:
        assert body["kind"] not in STATUS_ONLY
        assert crd_errors(body) == [], body
    assert {b["apiVersion"] for b in objects if b["kind"] == "BGPPeer"} <= {"metallb.io/v1beta2"}


def test_metallb_objects_are_a_bundle_the_cluster_root_does_not_include(metallb_example):
    result = metallb_example.compile()
    assert result.ok
    assert result.compilation.bundle_dependencies["metallb-config"] in (
        ("metallb",),
        ("arc-metallb-extension",),
    )
    for cluster in result.compilation.clusters:
        root = yaml.safe_load(result.files[f"{cluster}/kustomization.yaml"])
        assert not any(r.startswith("metallb") for r in root["resources"])
        bundle = yaml.safe_load(result.files[f"{cluster}/metallb-config/kustomization.yaml"])
        on_disk = sorted(
            p.removeprefix(f"{cluster}/metallb-config/")
            for p in result.files
            if p.startswith(f"{cluster}/metallb-config/") and not p.endswith("kustomization.yaml")
        )
        assert bundle["resources"] == on_disk
        flux = yaml.safe_load(
            result.files[
                f"{cluster}/_flux-system/kustomization.kustomize.toolkit.fluxcd.io_metallb-config.yaml"
            ]
        )
        assert flux["spec"]["dependsOn"] == [
            {
                "name": result.compilation.bundle_dependencies["metallb-config"][0],
                "namespace": "flux-system",
            }
        ]
        assert flux["spec"]["path"].endswith(f"/{cluster}/metallb-config")


def test_arc_example_puts_everything_in_kube_system():
    result = FleetDir(REPO / "examples" / "arc-metallb").compile()
    assert result.ok
    objects = result.compilation.clusters["arc-local-1"]
    assert {(k.kind, k.namespace, k.name) for k in objects if k.group == "metallb.io"} == {
        ("IPAddressPool", "kube-system", "lb1"),
        ("L2Advertisement", "kube-system", "lb1"),
        ("BGPAdvertisement", "kube-system", "lb1"),
        ("BGPPeer", "kube-system", "peer1"),
    }
    assert result.compilation.bundle_dependencies == {"metallb-config": ("arc-metallb-extension",)}


def test_baremetal_sites_never_share_an_address_inside_a_site_except_anycast():
    result = FleetDir(REPO / "examples" / "baremetal-sites").compile()
    assert result.ok
    pools = pool_addresses(result)
    assert pools[("east-1", "anycast-dns")] == pools[("west-1", "anycast-dns")]
    east = [a for (c, p), a in pools.items() if c.startswith("east") and p != "anycast-dns"]
    flat = [x for addresses in east for x in addresses]
    assert len(flat) == len(set(flat)) == 5


def test_status_lists_each_clusters_pools_and_addresses():
    result = FleetDir(REPO / "examples" / "arc-metallb").compile()
    assert result.compilation.section_status()["loadBalancers"] == [
        {
            "cluster": "arc-local-1",
            "namespace": "kube-system",
            "pools": [
                {
                    "name": "lb1",
                    "addresses": ["192.168.50.100-192.168.50.120"],
                    "advertise": "Both",
                    "autoAssign": True,
                }
            ],
            "bgpPeers": ["peer1"],
        }
    ]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds_the_bundle():
    folder = REPO / "examples" / "baremetal-sites" / "rendered" / "east-1" / "metallb-config"
    out = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=True
    ).stdout
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(out))
    assert kinds == [
        "BGPAdvertisement",
        "BGPAdvertisement",
        "BGPPeer",
        "IPAddressPool",
        "IPAddressPool",
        "IPAddressPool",
        "L2Advertisement",
    ]


def test_the_crd_helper_rejects_what_the_crds_reject():
    peer = {
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {"name": "p", "namespace": "metallb-system"},
        "spec": {"myASN": 1, "peerPort": 0},
    }
    assert crd_errors(peer)
    pool = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": "p", "namespace": "metallb-system"},
        "spec": {},
    }
    assert crd_errors(pool)
