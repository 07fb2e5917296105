"""Address allocation: deterministic, recorded in fleet.lock, stable as the fleet changes."""

from __future__ import annotations

import yaml
from conftest import run
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.model import Cluster
from fleetc.core.yamlsource import Document
from fleetc.sections.metallb import allocate as metallb_allocate
from fleetc.sections.metallb import ipam
from fleetc.sections.metallb.config import ClusterNet, Config, Entry, LoadBalancer
from hypothesis import given, settings
from hypothesis import strategies as st
from metallb_helpers import errors, pool_addresses, write_cluster, write_fleet

SITE_CLUSTER = """
site: {site}
addressRanges: ["10.{octet}.0.0/24"]
reserved: ["10.{octet}.0.0-10.{octet}.0.15"]
"""

ALL_PROD = (
    "{clusterSelector: {clusterSelectorTerms: [{labelSelector: {matchLabels: {env: prod}}}]}}"
)


def balancer(name: str, allocate: str = "{prefixLength: 29}", clusters: str = ALL_PROD) -> str:
    return f"""
  - name: {name}
    clusters: {clusters}
    allocate: {allocate}
    advertise: ARP
"""


def fleet(fleet_dir, balancers: list[str], clusters: dict[str, tuple[str, int]]):
    write_fleet(fleet_dir, "items:\n" + "".join(balancers) if balancers else "items: []")
    fleet_dir.remove("clusters")
    for name, (site, octet) in clusters.items():
        write_cluster(fleet_dir, name, SITE_CLUSTER.format(site=site, octet=octet), {"env": "prod"})


def render(cli, fleet_dir):
    result = run(cli, "render", "-f", str(fleet_dir.root))
    assert result.exit_code == 0, result.output
    return fleet_dir.compile()


THREE = {"a": ("east", 1), "b": ("east", 1), "c": ("west", 2)}


def test_first_fit_in_fleet_order_then_cluster_name(memory_fleet):
    fleet(memory_fleet, [balancer("web"), balancer("api", "{count: 3}")], THREE)
    result = memory_fleet.compile()
    assert result.ok, errors(result)
    assert pool_addresses(result) == {
        ("a", "web"): ["10.1.0.16/29"],
        ("b", "web"): ["10.1.0.24/29"],
        ("c", "web"): ["10.2.0.16/29"],
        ("a", "api"): ["10.1.0.32-10.1.0.34"],
        ("b", "api"): ["10.1.0.35-10.1.0.37"],
        ("c", "api"): ["10.2.0.24-10.2.0.26"],
    }


def test_allocations_are_recorded_in_the_lock(cli, fleet_dir):
    fleet(fleet_dir, [balancer("web")], THREE)
    render(cli, fleet_dir)
    lock = yaml.safe_load((fleet_dir.root / "fleet.lock").read_text())
    assert lock["addresses"] == {
        "a": {"web": ["10.1.0.16/29"]},
        "b": {"web": ["10.1.0.24/29"]},
        "c": {"web": ["10.2.0.16/29"]},
    }
    assert run(cli, "check", "-f", str(fleet_dir.root)).exit_code == 0


def test_adding_a_cluster_moves_nobody(cli, fleet_dir):
    fleet(fleet_dir, [balancer("web")], THREE)
    before = pool_addresses(render(cli, fleet_dir))
    fleet(fleet_dir, [balancer("web")], {"a0": ("east", 1), **THREE})
    after = pool_addresses(render(cli, fleet_dir))
    assert {k: after[k] for k in before} == before
    assert after[("a0", "web")] == ["10.1.0.32/29"]


def test_removing_a_cluster_moves_nobody(cli, fleet_dir):
    fleet(fleet_dir, [balancer("web")], THREE)
    before = pool_addresses(render(cli, fleet_dir))
    fleet(fleet_dir, [balancer("web")], {"b": THREE["b"], "c": THREE["c"]})
    after = pool_addresses(render(cli, fleet_dir))
    assert after == {k: v for k, v in before.items() if k[0] != "a"}
    lock = yaml.safe_load((fleet_dir.root / "fleet.lock").read_text())
    assert "a" not in lock["addresses"]


def test_adding_a_load_balancer_first_in_the_file_moves_nobody(cli, fleet_dir):
    fleet(fleet_dir, [balancer("web")], THREE)
    before = pool_addresses(render(cli, fleet_dir))
    fleet(fleet_dir, [balancer("api"), balancer("web")], THREE)
    after = pool_addresses(render(cli, fleet_dir))
    assert {k: after[k] for k in before} == before
    assert after[("a", "api")] == ["10.1.0.32/29"]


def test_a_changed_request_is_reallocated(cli, fleet_dir):
    fleet(fleet_dir, [balancer("web")], THREE)
    render(cli, fleet_dir)
    fleet(fleet_dir, [balancer("web", "{prefixLength: 28}")], THREE)
    result = fleet_dir.compile()
    assert result.ok, errors(result)
    assert pool_addresses(result)[("a", "web")] == ["10.1.0.32/28"]


def test_exhaustion_names_the_site_the_ranges_and_the_request(memory_fleet):
    fleet(memory_fleet, [balancer("web", "{prefixLength: 25}")], THREE)
    result = memory_fleet.compile()
    (message,) = [e for e in errors(result) if "exhausted" in e]
    assert message.startswith("fleet.yaml:11:")
    assert "'web' asks for an IPv4 /25 on cluster(s) b (site 'east')" in message
    assert "(10.1.0.0/24) have none free" in message


def test_a_cluster_without_ranges_cannot_allocate(memory_fleet):
    fleet(memory_fleet, [balancer("web")], THREE)
    write_cluster(memory_fleet, "c", "site: west", {"env": "prod"})
    result = memory_fleet.compile()
    assert any("on cluster(s) c (site 'west')" in e and "(none)" in e for e in errors(result))


def test_shared_allocation_gives_every_cluster_the_same_block(memory_fleet):
    anycast = balancer("dns", "{prefixLength: 32}").replace("ARP", "BGP") + "    shared: true\n"
    fleet(memory_fleet, [anycast], {"a": ("east", 1), "b": ("west", 1)})
    for name in ("a", "b"):
        metallb = SITE_CLUSTER.format(site=name, octet=1) + (
            "bgp: {myASN: 1}\nbgpPeers: [{name: tor, peerASN: 2, peerAddress: 10.1.0.1}]\n"
        )
        write_cluster(memory_fleet, name, metallb, {"env": "prod"})
    result = memory_fleet.compile()
    assert result.ok, errors(result)
    assert pool_addresses(result) == {
        ("a", "dns"): ["10.1.0.16/32"],
        ("b", "dns"): ["10.1.0.16/32"],
    }


def test_ipv6_allocation(memory_fleet):
    fleet(memory_fleet, [balancer("web", "{prefixLength: 120, ipFamily: IPv6}")], {"a": ("x", 1)})
    write_cluster(memory_fleet, "a", 'addressRanges: ["fd00:1::/112"]', {"env": "prod"})
    result = memory_fleet.compile()
    assert result.ok, errors(result)
    assert pool_addresses(result) == {("a", "web"): ["fd00:1::/120"]}


# -- renames --------------------------------------------------------------------------------

EXPLICIT = """
  - name: {name}
    clusters: {{names: [a]}}
    addresses: ["10.1.0.64/28"]
    advertise: ARP
"""


def test_renaming_a_pool_in_place_is_an_error_with_the_two_step_fix(cli, fleet_dir):
    fleet(fleet_dir, [EXPLICIT.format(name="web")], THREE)
    render(cli, fleet_dir)
    fleet(fleet_dir, [EXPLICIT.format(name="www")], THREE)
    result = fleet_dir.compile()
    (message,) = errors(result)
    assert message.startswith("fleet.yaml:11:")
    assert "'www' takes over 10.1.0.64/28 from pool 'web', which this change removes" in message
    assert "Flux applies before it prunes" in message
    assert "first remove 'web' (render, merge, let Flux prune it), then add 'www'" in message


def test_the_first_step_of_a_rename_then_the_second_is_fine(cli, fleet_dir):
    fleet(fleet_dir, [EXPLICIT.format(name="web")], THREE)
    render(cli, fleet_dir)
    fleet(fleet_dir, [], THREE)
    render(cli, fleet_dir)
    fleet(fleet_dir, [EXPLICIT.format(name="www")], THREE)
    assert fleet_dir.compile().ok


def test_allocation_does_not_reuse_addresses_this_change_frees(cli, fleet_dir):
    fleet(fleet_dir, [balancer("old")], THREE)
    before = pool_addresses(render(cli, fleet_dir))
    fleet(fleet_dir, [balancer("new")], THREE)
    after = pool_addresses(render(cli, fleet_dir))
    assert before[("a", "old")] == ["10.1.0.16/29"]
    assert after == {
        ("a", "new"): ["10.1.0.32/29"],
        ("b", "new"): ["10.1.0.40/29"],
        ("c", "new"): ["10.2.0.24/29"],
    }


# -- the planner, directly ------------------------------------------------------------------


def _net(name: str, site: str) -> ClusterNet:
    doc = Document({}, f"clusters/{name}.yaml")
    span = ipam.parse("10.0.0.0/26")
    return ClusterNet(Cluster(doc, (), name=name), site=site, ranges=[Entry("", span, doc.pos())])


def _plan(clusters: list[str], balancers: list[str], previous):
    nets = {name: _net(name, "east" if name < "m" else "west") for name in sorted(clusters)}
    doc = Document({}, "fleet.yaml")
    lbs = [
        LoadBalancer(doc, (), name=lb, raw={"advertise": "ARP"}, clusters=sorted(nets))
        for lb in balancers
    ]
    for lb in lbs:
        lb.request = ipam.Request(4, 30)
    diags = Diagnostics()
    pools = metallb_allocate.plan(Config(nets=nets, load_balancers=lbs), previous, diags)
    return metallb_allocate.lock_section(pools), diags


NAMES = st.sampled_from(["a", "d", "k", "n", "q", "z"])


@settings(max_examples=40, deadline=None)
@given(
    first=st.sets(NAMES, min_size=1),
    second=st.sets(NAMES, min_size=1),
    balancers=st.lists(st.sampled_from(["api", "dns", "web"]), min_size=1, unique=True),
    extra=st.sampled_from(["aaa", "mmm", "zzz"]),
)
def test_nobody_moves_whatever_clusters_and_balancers_come_and_go(first, second, balancers, extra):
    lock, diags = _plan(sorted(first), balancers, {})
    assert not diags.has_errors
    previous = metallb_allocate.previous_pools(lock)
    changed = sorted(second)
    lock2, diags2 = _plan(changed, [*balancers, extra], previous)
    assert not diags2.has_errors
    for cluster in set(first) & set(second):
        for lb in balancers:
            assert lock2[cluster][lb] == lock[cluster][lb]
    for site in ("east", "west"):
        spans = [
            ipam.parse(text)
            for cluster, pools in lock2.items()
            if (cluster < "m") == (site == "east")
            for texts in pools.values()
            for text in texts
        ]
        assert all(not a.overlaps(b) for i, a in enumerate(spans) for b in spans[i + 1 :])


def test_first_free_skips_used_blocks_and_keeps_alignment():
    ranges = [ipam.parse("10.0.0.0-10.0.0.40")]
    used = [ipam.parse("10.0.0.3")]
    assert str(ipam.first_free(ranges, used, ipam.Request(4, 29))) == "10.0.0.8/29"
    assert str(ipam.first_free(ranges, used, ipam.Request(4, count=3))) == "10.0.0.0-10.0.0.2"
    assert str(ipam.first_free(ranges, used, ipam.Request(4, count=4))) == "10.0.0.4/30"
    assert ipam.first_free(ranges, used, ipam.Request(4, 27)) is None
