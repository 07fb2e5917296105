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

import dataclasses
from typing import Any

from ...core.diagnostics import Diagnostic, Diagnostics, Position, Severity, field_path
from ...core.model import Fleet, ObjectKey
from ...core.placed import ClusterObjects, RenderedObject
from ..protocol import SectionInput, SectionOutput, object_key
from . import allocate as metallb_allocate
from . import config as metallb_model
from . import rules as metallb_rules
from .allocate import Pool

BUNDLE = "metallb-config"
GROUP = "metallb.io"


class LoadBalancers:
    """fleet.yaml ``spec.loadBalancers`` and each cluster's ``spec.metallb``: MetalLB pools,
    advertisements and BGP peers, with the addresses fleet.lock keeps."""

    status_key = "loadBalancers"

    def generate(self, given: SectionInput, diags: Diagnostics) -> SectionOutput:
        out = SectionOutput()
        config = metallb_model.read(given.fleet, diags)
        lock = given.previous_lock
        previous = metallb_allocate.previous_pools(
            lock.section(metallb_allocate.LOCK_SECTION), lock.doc, diags
        )
        if not (config.empty and not previous):
            _generate(given, config, previous, out, diags)
        out.status = _status(out.objects)
        _check_advertisements(given, config, out, diags)
        _join_bundle(given, config, out)
        if BUNDLE in out.bundle_dependencies:
            _check_install(given, config, out, diags)
        return out


def _check_advertisements(
    given: SectionInput, config: metallb_model.Config, out: SectionOutput, diags: Diagnostics
) -> None:
    """localPref agreement between every BGPAdvertisement of a pool on a cluster, fleetc's and
    placed ones alike."""
    load_balancers = {lb.name: lb for lb in config.load_balancers}
    for cluster in sorted(given.clusters):
        objects = _metallb(given.clusters[cluster])
        objects.update(_metallb(out.objects.get(cluster, {})))
        advertisements: list[metallb_rules.Advertisement] = []
        pool_labels: dict[str, dict[str, str]] = {}
        for key, obj in sorted(objects.items()):
            if not isinstance(obj.body.get("spec"), dict):
                continue
            if key.kind == "IPAddressPool":
                found = obj.body["metadata"].get("labels")
                pool_labels[key.name] = found if isinstance(found, dict) else {}
            elif key.kind == "BGPAdvertisement":
                lb = load_balancers.get(key.name) if obj.bundle == BUNDLE else None
                if lb is not None:
                    position, path = lb.pos("bgp", "localPref"), field_path((*lb.base, "bgp"))
                else:
                    position, path = _hub_position(given.fleet, key, obj.source), ""
                advertisements.append(
                    metallb_rules.Advertisement(key.name, obj.body["spec"], position, path)
                )
        if len(advertisements) > 1:
            metallb_rules.check_local_pref(cluster, advertisements, pool_labels, diags)


def _join_bundle(given: SectionInput, config: metallb_model.Config, out: SectionOutput) -> None:
    """metallb.io objects a placement delivers go to the metallb-config bundle too, so they
    apply after the MetalLB install (its webhook), like the ones fleetc generates."""
    for cluster, objects in given.clusters.items():
        for key, obj in sorted(_metallb(objects).items()):
            if not obj.bundle:
                out.objects.setdefault(cluster, {})[key] = dataclasses.replace(obj, bundle=BUNDLE)
                out.bundle_dependencies[BUNDLE] = (config.install_kustomization,)


FLUX_KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io", "Kustomization")


def _check_install(
    given: SectionInput, config: metallb_model.Config, out: SectionOutput, diags: Diagnostics
) -> None:
    """The Kustomization metallb-config waits for must exist: rendered by the fleet on that
    cluster, or declared as provided outside it (``installProvided``)."""
    if config.install_provided:
        return
    name = config.install_kustomization
    at = ("spec", "loadBalancers", "installKustomization")
    for cluster in sorted(out.objects):
        if not any(obj.bundle == BUNDLE for obj in out.objects[cluster].values()):
            continue
        have = {**given.clusters.get(cluster, {}), **out.objects[cluster]}
        if any((k.group, k.kind) == FLUX_KUSTOMIZATION and k.name == name for k in have):
            continue
        diags.error(
            f"cluster {cluster!r} gets MetalLB configuration (bundle {BUNDLE!r}) that waits for "
            f"the Flux Kustomization {name!r}, which nothing renders for that cluster",
            given.fleet.pos(*at),
            "spec.loadBalancers.installKustomization",
            hint="place the Kustomization that installs MetalLB on the cluster, or set "
            "spec.loadBalancers.installProvided: true if it is applied outside the fleet",
        )


def _generate(
    given: SectionInput,
    config: metallb_model.Config,
    previous: metallb_allocate.Previous,
    out: SectionOutput,
    diags: Diagnostics,
) -> None:
    pools = metallb_allocate.plan(config, previous, diags)
    for name, net in config.nets.items():
        metallb_rules.check_cluster(net, pools[name], diags)
        metallb_rules.check_placed(net, _placed(given, name), pools[name], diags)
    metallb_rules.check_sites(config.nets, pools, diags)
    metallb_rules.check_renames(config.nets, pools, previous, diags)
    section = metallb_allocate.lock_section(pools)
    if section:
        out.lock[metallb_allocate.LOCK_SECTION] = section
    rendered = False
    for name, net in config.nets.items():
        for pool in pools[name]:
            for kind, spec in _pool_objects(pool):
                source = f"{pool.lb.doc.file}#spec.loadBalancers/{pool.lb.name}"
                body = _body("v1beta1", kind, net.namespace, pool.lb.name, spec)
                _add(given, out, name, source, body, diags)
                rendered = True
        for peer in net.peers.values():
            source = f"{peer.doc.file}#{field_path(peer.base[:-1])}/{peer.name}"
            body = _body("v1beta2", "BGPPeer", net.namespace, peer.name, peer.spec)
            _add(given, out, name, source, body, diags)
            rendered = True
    if rendered:
        out.bundle_dependencies[BUNDLE] = (config.install_kustomization,)


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


def _body(
    version: str, kind: str, namespace: str, name: str, spec: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _add(
    given: SectionInput,
    out: SectionOutput,
    cluster: str,
    source: str,
    body: dict[str, Any],
    diags: Diagnostics,
) -> None:
    key = object_key(body)

    def clash(existing: RenderedObject) -> Diagnostic:
        return Diagnostic(
            Severity.ERROR,
            f"fleetc renders {key} for cluster {cluster!r}, and a placement puts one there too "
            f"(from {existing.source})",
            _hub_position(given.fleet, key, existing.source),
            hint="declare it in spec.loadBalancers only, or rename one of them",
        )

    out.add(given, cluster, RenderedObject(key, body, source, bundle=BUNDLE), diags, clash)


def _hub_position(fleet: Fleet, key: ObjectKey, source: str) -> Position:
    hub = fleet.objects.get(key)
    return hub.pos() if hub is not None else Position(source)


def _placed(given: SectionInput, cluster: str) -> list[metallb_rules.Placed]:
    return [
        metallb_rules.Placed(key, obj.body, _hub_position(given.fleet, key, obj.source))
        for key, obj in sorted(_metallb(given.clusters[cluster]).items())
        if obj.bundle != BUNDLE
    ]


def _metallb(objects: dict[ObjectKey, RenderedObject]) -> dict[ObjectKey, RenderedObject]:
    """The metallb.io objects among ``objects`` (picked before sorting: most are not)."""
    return {key: obj for key, obj in objects.items() if key.group == GROUP}


def _status(generated: ClusterObjects) -> list[dict[str, Any]]:
    """Each cluster's MetalLB pools and addresses, from the generated objects (JSON-ready).

    ``[{"cluster", "namespace", "pools": [{"name", "addresses", "advertise", "autoAssign"}],
    "bgpPeers": [names]}]``, clusters and pools sorted by name; clusters without MetalLB
    objects are left out.
    """
    out = []
    for cluster, objects in sorted(generated.items()):
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
