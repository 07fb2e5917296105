"""clusterset DNS: the CoreDNS Corefile rewrite, the opt-in and the RBAC."""

from __future__ import annotations

import pytest
from fleetc.core.model import ObjectKey
from fleetc.sections.services.dns import CorefileError, built_in, with_multicluster

KUBEADM = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    forward . /etc/resolv.conf
    cache 30 # comment { with a brace
    reload
}
"""

COREDNS = ObjectKey("", "ConfigMap", "kube-system", "coredns")
ROLE = ObjectKey("rbac.authorization.k8s.io", "ClusterRole", "", "coredns-mcsapi")
BINDING = ObjectKey("rbac.authorization.k8s.io", "ClusterRoleBinding", "", "coredns-mcsapi")


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.9.3", False), ("1.12.1", False), ("1.12.2", True), ("v1.13.0", True), ("2.0.0", True)],
)
def test_built_in_since_1_12_2(version, expected):
    assert built_in(version) is expected


def test_built_in_form_makes_the_kubernetes_block_authoritative():
    assert with_multicluster(KUBEADM, builtin=True) == KUBEADM.replace(
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n",
        "    kubernetes cluster.local clusterset.local in-addr.arpa ip6.arpa {\n"
        "       multicluster clusterset.local\n",
    )


def test_external_plugin_form_follows_the_kubernetes_block():
    assert with_multicluster(KUBEADM, builtin=False) == KUBEADM.replace(
        "       ttl 30\n    }\n", "       ttl 30\n    }\n    multicluster clusterset.local\n"
    )


def test_kubernetes_without_a_block_gets_one():
    base = ".:53 {\n    kubernetes cluster.local\n    forward . /etc/resolv.conf\n}\n"
    assert with_multicluster(base, builtin=True) == (
        ".:53 {\n    kubernetes cluster.local clusterset.local {\n"
        "        multicluster clusterset.local\n    }\n    forward . /etc/resolv.conf\n}\n"
    )


@pytest.mark.parametrize(
    ("base", "reason"),
    [
        (".:53 {\n    forward . /etc/resolv.conf\n}\n", "no kubernetes plugin"),
        (".:53 {\n    kubernetes cluster.local {\n        pods insecure\n", "not closed"),
        (KUBEADM.replace("reload", "multicluster clusterset.local"), "already configures"),
    ],
)
def test_unusable_base_corefiles(base, reason):
    with pytest.raises(CorefileError, match=reason):
        with_multicluster(base, builtin=True)


def make_fleet(fleet_dir, dns_spec: str, *, corefile: bool = True, api: str = "mcs-api"):
    block = "".join(f"      {line}\n" for line in KUBEADM.splitlines())
    fleet_dir.write(
        "fleet.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Fleet\nmetadata:\n  name: t\nspec:\n"
        "  services:\n" + (f"    corefile: |\n{block}" if corefile else "    items: []\n"),
    )
    fleet_dir.write("hub/.keep.yaml", "")
    fleet_dir.cluster(
        "dns", spec=f"spec:\n  multicluster:\n    api: {api}\n    clustersetDNS:\n{dns_spec}"
    )
    fleet_dir.cluster("plain")


def test_opt_in_renders_configmap_and_rbac(memory_fleet):
    make_fleet(memory_fleet, "      coreDNSVersion: 1.12.2\n")
    result = memory_fleet.compile()
    assert result.ok, [d.format() for d in result.diagnostics]
    objects = result.compilation.clusters["dns"]
    assert objects[COREDNS].body["data"] == {"Corefile": with_multicluster(KUBEADM, builtin=True)}
    assert objects[ROLE].body["rules"] == [
        {
            "apiGroups": ["multicluster.x-k8s.io"],
            "resources": ["serviceimports"],
            "verbs": ["list", "watch"],
        }
    ]
    assert objects[BINDING].body["subjects"] == [
        {"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}
    ]
    assert objects[BINDING].body["roleRef"]["name"] == "coredns-mcsapi"
    assert result.compilation.clusters["plain"] == {}
    assert "dns/kube-system/configmap_coredns.yaml" in result.files


def test_cluster_corefile_and_old_coredns_use_the_external_plugin(memory_fleet):
    own = ".:53 {\n  kubernetes cluster.local\n}\n"
    make_fleet(
        memory_fleet,
        "      coreDNSVersion: 1.11.3\n      corefile: |\n"
        + "".join(f"        {line}\n" for line in own.splitlines()),
        corefile=False,
    )
    result = memory_fleet.compile()
    assert result.ok, [d.format() for d in result.diagnostics]
    corefile = result.compilation.clusters["dns"][COREDNS].body["data"]["Corefile"]
    assert corefile == ".:53 {\n  kubernetes cluster.local\n  multicluster clusterset.local\n}\n"


def test_azure_fleet_cluster_cannot_opt_in(memory_fleet):
    make_fleet(memory_fleet, "      coreDNSVersion: 1.12.2\n", api="azure-fleet")
    result = memory_fleet.compile()
    assert [d.message for d in result.diagnostics.errors] == [
        "cluster 'dns' runs azure-fleet, which has no clusterset.local DNS"
    ]
    assert result.diagnostics.errors[0].position.file == "clusters/dns.yaml"


def test_opt_in_needs_a_base_corefile(memory_fleet):
    make_fleet(memory_fleet, "      coreDNSVersion: 1.12.2\n", corefile=False)
    result = memory_fleet.compile()
    assert [d.message for d in result.diagnostics.errors] == [
        "cluster 'dns' opts into clusterset DNS but no base Corefile is given"
    ]


def test_bad_base_corefile_is_reported_where_it_is_written(memory_fleet):
    make_fleet(memory_fleet, "      coreDNSVersion: 1.12.2\n      corefile: 'x {}'\n")
    result = memory_fleet.compile()
    (error,) = result.diagnostics.errors
    assert error.message == (
        "cannot add clusterset DNS to the base Corefile for cluster 'dns': "
        "it has no kubernetes plugin inside a server block"
    )
    assert (error.position.file, error.path) == (
        "clusters/dns.yaml",
        "spec.multicluster.clustersetDNS.corefile",
    )


def test_coredns_version_is_required_and_checked(memory_fleet):
    make_fleet(memory_fleet, "      coreDNSVersion: latest\n")
    result = memory_fleet.compile()
    assert [d.message for d in result.diagnostics.errors] == [
        '"latest" does not match the required format: a version such as 1.12.2'
    ]


@pytest.mark.parametrize(("version", "ok"), [("1.9.2", False), ("v1.8.7", False), ("1.9.3", True)])
def test_coredns_below_the_plugins_minimum_is_refused(fleet_dir, version, ok):
    make_fleet(fleet_dir, f"      coreDNSVersion: {version}\n")
    result = fleet_dir.compile()
    if ok:
        assert result.ok, [d.format() for d in result.diagnostics]
        return
    (error,) = result.diagnostics.errors
    assert error.message == (
        f"cluster 'dns' runs CoreDNS {version}, older than the multicluster plugin's minimum 1.9.3"
    )
    assert str(error.position) == "clusters/dns.yaml:9:7"
