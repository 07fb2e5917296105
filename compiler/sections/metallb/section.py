"""MetalLB configuration per cluster: pools, advertisements and BGP peers.

Reads fleet.yaml ``spec.loadBalancers`` and each cluster's ``spec.metallb``, allocates the
requested addresses (recorded in fleet.lock ``addresses``), checks every cluster's whole
configuration, and adds per cluster:

- an ``IPAddressPool`` per load balancer (named after it),
- an ``L2Advertisement`` for ARP/Both and a ``BGPAdvertisement`` for BGP/Both (same name),
- a ``BGPPeer`` (metallb.io/v1beta2) per peer of the cluster,

all in the cluster's MetalLB namespace. They go to the "metallb-config" bundle (the name
Flux's MetalLB guide gives that Kustomization), which the cluster's root kustomization does
not include: Flux applies it through a Kustomization of its own that
depends on the MetalLB install (``spec.loadBalancers.installKustomization``), so the webhook
serves before the objects arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetc.core.diagnostics import Position, field_path
from fleetc.core.model import ObjectKey
from fleetc.sections.metallb import allocate as metallb_allocate
from fleetc.sections.metallb import config as metallb_model
from fleetc.sections.metallb import rules as metallb_rules
from fleetc.sections.metallb.allocate import Pool

if TYPE_CHECKING:
    from fleetc.pipeline import Compilation

BUNDLE = "metallb-config"
GROUP = "metallb.io"


def generate(comp: Compilation) -> None:
    inputs = metallb_model.read(comp.fleet, comp.diags)
    previous = metallb_allocate.previous_pools(
        comp.previous_lock.section(metallb_allocate.LOCK_SECTION),
        comp.previous_lock.doc,
        comp.diags,
    )
    if inputs.empty and not previous:
        return
    pools = metallb_allocate.plan(inputs, previous, comp.diags)
    for name, net in inputs.nets.items():
        metallb_rules.check_cluster(net, pools[name], comp.diags)
        metallb_rules.check_placed(net, _placed(comp, name), pools[name], comp.diags)
    metallb_rules.check_sites(inputs.nets, pools, comp.diags)
    metallb_rules.check_renames(inputs.nets, pools, previous, comp.diags)
    section = metallb_allocate.lock_section(pools)
    if section:
        comp.lock.sections[metallb_allocate.LOCK_SECTION] = section
    rendered = False
    for name, net in inputs.nets.items():
        for pool in pools[name]:
            for kind, spec in _pool_objects(pool):
                source = f"{pool.lb.doc.file}#spec.loadBalancers/{pool.lb.name}"
                _add(comp, name, source, "v1beta1", kind, net.namespace, pool.lb.name, spec)
                rendered = True
        for peer in net.peers.values():
            source = f"{peer.doc.file}#{field_path(peer.base[:-1])}/{peer.name}"
            _add(comp, name, source, "v1beta2", "BGPPeer", net.namespace, peer.name, peer.spec)
            rendered = True
    if rendered:
        comp.bundle_dependencies[BUNDLE] = (inputs.install_kustomization,)


def _pool_objects(pool: Pool) -> list[tuple[str, dict[str, Any]]]:
    raw = pool.lb.raw
    spec: dict[str, Any] = {
        "addresses": pool.addresses,
        "autoAssign": raw.get("autoAssign", True),
        "avoidBuggyIPs": raw.get("avoidBuggyIPs", False),
    }
    if raw.get("serviceSelector"):
        spec["serviceAllocation"] = {"serviceSelectors": [raw["serviceSelector"]]}
    objects = [("IPAddressPool", spec)]
    if pool.lb.arp:
        objects.append(("L2Advertisement", {"ipAddressPools": [pool.lb.name]}))
    if pool.lb.bgp:
        advertisement = {"ipAddressPools": [pool.lb.name], **(raw.get("bgp") or {})}
        if raw.get("bgpPeers"):
            advertisement["peers"] = sorted(raw["bgpPeers"])
        objects.append(("BGPAdvertisement", advertisement))
    return objects


def _add(
    comp: Compilation,
    cluster: str,
    source: str,
    version: str,
    kind: str,
    namespace: str,
    name: str,
    spec: dict[str, Any],
) -> None:
    from fleetc.core.placed import RenderedObject

    body = {
        "apiVersion": f"{GROUP}/{version}",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    key = ObjectKey(GROUP, kind, namespace, name)
    placed = comp.clusters[cluster].get(key)
    if placed is not None:
        comp.diags.error(
            f"fleetc renders {key} for cluster {cluster!r}, and a placement puts one there too "
            f"(from {placed.source})",
            _hub_position(comp, key, placed.source),
            hint="declare it in spec.loadBalancers only, or rename one of them",
        )
        return
    comp.add(cluster, RenderedObject(key, body, source, bundle=BUNDLE))


def _hub_position(comp: Compilation, key: ObjectKey, source: str) -> Position:
    hub = comp.fleet.objects.get(key)
    return hub.pos() if hub is not None else Position(source)


def _placed(comp: Compilation, cluster: str) -> list[metallb_rules.Placed]:
    return [
        metallb_rules.Placed(key, obj.body, _hub_position(comp, key, obj.source))
        for key, obj in sorted(comp.clusters[cluster].items())
        if key.group == GROUP and obj.bundle != BUNDLE
    ]


def loadbalancers_status(comp: Compilation) -> list[dict[str, Any]]:
    """Each cluster's MetalLB pools and addresses, from the compiled objects (JSON-ready).

    ``[{"cluster", "namespace", "pools": [{"name", "addresses", "advertise", "autoAssign"}],
    "bgpPeers": [names]}]``, clusters and pools sorted by name; clusters without MetalLB
    objects are left out.
    """
    out = []
    for cluster, objects in sorted(comp.clusters.items()):
        mine = {key: obj for key, obj in objects.items() if obj.bundle == BUNDLE}
        if not mine:
            continue
        kinds = {(key.kind, key.name) for key in mine}
        pools, peers, namespace = [], [], ""
        for key in sorted(mine):
            namespace = key.namespace
            if key.kind == "IPAddressPool":
                spec = mine[key].body["spec"]
                arp = ("L2Advertisement", key.name) in kinds
                bgp = ("BGPAdvertisement", key.name) in kinds
                advertise = "Both" if arp and bgp else "ARP" if arp else "BGP" if bgp else None
                pools.append(
                    {
                        "name": key.name,
                        "addresses": list(spec["addresses"]),
                        "advertise": advertise,
                        "autoAssign": spec["autoAssign"],
                    }
                )
            elif key.kind == "BGPPeer":
                peers.append(key.name)
        out.append({"cluster": cluster, "namespace": namespace, "pools": pools, "bgpPeers": peers})
    return out
