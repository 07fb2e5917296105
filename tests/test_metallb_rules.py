"""Every MetalLB rule fleetc enforces: one failing fleet each, with the file and line it names."""

from __future__ import annotations

import pytest
import yaml
from crdschema import errors as crd_errors
from metallb_helpers import errors, indent, write_cluster, write_fleet

CLUSTER = """
site: lab
addressRanges: ["10.0.0.0/24", "fd00::/64"]
reserved: ["10.0.0.1", "10.0.0.200-10.0.0.255"]
bgp: {myASN: 64500, routerID: 10.0.0.2, mode: MODE}
bgpPeers:
  - {name: tor, peerASN: 64501, peerAddress: 10.0.0.1}
"""


def lb(addresses: str = '["10.0.0.16/28"]', advertise: str = "ARP", extra: str = "") -> str:
    return f"""
items:
  - name: web
    clusters: {{names: [c1]}}
    addresses: {addresses}
    advertise: {advertise}
{extra}
"""


def compile_one(fleet_dir, section: str, cluster: str = CLUSTER, mode: str = "frr-k8s"):
    write_fleet(fleet_dir, section)
    write_cluster(fleet_dir, "c1", cluster.replace("MODE", mode))
    return fleet_dir.compile()


def assert_error(result, fragment: str, where: str) -> None:
    found = [e for e in errors(result) if fragment in e]
    assert found, errors(result)
    assert any(e.startswith(where) for e in found), found


def test_the_baseline_compiles(memory_fleet):
    result = compile_one(memory_fleet, lb())
    assert result.ok, errors(result)


# -- addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("10.0.0.300/24", "invalid CIDR"),
        ("10.0.0.0/33", "invalid CIDR"),
        ("10.0.0.x-10.0.0.9", "is not an IP address"),
        ("10.0.0.20-10.0.0.10", "start IP 10.0.0.20 is after the end IP 10.0.0.10"),
        ("10.0.0.10-fd00::1", "mixes IPv4 and IPv6"),
        ("10.0.0.17/28", "has host bits set (MetalLB would silently use 10.0.0.16/28)"),
    ],
)
def test_bad_addresses_are_errors_at_their_line(memory_fleet, address, fragment):
    result = compile_one(memory_fleet, lb(f'["{address}"]'))
    assert_error(result, fragment, "fleet.yaml:10:")


def test_a_bare_ip_is_rendered_as_a_host_cidr(memory_fleet):
    result = compile_one(memory_fleet, lb('["10.0.0.20"]'))
    assert result.ok, errors(result)
    pool = result.files["c1/metallb-config/metallb-system/ipaddresspool.metallb.io_web.yaml"]
    assert b"- 10.0.0.20/32\n" in pool


def test_overlap_inside_one_pool(memory_fleet):
    result = compile_one(memory_fleet, lb('["10.0.0.16/28", "10.0.0.20-10.0.0.24"]'))
    assert_error(result, "overlaps 10.0.0.16/28 in the same pool", "fleet.yaml:10:")


def test_overlap_across_pools(memory_fleet):
    section = lb(
        extra="""
  - name: api
    clusters: {names: [c1]}
    addresses: ["10.0.0.30-10.0.0.40"]
    advertise: ARP
"""
    )
    result = compile_one(memory_fleet, section)
    assert_error(
        result, "'web' on cluster 'c1' overlaps 10.0.0.30-10.0.0.40 of pool 'api'", "fleet"
    )


def test_pool_touching_a_reserved_address(memory_fleet):
    result = compile_one(memory_fleet, lb('["10.0.0.0/28"]'))
    assert_error(result, "touches '10.0.0.1', reserved on cluster 'c1'", "fleet.yaml:10:")


def test_pool_outside_the_cluster_ranges(memory_fleet):
    result = compile_one(memory_fleet, lb('["10.9.0.0/28"]'))
    assert_error(result, "outside the address ranges of cluster 'c1'", "fleet.yaml:10:")


def test_bad_inventory_ranges_point_at_the_cluster_file(memory_fleet):
    cluster = CLUSTER.replace('"fd00::/64"', '"10.1.0.9/24"')
    result = compile_one(memory_fleet, lb(), cluster)
    assert_error(result, "has host bits set", "clusters/c1.yaml:8:")


# -- advertisements -------------------------------------------------------------------------


def test_bgp_with_no_peer_on_the_cluster(memory_fleet):
    cluster = CLUSTER.split("bgpPeers:")[0]
    result = compile_one(memory_fleet, lb(advertise="Both"), cluster)
    assert_error(result, "advertises over BGP but cluster 'c1' has no BGP peer", "fleet.yaml:11:")


def test_bgp_to_an_unknown_peer(memory_fleet):
    result = compile_one(memory_fleet, lb(advertise="BGP", extra="    bgpPeers: [spine]"))
    assert_error(result, "BGP peer 'spine', which cluster 'c1' does not have", "fleet.yaml:12:")


def test_aggregation_length_shorter_than_a_pool_prefix(memory_fleet):
    extra = "    bgp: {aggregationLength: 24}"
    result = compile_one(memory_fleet, lb(advertise="BGP", extra=extra))
    assert_error(
        result,
        "invalid aggregation length 24: prefix 10.0.0.16/28 in pool 'web' is more specific",
        "fleet.yaml:12:",
    )


def test_aggregation_length_against_a_summarised_range(memory_fleet):
    extra = "    bgp: {aggregationLength: 28}"
    result = compile_one(memory_fleet, lb('["10.0.0.16-10.0.0.32"]', "BGP", extra))
    assert_error(result, "prefix 10.0.0.32/32", "fleet.yaml:12:")


def test_aggregation_length_that_covers_the_pool_is_fine(memory_fleet):
    extra = "    bgp: {aggregationLength: 30}"
    result = compile_one(memory_fleet, lb('["10.0.0.16/28"]', "BGP", extra))
    assert result.ok, errors(result)


def test_service_selector_with_a_non_default_aggregation_length(memory_fleet):
    extra = "    bgp: {aggregationLength: 30}\n    serviceSelector: {matchLabels: {a: b}}"
    result = compile_one(memory_fleet, lb(advertise="BGP", extra=extra))
    assert_error(result, "service selector cannot set a non-default aggregation", "fleet.yaml:13:")


@pytest.mark.parametrize(
    ("community", "fragment"),
    [("70000:1", "both parts are 16-bit"), ("large:1:2:99999999999", "parts are 32-bit"),
     ("1:2:3", "invalid community")],
)  # fmt: skip
def test_bad_communities(memory_fleet, community, fragment):
    extra = f'    bgp: {{communities: ["{community}"]}}'
    result = compile_one(memory_fleet, lb(advertise="BGP", extra=extra))
    assert_error(result, fragment, "fleet.yaml:12:")


def test_native_mode_refuses_large_communities_and_ipv6_bgp(memory_fleet):
    extra = '    bgp: {communities: ["large:1:2:3"]}'
    result = compile_one(memory_fleet, lb('["fd00::/120"]', "BGP", extra), mode="native")
    assert_error(result, "native BGP mode cannot advertise large community", "fleet.yaml:12:")
    assert_error(result, "native BGP mode cannot advertise IPv6 pool 'web'", "fleet.yaml:11:")


def test_frr_mode_allows_large_communities_and_ipv6_bgp(memory_fleet):
    extra = '    bgp: {communities: ["large:1:2:3"]}'
    result = compile_one(memory_fleet, lb('["fd00::/120"]', "BGP", extra))
    assert result.ok, errors(result)


def test_invalid_service_selector(memory_fleet):
    extra = "    serviceSelector: {matchExpressions: [{key: a, operator: In}]}"
    result = compile_one(memory_fleet, lb(extra=extra))
    assert_error(result, "operator In needs at least one value", "fleet.yaml:12:")


# -- peers ----------------------------------------------------------------------------------


def peer_cluster(*fields: str, extra_peer: str = "") -> str:
    body = ", ".join(("name: tor", *fields))
    return CLUSTER.split("bgpPeers:")[0] + f"bgpPeers:\n  - {{{body}}}\n" + extra_peer


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        (("myASN: 0", "peerASN: 1", "peerAddress: 10.0.0.1"), "myASN 0 is not a valid ASN"),
        (("peerAddress: 10.0.0.1",), "needs exactly one of peerASN and dynamicASN"),
        (("peerASN: 1", "dynamicASN: external", "peerAddress: 10.0.0.1"),
         "needs exactly one of peerASN and dynamicASN"),
        (("peerASN: 0", "peerAddress: 10.0.0.1"), "peerASN 0 is not a valid ASN"),
        (("peerASN: 64500", "peerAddress: 10.0.0.1", "ebgpMultiHop: true"),
         "ebgpMultiHop is set on an iBGP session"),
        (("peerASN: 1",), "needs exactly one of peerAddress and interface"),
        (("peerASN: 1", "peerAddress: 10.0.0.1", "interface: eth0"),
         "needs exactly one of peerAddress and interface"),
        (("peerASN: 1", "peerAddress: tor.example"), "peerAddress 'tor.example' is not an IP"),
        (("peerASN: 1", "peerAddress: 10.0.0.1", "sourceAddress: 10.0.0.0/24"),
         "sourceAddress '10.0.0.0/24' is not an IP"),
        (("peerASN: 1", "peerAddress: 10.0.0.1", "password: x", "passwordSecret: {name: s}"),
         "sets both password and passwordSecret"),
        (("peerASN: 1", "peerAddress: 10.0.0.1", "passwordSecret: {name: s, namespace: x}"),
         "passwordSecret must be in MetalLB's namespace 'metallb-system'"),
        (("peerASN: 1", "peerAddress: 10.0.0.1", "holdTime: 2s"),
         "holdTime must be 0 or at least 3s"),
        (("peerASN: 1", "peerAddress: 10.0.0.1", "keepaliveTime: 500ms"),
         "holdTime must be 0 or at least 3s"),
        (("peerASN: 1", "peerAddress: 10.0.0.1", "holdTime: 30s", "keepaliveTime: 40s"),
         "keepaliveTime must not exceed holdTime"),
        (("peerASN: 1", "peerAddress: 10.0.0.1", "holdTime: soon"), "is not a duration"),
        (("peerASN: 1", "peerAddress: 10.0.0.1", "connectTime: 1500ms"),
         "connectTime must be 1 to 65535 whole seconds"),
    ],
)  # fmt: skip
def test_peer_rules(memory_fleet, fields, fragment):
    result = compile_one(memory_fleet, lb(), peer_cluster(*fields))
    assert_error(result, fragment, "clusters/c1.yaml:")


@pytest.mark.parametrize(
    "fields",
    [
        ("peerASN: 1", "peerAddress: 10.0.0.1", "holdTime: 0s"),
        ("peerASN: 1", "peerAddress: 10.0.0.1", "holdTime: 1m30s", "keepaliveTime: 30s"),
        ("peerASN: 1", "peerAddress: 10.0.0.1", "keepaliveTime: 20s"),
        ("dynamicASN: internal", "interface: eth0", "connectTime: 5s"),
        (
            "peerASN: 1",
            "peerAddress: 10.0.0.1",
            "passwordSecret: {name: s}",
            "vrf: red",
            "nodeSelectors: [{matchLabels: {rack: r1}}]",
            "enableGracefulRestart: true",
            "bfdProfile: fast",
            "peerPort: 1179",
            "sourceAddress: 10.0.0.7",
            "localASN: 7",
        ),
    ],
)
def test_valid_peers(memory_fleet, fields):
    result = compile_one(memory_fleet, lb(), peer_cluster(*fields))
    assert result.ok, errors(result)
    for path, data in result.files.items():
        if "/metallb-config/metallb-system/" in path:
            assert crd_errors(yaml.safe_load(data)) == [], path


def test_a_missing_my_asn_is_an_error(memory_fleet):
    cluster = CLUSTER.replace("myASN: 64500, ", "")
    result = compile_one(memory_fleet, lb(), cluster)
    assert_error(result, "BGP peer 'tor' on cluster 'c1' has no myASN", "clusters/c1.yaml:")


def test_native_mode_refuses_frr_only_peer_fields(memory_fleet):
    cluster = peer_cluster("peerASN: 1", "peerAddress: 10.0.0.1", "vrf: red", "bfdProfile: b")
    result = compile_one(memory_fleet, lb(), cluster, mode="native")
    assert_error(result, "vrf needs FRR", "clusters/c1.yaml:")
    assert_error(result, "bfdProfile needs FRR", "clusters/c1.yaml:")


SECOND = "  - {name: tor2, peerASN: 64502, %s}\n"


@pytest.mark.parametrize(
    ("second", "fragment"),
    [
        ("peerAddress: 10.0.0.3, routerID: 10.0.0.9", "have different routerIDs"),
        ("peerAddress: 10.0.0.1", "have the same address and VRF"),
        ("peerAddress: 10.0.0.3, myASN: 64999", "have different myASN in one VRF"),
    ],
)
def test_frr_peers_sharing_nodes(memory_fleet, second, fragment):
    cluster = peer_cluster("peerASN: 1", "peerAddress: 10.0.0.1", extra_peer=SECOND % second)
    result = compile_one(memory_fleet, lb(), cluster)
    assert_error(result, f"BGP peers 'tor' and 'tor2' on cluster 'c1' {fragment}", "clusters/")
    native = compile_one(memory_fleet, lb(), cluster, mode="native")
    assert not any(fragment in e for e in errors(native))


def test_frr_peers_in_different_vrfs_may_differ_in_my_asn(memory_fleet):
    second = SECOND % "peerAddress: 10.0.0.1, myASN: 64999, vrf: red"
    cluster = peer_cluster("peerASN: 1", "peerAddress: 10.0.0.1", extra_peer=second)
    result = compile_one(memory_fleet, lb(), cluster)
    assert result.ok, errors(result)


def test_a_peer_declared_twice_for_a_cluster(memory_fleet):
    section = lb() + (
        "bgpPeers:\n  - {name: tor, clusters: {names: [c1]}, peerASN: 2, peerAddress: 10.0.0.5}\n"
    )
    result = compile_one(memory_fleet, section)
    assert_error(result, "BGP peer 'tor' is declared twice for cluster 'c1'", "fleet.yaml:")


# -- fleet-wide -----------------------------------------------------------------------------


def two_clusters(fleet_dir, section: str, site_b: str = "lab"):
    write_fleet(fleet_dir, section)
    for name, site in (("c1", "lab"), ("c2", site_b)):
        metallb = CLUSTER.replace("MODE", "frr-k8s").replace("site: lab", f"site: {site}")
        write_cluster(fleet_dir, name, metallb, {"env": "prod"})
    return fleet_dir.compile()


SAME_ADDRESS = """
items:
  - name: web
    clusters: {names: [c1]}
    addresses: ["10.0.0.16/28"]
    advertise: ARP
  - name: api
    clusters: {names: [c2]}
    addresses: ["10.0.0.20"]
    advertise: ARP
"""


def test_same_address_on_two_clusters_of_one_site(memory_fleet):
    result = two_clusters(memory_fleet, SAME_ADDRESS)
    assert_error(result, "used on clusters 'c1' ('web') and 'c2' ('api') of site 'lab'", "fleet")


def test_same_address_in_two_sites_is_fine(memory_fleet):
    result = two_clusters(memory_fleet, SAME_ADDRESS, site_b="other")
    assert result.ok, errors(result)


SHARED = """
items:
  - name: anycast
    clusters:
      clusterSelector:
        clusterSelectorTerms: [{labelSelector: {matchLabels: {env: prod}}}]
    addresses: ["10.0.0.53"]
    advertise: ADVERTISE
    shared: SHARED
"""


def test_one_unshared_balancer_on_two_clusters_of_a_site(memory_fleet):
    result = two_clusters(
        memory_fleet, SHARED.replace("ADVERTISE", "BGP").replace("SHARED", "false")
    )
    assert_error(result, "used on clusters 'c1' ('anycast') and 'c2' ('anycast')", "fleet.yaml:")


def test_shared_balancer_over_bgp_is_allowed(memory_fleet):
    result = two_clusters(
        memory_fleet, SHARED.replace("ADVERTISE", "BGP").replace("SHARED", "true")
    )
    assert result.ok, errors(result)


def test_shared_balancer_over_arp_in_one_site_is_an_error(memory_fleet):
    result = two_clusters(
        memory_fleet, SHARED.replace("ADVERTISE", "Both").replace("SHARED", "true")
    )
    assert_error(result, "answers ARP for the same addresses from clusters", "fleet.yaml:13:")


def test_unknown_cluster_name(memory_fleet):
    result = compile_one(memory_fleet, lb().replace("[c1]", "[c1, cl]"))
    assert_error(result, "cluster 'cl' is not in the inventory", "fleet.yaml:9:")


def test_unknown_fields_stay_errors(memory_fleet):
    result = compile_one(memory_fleet, lb(extra="    colour: blue"))
    assert_error(result, "unknown field 'colour'", "fleet.yaml:12:")
    write_cluster(memory_fleet, "c1", CLUSTER.replace("MODE", "frr") + "colour: blue\n")
    assert_error(memory_fleet.compile(), "unknown field 'colour'", "clusters/c1.yaml:")


def test_a_load_balancer_defined_twice(memory_fleet):
    result = compile_one(memory_fleet, lb() + lb().replace("items:\n", ""))
    assert_error(result, "load balancer 'web' is defined twice (first at fleet.yaml:8:", "fleet")


def test_the_bundle_waits_for_the_metallb_install_by_default(memory_fleet):
    result = compile_one(memory_fleet, lb())
    assert result.compilation.bundle_dependencies == {"metallb-config": ("metallb",)}
    root = result.files["c1/kustomization.yaml"].decode()
    # The root applies only the Flux Kustomization that applies the bundle, not the bundle.
    assert "metallb-config/" not in root
    assert "_flux-system/kustomization.kustomize.toolkit.fluxcd.io_metallb-config.yaml" in root


# -- MetalLB objects a placement puts on the cluster ----------------------------------------

PLACEMENT = """
placements:
  - name: metallb-extras
    resourceSelectors:
      - {group: "", version: v1, kind: Namespace, name: NAMESPACE}
    policy: {placementType: PickAll}
"""

HUB_POOL = """
apiVersion: v1
kind: Namespace
metadata: {name: NAMESPACE}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: POOL, namespace: NAMESPACE}
spec:
  addresses: ["10.0.0.24/29"]
"""


def compile_with_hub_pool(fleet_dir, namespace: str = "metallb-system", pool: str = "legacy"):
    write_fleet(fleet_dir, lb())
    text = fleet_dir.read("fleet.yaml")
    placement = indent(PLACEMENT.replace("NAMESPACE", namespace), 2)
    fleet_dir.write("fleet.yaml", text + placement + "\n")
    fleet_dir.write("hub/pool.yaml", HUB_POOL.replace("NAMESPACE", namespace).replace("POOL", pool))
    write_cluster(fleet_dir, "c1", CLUSTER.replace("MODE", "frr-k8s"))
    return fleet_dir.compile()


def test_a_hub_placed_pool_counts_in_the_overlap_check(memory_fleet):
    result = compile_with_hub_pool(memory_fleet)
    fragment = "overlaps 10.0.0.24/29 of IPAddressPool 'legacy' placed from hub/pool.yaml"
    assert_error(result, fragment, "fleet.yaml:10:")


def test_a_hub_placed_metallb_object_outside_the_metallb_namespace(memory_fleet):
    result = compile_with_hub_pool(memory_fleet, namespace="lb-config")
    fragment = "is placed on cluster 'c1' in namespace 'lb-config', but MetalLB there runs in"
    assert_error(result, fragment, "hub/pool.yaml:")


def test_a_hub_placed_object_with_the_name_fleetc_renders(memory_fleet):
    result = compile_with_hub_pool(memory_fleet, pool="web")
    fragment = "fleetc renders IPAddressPool.metallb.io/metallb-system/web for cluster 'c1'"
    assert_error(result, fragment, "hub/pool.yaml:")


def test_a_load_balancer_for_no_cluster_is_a_warning(memory_fleet):
    section = lb().replace(
        "{names: [c1]}",
        "{clusterSelector: {clusterSelectorTerms: [{labelSelector: {matchLabels: {x: y}}}]}}",
    )
    result = compile_one(memory_fleet, section)
    assert result.ok
    (warning,) = [d.format() for d in result.diagnostics.warnings if not d.code]
    assert warning.startswith("fleet.yaml:9:") and "'web' applies to no cluster" in warning


def test_addresses_and_allocate_together(memory_fleet):
    section = lb().replace("advertise: ARP", "advertise: ARP\n    allocate: {count: 2}")
    result = compile_one(memory_fleet, section)
    assert_error(result, "'web' needs exactly one of addresses and allocate", "fleet.yaml:8:")


def test_neither_addresses_nor_allocate(memory_fleet):
    result = compile_one(memory_fleet, lb().replace('addresses: ["10.0.0.16/28"]', ""))
    assert_error(result, "'web' needs exactly one of addresses and allocate", "fleet.yaml:8:")


def test_an_allocation_needs_a_prefix_length_or_a_count(memory_fleet):
    section = lb().replace('addresses: ["10.0.0.16/28"]', "allocate: {ipFamily: IPv6}")
    result = compile_one(memory_fleet, section)
    assert_error(result, "allocate needs exactly one of prefixLength and count", "fleet.yaml:10:")


def test_an_ipv4_prefix_length_beyond_32(memory_fleet):
    section = lb().replace('addresses: ["10.0.0.16/28"]', "allocate: {prefixLength: 40}")
    result = compile_one(memory_fleet, section)
    assert_error(result, "prefixLength 40 is longer than an IPv4 address", "fleet.yaml:10:")
