"""Checks on each cluster's whole MetalLB configuration, and across the clusters of a site.

MetalLB's webhooks see one object at a time (and skip some entirely); fleetc sees every pool,
advertisement and peer a cluster will get, so it enforces the webhooks' rules
(``internal/config/config.go``, ``validation.go``) on the whole set, plus rules MetalLB does not
have: no address on two clusters of one L2 site, no reserved address in a pool, no BGP
advertisement without a peer, no pool renamed in place. Pure.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ...core import labels, schema
from ...core.diagnostics import Diagnostics, Position, field_path
from ...core.model import ObjectKey
from . import ipam
from .allocate import Pool, Previous
from .config import ClusterNet, Peer

# Peer fields MetalLB's native BGP mode refuses (DiscardFRROnly).
FRR_ONLY_PEER_FIELDS = (
    "bfdProfile",
    "keepaliveTime",
    "vrf",
    "connectTime",
    "enableGracefulRestart",
    "disableMP",
    "dualStackAddressFamily",
    "dynamicASN",
    "interface",
    "localASN",
)
FRR_MODES = ("frr", "frr-k8s")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}  # fmt: skip
_COMMUNITY = re.compile(r"^(\d+):(\d+)$")
_LARGE_COMMUNITY = re.compile(r"^large:(\d+):(\d+):(\d+)$")


def parse_duration(text: str) -> float | None:
    """Seconds in a Go duration (``90s``, ``1m30s``, ``0``), or None if it is not one."""
    if text == "0":
        return 0.0
    body = text.lstrip("+")
    if not body or _DURATION.sub("", body):
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(body))


def check_cluster(net: ClusterNet, pools: list[Pool], diags: Diagnostics) -> None:
    _check_overlaps(net, pools, diags)
    _check_placement_of_addresses(net, pools, diags)
    for pool in pools:
        if pool.lb.bgp:
            _check_bgp_advertisement(net, pool, diags)
    for peer in net.peers.values():
        _check_peer(net, peer, diags)
    if net.mode in FRR_MODES:
        _check_frr_peers(net, diags)


@dataclass
class Placed:
    """A metallb.io object a placement puts on the cluster (from the hub, not fleetc's own)."""

    key: ObjectKey
    body: dict[str, Any]
    position: Position


def check_placed(net: ClusterNet, placed: list[Placed], pools: list[Pool], diags) -> None:
    """Hub-placed MetalLB objects: in MetalLB's namespace, and no pool overlapping fleetc's."""
    declared = "metallb" in net.cluster.spec
    for item in placed:
        if declared and item.key.namespace != net.namespace:
            diags.error(
                f"{item.key.kind} {item.key.name!r} is placed on cluster {net.cluster.name!r} "
                f"in namespace {item.key.namespace!r}, but MetalLB there runs in "
                f"{net.namespace!r}",
                item.position,
                hint="MetalLB watches only its own namespace and its webhook denies the object "
                "elsewhere (spec.metallb.namespace of the cluster)",
            )
        if item.key.kind != "IPAddressPool":
            continue
        spec = item.body.get("spec") or {}
        addresses = (spec.get("addresses") or []) if isinstance(spec, dict) else None
        if not isinstance(addresses, list):
            diags.error(
                f"IPAddressPool {item.key.name!r}: spec.addresses must be a list of addresses",
                item.position,
            )
            continue
        for text in addresses:
            try:
                span = ipam.parse(str(text))
            except ipam.AddressError as exc:
                diags.error(f"IPAddressPool {item.key.name!r}: {exc}", item.position)
                continue
            for pool in pools:
                entry = next((e for e in pool.entries if e.span.overlaps(span)), None)
                if entry is not None:
                    diags.error(
                        f"{entry.span} in pool {pool.lb.name!r} on cluster "
                        f"{net.cluster.name!r} overlaps {span} of IPAddressPool "
                        f"{item.key.name!r} placed from {item.position.file}",
                        entry.position,
                        hint="MetalLB's webhook denies overlapping pools",
                    )


def _error(diags: Diagnostics, message: str, where, *path: str | int, hint=None) -> None:
    diags.error(message, where.pos(*path), field_path((*where.base, *path)), hint=hint)


# -- pools ----------------------------------------------------------------------------------


def _overlapping(pools: list[Pool]) -> set[int]:
    """The ids of the entries that overlap another entry, found in n log n by a sweep (the
    pairwise check below is quadratic: 20,000 addresses in fleet.yaml took 27 s)."""
    entries = sorted(
        (e for pool in pools for e in pool.entries),
        key=lambda e: (e.span.version, e.span.first),
    )
    involved: set[int] = set()
    reach = None  # the entry reaching furthest among those before, in this IP version
    for entry in entries:
        if reach is not None and reach.span.version == entry.span.version:
            if entry.span.first <= reach.span.last:
                involved.update((id(entry), id(reach)))
            if entry.span.last <= reach.span.last:
                continue
        reach = entry
    return involved


def _check_overlaps(net: ClusterNet, pools: list[Pool], diags: Diagnostics) -> None:
    """MetalLB's poolsFor: no CIDR may overlap another, inside one pool or across pools."""
    involved = _overlapping(pools)
    seen: list[tuple[ipam.Span, Pool]] = []
    for pool in pools:
        for entry in pool.entries:
            if id(entry) not in involved:
                continue  # overlaps nothing: neither reported nor worth comparing against
            for span, owner in seen:
                if entry.span.overlaps(span):
                    where = "in the same pool" if owner is pool else f"of pool {owner.lb.name!r}"
                    diags.error(
                        f"{entry.span} in pool {pool.lb.name!r} on cluster "
                        f"{net.cluster.name!r} overlaps {span} {where}",
                        entry.position,
                        hint="MetalLB's webhook denies overlapping pools",
                    )
                    break
            seen.append((entry.span, pool))


def _check_placement_of_addresses(net: ClusterNet, pools: list[Pool], diags: Diagnostics) -> None:
    ranges = [r.span for r in net.ranges]
    # The indexes rule out what a linear search would not find: long lists stay fast.
    reserved_index, range_index = (
        ipam.SpanIndex(r.span for r in net.reserved),
        ipam.SpanIndex(ranges),
    )
    for pool in pools:
        for entry in pool.entries:
            reserved = None
            if reserved_index.overlaps_any(entry.span):
                reserved = next((r for r in net.reserved if r.span.overlaps(entry.span)), None)
            if reserved is not None:
                diags.error(
                    f"{entry.span} in pool {pool.lb.name!r} touches {reserved.text!r}, reserved "
                    f"on cluster {net.cluster.name!r} (at {reserved.position})",
                    entry.position,
                    hint="MetalLB would hand out node, gateway or DHCP addresses: ARP conflicts",
                )
            if ranges and not range_index.contains(entry.span):
                diags.error(
                    f"{entry.span} in pool {pool.lb.name!r} is outside the address ranges of "
                    f"cluster {net.cluster.name!r} ({', '.join(map(str, ranges))})",
                    entry.position,
                    hint=f"extend spec.metallb.addressRanges in {net.cluster.doc.file}",
                )


def check_sites(nets: dict[str, ClusterNet], pools: dict[str, list[Pool]], diags) -> None:
    """No address on two clusters of one site, unless both pools are one ``shared`` balancer."""
    by_site: dict[str, list[Pool]] = defaultdict(list)
    for cluster, items in pools.items():
        by_site[nets[cluster].site].extend(items)
    for site, items in sorted(by_site.items()):
        indexes = {id(pool): ipam.SpanIndex(e.span for e in pool.entries) for pool in items}
        for a, b in combinations(items, 2):
            if a.cluster == b.cluster:
                continue
            in_b = indexes[id(b)]
            clash = next(
                (
                    (x, y)
                    for x in a.entries
                    if in_b.overlaps_any(x.span)
                    for y in b.entries
                    if x.span.overlaps(y.span)
                ),
                None,
            )
            if clash is None:
                continue
            if a.lb is b.lb and a.lb.shared:
                if a.lb.arp:
                    _error(
                        diags,
                        f"shared load balancer {a.lb.name!r} answers ARP for the same "
                        f"addresses from clusters {a.cluster!r} and {b.cluster!r} of site "
                        f"{site!r}",
                        a.lb,
                        "advertise",
                        hint="two clusters on one L2 segment must not both answer ARP; "
                        "share addresses over BGP only (advertise: BGP)",
                    )
                continue
            diags.error(
                f"{clash[1].span} is used on clusters {a.cluster!r} ({a.lb.name!r}) and "
                f"{b.cluster!r} ({b.lb.name!r}) of site {site!r}",
                clash[1].position,
                hint="clusters of one site share an L2 segment; give each its own addresses, "
                "or set shared: true on one load balancer for BGP anycast",
            )


def check_renames(
    nets: dict[str, ClusterNet], pools: dict[str, list[Pool]], previous: Previous, diags
) -> None:
    """A new pool must not take over addresses of a pool this same change removes."""
    for cluster, items in pools.items():
        old = previous.get(cluster, {})
        names = {p.lb.name for p in items}
        removed = {name: spans for name, spans in old.items() if name not in names}
        for pool in items:
            if pool.lb.name in old:
                continue
            for name, spans in sorted(removed.items()):
                entry = next((e for e in pool.entries for s in spans if e.span.overlaps(s)), None)
                if entry is None:
                    continue
                diags.error(
                    f"load balancer {pool.lb.name!r} takes over {entry.span} from pool "
                    f"{name!r}, which this change removes from cluster {cluster!r}",
                    entry.position,
                    hint=f"Flux applies before it prunes, so MetalLB denies {pool.lb.name!r} "
                    f"while {name!r} still holds the addresses. Do it in two changes: first "
                    f"remove {name!r} (render, merge, let Flux prune it), then add "
                    f"{pool.lb.name!r} with those addresses",
                )


# -- advertisements -------------------------------------------------------------------------


def _check_bgp_advertisement(net: ClusterNet, pool: Pool, diags: Diagnostics) -> None:
    lb = pool.lb
    settings = lb.raw.get("bgp") or {}
    named = lb.raw.get("bgpPeers") or []
    for index, name in enumerate(named):
        if name not in net.peers:
            _error(
                diags,
                f"load balancer {lb.name!r} is advertised to BGP peer {name!r}, which cluster "
                f"{net.cluster.name!r} does not have",
                lb,
                "bgpPeers",
                index,
                hint="MetalLB ignores unknown peer names: the addresses would not be announced",
            )
    if not named and not net.peers:
        _error(
            diags,
            f"load balancer {lb.name!r} advertises over BGP but cluster "
            f"{net.cluster.name!r} has no BGP peer",
            lb,
            "advertise",
            hint="declare a peer in the cluster's spec.metallb.bgpPeers or in "
            "spec.loadBalancers.bgpPeers, or use advertise: ARP",
        )
    lengths = {
        4: settings.get("aggregationLength", 32),
        6: settings.get("aggregationLengthV6", 128),
    }
    for entry in pool.entries:
        for network in entry.span.networks():
            if network.prefixlen > lengths[network.version]:
                field = "aggregationLength" if network.version == 4 else "aggregationLengthV6"
                _error(
                    diags,
                    f"invalid aggregation length {lengths[network.version]}: prefix {network} "
                    f"in pool {lb.name!r} is more specific than the aggregation length",
                    lb,
                    "bgp",
                    field,
                )
                break
            if network.version == 6 and net.mode == "native":
                _error(
                    diags,
                    f"native BGP mode cannot advertise IPv6 pool {lb.name!r} on cluster "
                    f"{net.cluster.name!r}",
                    lb,
                    "advertise",
                    hint="switch the cluster to frr-k8s (spec.metallb.bgp.mode)",
                )
                break
    non_default = "aggregationLength" in settings and settings["aggregationLength"] != 32
    non_default |= "aggregationLengthV6" in settings and settings["aggregationLengthV6"] != 128
    if lb.raw.get("serviceSelector") and non_default:
        _error(
            diags,
            "a BGP advertisement with a service selector cannot set a non-default aggregation "
            "length",
            lb,
            "serviceSelector",
        )
    for index, community in enumerate(settings.get("communities") or []):
        _check_community(net, lb, index, community, diags)


def _check_community(net, lb, index: int, community: str, diags: Diagnostics) -> None:
    at = ("bgp", "communities", index)
    large = _LARGE_COMMUNITY.match(community)
    standard = _COMMUNITY.match(community)
    if large:
        if any(int(part) > 0xFFFFFFFF for part in large.groups()):
            _error(diags, f"large community {community!r}: parts are 32-bit", lb, *at)
        elif net.mode == "native":
            _error(
                diags,
                f"native BGP mode cannot advertise large community {community!r} on cluster "
                f"{net.cluster.name!r}",
                lb,
                *at,
            )
    elif standard:
        if any(int(part) > 0xFFFF for part in standard.groups()):
            _error(diags, f"community {community!r}: both parts are 16-bit", lb, *at)
    elif ":" in community:
        _error(
            diags,
            f"invalid community {community!r}",
            lb,
            *at,
            hint="use N:N (16-bit parts), large:N:N:N (32-bit parts) or a Community alias name",
        )


# -- peers ----------------------------------------------------------------------------------


def _is_ip(text: str) -> bool:
    try:
        ipam.parse(text)
    except ipam.AddressError:
        return False
    return "/" not in text and "-" not in text


def _check_peer(net: ClusterNet, peer: Peer, diags: Diagnostics) -> None:
    spec = peer.spec
    where = f"BGP peer {peer.name!r} on cluster {net.cluster.name!r}"
    my_asn, peer_asn = spec.get("myASN"), spec.get("peerASN")
    if my_asn is None:
        _error(
            diags,
            f"{where} has no myASN",
            peer,
            hint="set it on the peer or in the cluster's spec.metallb.bgp.myASN",
        )
    elif my_asn == 0:
        _error(diags, f"{where}: myASN 0 is not a valid ASN", peer, "myASN")
    if peer_asn == 0:
        _error(diags, f"{where}: peerASN 0 is not a valid ASN", peer, "peerASN")
    if (peer_asn is not None) == ("dynamicASN" in spec):
        _error(diags, f"{where} needs exactly one of peerASN and dynamicASN", peer)
    if spec.get("ebgpMultiHop") and peer_asn is not None and peer_asn == my_asn:
        _error(
            diags,
            f"{where}: ebgpMultiHop is set on an iBGP session (peerASN equals myASN)",
            peer,
            "ebgpMultiHop",
        )
    if ("peerAddress" in spec) == ("interface" in spec):
        _error(diags, f"{where} needs exactly one of peerAddress and interface", peer)
    for name in ("peerAddress", "sourceAddress", "routerID"):
        if name in spec and not _is_ip(str(spec[name])):
            _error(diags, f"{where}: {name} {spec[name]!r} is not an IP address", peer, name)
    if "password" in spec and "passwordSecret" in spec:
        _error(diags, f"{where} sets both password and passwordSecret", peer, "passwordSecret")
    secret_namespace = (spec.get("passwordSecret") or {}).get("namespace", net.namespace)
    if secret_namespace != net.namespace:
        _error(
            diags,
            f"{where}: passwordSecret must be in MetalLB's namespace {net.namespace!r}",
            peer,
            "passwordSecret",
            "namespace",
        )
    _check_timers(where, peer, diags)
    if net.mode == "native":
        for name in FRR_ONLY_PEER_FIELDS:
            if name in spec:
                _error(
                    diags,
                    f"{where}: {name} needs FRR; cluster {net.cluster.name!r} runs MetalLB's "
                    "native BGP mode",
                    peer,
                    name,
                )


def _check_timers(where: str, peer: Peer, diags: Diagnostics) -> None:
    """MetalLB's parseTimers, and the CRD's rules for connectTime."""
    seconds: dict[str, float] = {}
    for name in ("holdTime", "keepaliveTime", "connectTime"):
        if name in peer.spec:
            value = parse_duration(str(peer.spec[name]))
            if value is None:
                _error(
                    diags,
                    f"{where}: {name} {peer.spec[name]!r} is not a duration (e.g. 90s, 1m30s)",
                    peer,
                    name,
                )
            else:
                seconds[name] = value
    if "connectTime" in seconds:
        value = seconds["connectTime"]
        if not 1 <= value <= 65535 or value != int(value):
            _error(
                diags, f"{where}: connectTime must be 1 to 65535 whole seconds", peer, "connectTime"
            )
    hold, keepalive = seconds.get("holdTime"), seconds.get("keepaliveTime")
    if hold is None and keepalive is None:
        return
    hold = keepalive * 3 if hold is None else hold
    keepalive = hold / 3 if keepalive is None else keepalive
    if int(hold) != 0 and int(hold) < 3:
        _error(diags, f"{where}: holdTime must be 0 or at least 3s", peer, "holdTime")
    if keepalive > hold:
        _error(diags, f"{where}: keepaliveTime must not exceed holdTime", peer, "keepaliveTime")


def _check_frr_peers(net: ClusterNet, diags: Diagnostics) -> None:
    """checkFRRPeersCompatible, for peers that may share a node. Node labels are unknown
    offline, so that is decided from the nodeSelectors alone (``labels.may_share``): peers
    whose selectors cannot select a common node are not compared; all others are."""
    for a, b in combinations(net.peers.values(), 2):
        if not labels.may_share(
            a.spec.get("nodeSelectors") or [], b.spec.get("nodeSelectors") or []
        ):
            continue
        pair = f"BGP peers {a.name!r} and {b.name!r} on cluster {net.cluster.name!r}"
        hint = "in FRR mode peers that share a node share one BGP router"
        if a.spec.get("routerID") != b.spec.get("routerID"):
            _error(diags, f"{pair} have different routerIDs", b, "routerID", hint=hint)
        same_vrf = a.spec.get("vrf", "") == b.spec.get("vrf", "")
        endpoint = ("peerAddress", "interface")
        if same_vrf and any(
            name in a.spec and a.spec.get(name) == b.spec.get(name) for name in endpoint
        ):
            _error(diags, f"{pair} have the same address and VRF", b, hint=hint)
        if same_vrf and a.spec.get("myASN") != b.spec.get("myASN"):
            _error(diags, f"{pair} have different myASN in one VRF", b, "myASN", hint=hint)


# -- advertisements of one pool -------------------------------------------------------------


@dataclass
class Advertisement:
    """A BGPAdvertisement on a cluster (fleetc's or a placed one) and where to report it."""

    name: str
    spec: dict[str, Any]
    position: Position
    path: str = ""


def check_local_pref(
    cluster: str,
    advertisements: list[Advertisement],
    pool_labels: dict[str, dict[str, str]],
    diags: Diagnostics,
) -> None:
    """MetalLB's validateBGPAdvPerPool: two advertisements of one pool must set the same
    localPref unless their aggregation lengths both differ, their peers are disjoint, or they
    cannot share a node (decided from nodeSelectors, as for peers)."""
    # A placed advertisement of the wrong shape is MetalLB's CRD validation's to refuse.
    advertisements = [a for a in advertisements if _well_formed(a.spec)]
    covered = {a.name: _pools_of(a.spec, pool_labels) for a in advertisements}
    for a, b in combinations(advertisements, 2):
        shared = sorted(covered[a.name] & covered[b.name])
        if not shared or _local_pref(a.spec) == _local_pref(b.spec) or _compatible(a, b):
            continue
        diags.error(
            f"BGPAdvertisements {a.name!r} and {b.name!r} on cluster {cluster!r} both advertise "
            f"pool {shared[0]!r} with different localPref ({_local_pref(a.spec)} and "
            f"{_local_pref(b.spec)})",
            b.position,
            b.path,
            hint="MetalLB's webhook rejects this: give the advertisements of one pool the same "
            "localPref, or separate them by peers, nodes or aggregation length",
        )


def _well_formed(spec: dict[str, Any]) -> bool:
    selector = schema.checker("common", "/$defs/labelSelector")
    for name in ("nodeSelectors", "ipAddressPoolSelectors"):
        value = spec.get(name) or []
        if not isinstance(value, list) or not all(selector(v) for v in value):
            return False
    for name in ("peers", "ipAddressPools"):
        value = spec.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return False
    return True


def _local_pref(spec: dict[str, Any]) -> int:
    value = spec.get("localPref", 0)
    return value if isinstance(value, int) else 0


def _pools_of(spec: dict[str, Any], pool_labels: dict[str, dict[str, str]]) -> set[str]:
    names = spec.get("ipAddressPools") or []
    selectors = spec.get("ipAddressPoolSelectors") or []
    if not names and not selectors:
        return set(pool_labels)  # no pool named or selected: every pool
    chosen = {str(n) for n in names if isinstance(n, str)}
    for selector in selectors if isinstance(selectors, list) else []:
        if isinstance(selector, dict):
            chosen |= {p for p, found in pool_labels.items() if labels.matches(selector, found)}
    return chosen


def _compatible(a: Advertisement, b: Advertisement) -> bool:
    """advertisementsAreCompatible: True when the two never meet in one BGP update."""
    lengths_differ = a.spec.get("aggregationLength", 32) != b.spec.get("aggregationLength", 32)
    v6_differ = a.spec.get("aggregationLengthV6", 128) != b.spec.get("aggregationLengthV6", 128)
    if lengths_differ and v6_differ:
        return True
    peers_a, peers_b = set(a.spec.get("peers") or []), set(b.spec.get("peers") or [])
    if peers_a and peers_b and not peers_a & peers_b:
        return True
    nodes_a, nodes_b = a.spec.get("nodeSelectors") or [], b.spec.get("nodeSelectors") or []
    return not labels.may_share(nodes_a, nodes_b)
