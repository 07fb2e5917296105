"""MetalLB across its sources: hub objects in the metallb-config bundle, the install
Kustomization, localPref agreement per pool, and peers that cannot share a node."""

from __future__ import annotations

import pytest
from metallb_helpers import errors, indent, write_cluster, write_fleet
from test_metallb_rules import CLUSTER, SECOND, compile_one, lb, peer_cluster

PLACEMENT = """
placements:
  - name: metallb-extras
    resourceSelectors:
      - {group: "", version: v1, kind: Namespace, name: metallb-system}
      - {group: "", version: v1, kind: Namespace, name: flux-system}
"""

HUB = """
apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: flux-system}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: extra, namespace: metallb-system}
spec:
  addresses: ["10.0.0.64/29"]
"""

INSTALL = """
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: metallb, namespace: flux-system}
spec:
  interval: 10m
  path: ./infrastructure/metallb
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
"""


def compile_with_hub(fleet_dir, section: str, hub: str = HUB, *, install_provided=True):
    write_fleet(fleet_dir, section, install_provided=install_provided)
    text = (fleet_dir.root / "fleet.yaml").read_text()
    fleet_dir.write("fleet.yaml", text + indent(PLACEMENT, 2) + "\n")
    fleet_dir.write("hub/metallb.yaml", hub)
    write_cluster(fleet_dir, "c1", CLUSTER.replace("MODE", "frr-k8s"))
    return fleet_dir.compile()


def test_hub_metallb_objects_join_the_metallb_config_bundle(fleet_dir):
    result = compile_with_hub(fleet_dir, lb())
    assert result.ok, errors(result)
    pools = [p for p in result.files if "ipaddresspool" in p.lower()]
    assert sorted(pools) == [
        "c1/metallb-config/metallb-system/ipaddresspool.metallb.io_extra.yaml",
        "c1/metallb-config/metallb-system/ipaddresspool.metallb.io_web.yaml",
    ]
    # Hub MetalLB objects alone (no spec.loadBalancers) still wait for the install.
    result = compile_with_hub(fleet_dir, "")
    assert result.ok, errors(result)
    assert result.compilation.bundle_dependencies == {"metallb-config": ("metallb",)}
    assert "c1/metallb-config/metallb-system/ipaddresspool.metallb.io_extra.yaml" in result.files


def test_the_install_kustomization_must_be_rendered_or_declared(fleet_dir):
    result = compile_with_hub(fleet_dir, lb(), install_provided=False)
    [error] = result.diagnostics.errors
    assert error.message.startswith(
        "cluster 'c1' gets MetalLB configuration (bundle 'metallb-config') that waits for the "
        "Flux Kustomization 'metallb', which nothing renders for that cluster"
    )
    assert error.position.file == "fleet.yaml"
    assert "installProvided: true" in error.hint
    # Placed by the fleet: fine.
    result = compile_with_hub(fleet_dir, lb(), HUB + INSTALL, install_provided=False)
    assert result.ok, errors(result)


ADVERTISEMENT = """
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: extra-adv, namespace: metallb-system}
spec:
  ipAddressPools: [web]
  localPref: 200
"""


def test_advertisements_of_one_pool_must_agree_on_local_pref(fleet_dir):
    section = lb(advertise="BGP") + "    bgp: {localPref: 100}\n"
    result = compile_with_hub(fleet_dir, section, HUB + ADVERTISEMENT)
    [error] = [e for e in result.diagnostics.errors if "localPref" in e.message]
    assert error.message == (
        "BGPAdvertisements 'extra-adv' and 'web' on cluster 'c1' both advertise pool 'web' "
        "with different localPref (200 and 100)"
    )
    assert error.position.file == "fleet.yaml"
    # The same localPref, another aggregation length (both families), other peers or nodes
    # that cannot meet: no conflict.
    for spec in (
        "  localPref: 100\n",
        "  localPref: 200\n  aggregationLength: 30\n  aggregationLengthV6: 120\n",
        "  localPref: 200\n  peers: [other]\n",
    ):
        advertisement = ADVERTISEMENT.replace("  localPref: 200\n", spec)
        section = lb(advertise="BGP") + "    bgp:\n      localPref: 100\n"
        if "peers" in spec:  # an advertisement without peers goes to every peer
            section += "    bgpPeers: [tor]\n"
        result = compile_with_hub(fleet_dir, section, HUB + advertisement)
        assert not [e for e in errors(result) if "localPref" in e], spec


def test_two_hub_advertisements_of_all_pools_are_compared(fleet_dir):
    every = ADVERTISEMENT.replace("  ipAddressPools: [web]\n", "")
    other = every.replace("extra-adv", "other-adv").replace("200", "300")
    result = compile_with_hub(fleet_dir, "", HUB + every + other)
    [error] = result.diagnostics.errors
    assert "'extra-adv' and 'other-adv'" in error.message and "pool 'extra'" in error.message
    assert error.position.file == "hub/metallb.yaml"
    # On nodes that cannot meet, they never send one update.
    rack_a = every.replace(
        "  localPref: 200\n", "  localPref: 200\n  nodeSelectors: [{matchLabels: {rack: a}}]\n"
    )
    rack_b = other.replace(
        "  localPref: 300\n", "  localPref: 300\n  nodeSelectors: [{matchLabels: {rack: b}}]\n"
    )
    assert compile_with_hub(fleet_dir, "", HUB + rack_a + rack_b).ok


@pytest.mark.parametrize(
    ("first", "second", "compared"),
    [
        ("[{matchLabels: {rack: a}}]", "[{matchLabels: {rack: b}}]", False),
        (
            "[{matchExpressions: [{key: rack, operator: In, values: [a, b]}]}]",
            "[{matchExpressions: [{key: rack, operator: NotIn, values: [a, b]}]}]",
            False,
        ),
        (
            "[{matchLabels: {rack: a}}]",
            "[{matchExpressions: [{key: rack, operator: In, values: [c]}]}]",
            False,
        ),
        (
            "[{matchLabels: {rack: a}}]",
            "[{matchExpressions: [{key: rack, operator: DoesNotExist}]}]",
            False,
        ),
        ("[{matchLabels: {rack: a}}]", "[{matchLabels: {zone: z}}]", True),
        (
            "[{matchLabels: {rack: a}}, {matchLabels: {rack: b}}]",
            "[{matchLabels: {rack: b}}]",
            True,
        ),
        ("[]", "[{matchLabels: {rack: b}}]", True),
    ],
)
def test_frr_peers_that_cannot_share_a_node_are_not_compared(fleet_dir, first, second, compared):
    extra = SECOND % f"peerAddress: 10.0.0.3, routerID: 10.0.0.9, nodeSelectors: {second}"
    cluster = peer_cluster(
        "peerASN: 1", "peerAddress: 10.0.0.1", f"nodeSelectors: {first}", extra_peer=extra
    )
    result = compile_one(fleet_dir, lb(), cluster)
    found = [e for e in errors(result) if "have different routerIDs" in e]
    assert bool(found) is compared, errors(result)
