"""Read the MetalLB inputs: each cluster's ``spec.metallb`` and fleet.yaml ``spec.loadBalancers``.

Pure. Turns the schema-checked data into small located objects and reports what the schema
cannot: unparsable addresses, unknown cluster names, peer name clashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core import cluster_pick, labels, schema
from ...core.diagnostics import Diagnostics, Position, field_path
from ...core.model import Cluster, Fleet, Located
from ...core.yamlsource import Path
from . import ipam

DEFAULT_NAMESPACE = "metallb-system"
DEFAULT_MODE = "frr-k8s"
DEFAULT_INSTALL_KUSTOMIZATION = "metallb"
SECTION = ("spec", "loadBalancers")
CLUSTER_SECTION = ("spec", "metallb")
# BGPPeer spec fields that fleetc copies through unchanged.
PEER_FIELDS = (
    "myASN",
    "peerASN",
    "dynamicASN",
    "localASN",
    "peerAddress",
    "interface",
    "sourceAddress",
    "routerID",
    "peerPort",
    "holdTime",
    "keepaliveTime",
    "connectTime",
    "password",
    "passwordSecret",
    "nodeSelectors",
    "bfdProfile",
    "enableGracefulRestart",
    "ebgpMultiHop",
    "vrf",
    "disableMP",
    "dualStackAddressFamily",
)


@dataclass
class Entry:
    """One address entry as written, with its span and where it was written."""

    text: str
    span: ipam.Span
    position: Position


@dataclass
class Peer(Located):
    """A BGP peer on one cluster; ``spec`` is the BGPPeer spec with the cluster's defaults."""

    name: str = ""
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClusterNet:
    """A cluster's MetalLB settings."""

    cluster: Cluster
    namespace: str = DEFAULT_NAMESPACE
    site: str = ""
    mode: str = DEFAULT_MODE
    ranges: list[Entry] = field(default_factory=list)
    reserved: list[Entry] = field(default_factory=list)
    peers: dict[str, Peer] = field(default_factory=dict)


@dataclass
class LoadBalancer(Located):
    name: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    clusters: list[str] = field(default_factory=list)
    # Explicit addresses; None when the load balancer asks for an allocation.
    addresses: list[Entry] | None = None
    request: ipam.Request | None = None

    @property
    def advertise(self) -> str:
        return self.raw["advertise"]

    @property
    def shared(self) -> bool:
        return bool(self.raw.get("shared"))

    @property
    def arp(self) -> bool:
        return self.advertise in ("ARP", "Both")

    @property
    def bgp(self) -> bool:
        return self.advertise in ("BGP", "Both")


@dataclass
class Config:
    install_kustomization: str = DEFAULT_INSTALL_KUSTOMIZATION
    # The install Kustomization is applied outside the fleet (declared by installProvided).
    install_provided: bool = False
    nets: dict[str, ClusterNet] = field(default_factory=dict)
    load_balancers: list[LoadBalancer] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.load_balancers and not any(n.peers for n in self.nets.values())


def read(fleet: Fleet, diags: Diagnostics) -> Config:
    section = fleet.spec.get("loadBalancers") or {}
    if not schema.checker("loadbalancers")(section):
        section = {}  # the fleet.yaml schema check has reported why
    inputs = Config(
        section.get("installKustomization", DEFAULT_INSTALL_KUSTOMIZATION),
        bool(section.get("installProvided", False)),
    )
    for name, cluster in fleet.clusters.items():
        inputs.nets[name] = _cluster_net(cluster, diags)
    for index, raw in enumerate(section.get("bgpPeers") or []):
        base = (*SECTION, "bgpPeers", index)
        where = Located(fleet.doc, base)
        for cluster in _targets(fleet, raw["clusters"], where, diags):
            _add_peer(inputs.nets[cluster], Peer(fleet.doc, base, name=raw["name"]), raw, diags)
    seen: dict[str, Position] = {}
    for index, raw in enumerate(section.get("items") or []):
        lb = LoadBalancer(fleet.doc, (*SECTION, "items", index), name=raw["name"], raw=raw)
        if lb.name in seen:
            diags.error(
                f"load balancer {lb.name!r} is defined twice (first at {seen[lb.name]})",
                lb.pos("name"),
                field_path(lb.base),
            )
            continue
        seen[lb.name] = lb.pos("name")
        lb.clusters = _targets(fleet, raw["clusters"], lb, diags)
        if not lb.clusters:
            diags.warning(
                f"load balancer {lb.name!r} applies to no cluster",
                lb.pos("clusters"),
                field_path((*lb.base, "clusters")),
            )
        if not _addresses(lb, diags):
            continue
        selector = raw.get("serviceSelector")
        labels.check_selector(selector, lb, ("serviceSelector",), diags)
        inputs.load_balancers.append(lb)
    return inputs


def _addresses(lb: LoadBalancer, diags: Diagnostics) -> bool:
    """Explicit addresses or an allocation request; False when neither can be used."""
    raw = lb.raw
    if ("addresses" in raw) == ("allocate" in raw):
        _error(
            diags,
            f"load balancer {lb.name!r} needs exactly one of addresses and allocate",
            lb,
            "name",
        )
        return False
    if "addresses" in raw:
        lb.addresses = _entries(lb, ("addresses",), raw["addresses"], diags)
    else:
        asked = raw["allocate"]
        if ("prefixLength" in asked) == ("count" in asked):
            _error(diags, "allocate needs exactly one of prefixLength and count", lb, "allocate")
            return False
        version = 6 if asked.get("ipFamily") == "IPv6" else 4
        length = asked.get("prefixLength")
        if length is not None and length > ipam.BITS[version]:
            _error(
                diags,
                f"prefixLength {length} is longer than an IPv{version} address",
                lb,
                "allocate",
                "prefixLength",
            )
            return False
        lb.request = ipam.Request(version, length, asked.get("count"))
    return True


def _error(diags: Diagnostics, message: str, where: Located, *path: str | int) -> None:
    diags.error(message, where.pos(*path), field_path((*where.base, *path)))


def _entries(where: Located, path: Path, texts: list[str], diags: Diagnostics) -> list[Entry]:
    entries = []
    for index, text in enumerate(texts):
        at = (*path, index)
        try:
            entries.append(Entry(text, ipam.parse(text), where.pos(*at)))
        except ipam.AddressError as exc:
            diags.error(str(exc), where.pos(*at), field_path((*where.base, *at)))
    return entries


def _cluster_net(cluster: Cluster, diags: Diagnostics) -> ClusterNet:
    raw = cluster.spec.get("metallb") or {}
    bgp = raw.get("bgp") or {}
    net = ClusterNet(
        cluster,
        namespace=raw.get("namespace", DEFAULT_NAMESPACE),
        site=raw.get("site", cluster.name),
        mode=bgp.get("mode", DEFAULT_MODE),
    )
    where = Located(cluster.doc, CLUSTER_SECTION)
    net.ranges = _entries(where, ("addressRanges",), raw.get("addressRanges") or [], diags)
    net.reserved = _entries(where, ("reserved",), raw.get("reserved") or [], diags)
    for index, peer in enumerate(raw.get("bgpPeers") or []):
        located = Peer(cluster.doc, (*CLUSTER_SECTION, "bgpPeers", index), name=peer["name"])
        _add_peer(net, located, peer, diags)
    return net


def _add_peer(net: ClusterNet, peer: Peer, raw: dict[str, Any], diags: Diagnostics) -> None:
    first = net.peers.get(peer.name)
    if first is not None:
        diags.error(
            f"BGP peer {peer.name!r} is declared twice for cluster {net.cluster.name!r} "
            f"(first at {first.pos()})",
            peer.pos("name"),
            field_path((*peer.base, "name")),
        )
        return
    bgp = (net.cluster.spec.get("metallb") or {}).get("bgp") or {}
    defaults = {k: bgp[k] for k in ("myASN", "routerID") if k in bgp}
    peer.spec = {**defaults, **{k: raw[k] for k in PEER_FIELDS if k in raw}}
    net.peers[peer.name] = peer


def _targets(fleet: Fleet, raw: dict[str, Any], where: Located, diags: Diagnostics) -> list[str]:
    """Clusters named in ``names`` or matching any of ``clusterSelector.clusterSelectorTerms``."""
    terms = (raw.get("clusterSelector") or {}).get("clusterSelectorTerms")
    selector_at = ("clusters", "clusterSelector", "clusterSelectorTerms")
    return cluster_pick.select_clusters(
        fleet, where, raw.get("names"), ("clusters", "names"), terms, selector_at, diags
    )
