"""Multi-cluster Services compiled from placement (fleet.yaml ``spec.services``).

For each listed hub Service: a ServiceExport wherever placement (after overrides) rendered the
Service; on consumers its namespace and, on mcs-api clusters that take rendered imports, a
multicluster.x-k8s.io ServiceImport; on load-balancer clusters a networking.fleet.azure.com
MultiClusterService. Conflicts between exporters are checked before anything is written.
The analysis is also the section's status (``fleetc status``), recorded as it is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core.diagnostics import Diagnostic, Diagnostics, Severity, did_you_mean, field_path
from ...core.model import Fleet, ObjectKey
from ...core.placed import RenderedObject
from ..protocol import SectionInput, SectionOutput, object_key
from . import dns as clusterset_dns
from . import rules as service_rules
from .config import (
    AZURE_FLEET,
    MCS_API,
    MERGE,
    ServiceEntry,
    Settings,
    pick_clusters,
    settings,
)
from .rules import EXTERNAL_NAME, HEADLESS, Conflict, Exported, Merged

MCS_GROUP = "multicluster.x-k8s.io"
FLEET_NETWORKING_GROUP = "networking.fleet.azure.com"
# fleet-networking serves ServiceExport as v1alpha1 and v1beta1 (same schema); v1alpha1 is what
# every installation and the Azure docs use. MultiClusterService is served as v1alpha1 only.
FLEET_NETWORKING_VERSION = "v1alpha1"
# The annotation fleet-networking's MultiClusterService controller reads
# (pkg/controllers/multiclusterservice); it sets the cloud provider's annotation on the
# derived LoadBalancer Service.
INTERNAL_LB_ANNOTATION = "networking.fleet.azure.com/azure-load-balancer-internal"
AZURE_MAX_NAME = 63  # fleet-networking: a ServiceExport name must be under 64 characters


@dataclass
class ServicePlan:
    """What one ``services`` entry amounts to on the compiled fleet."""

    entry: ServiceEntry
    # Clusters the Service is rendered on; ``exports`` has those whose Service reads cleanly.
    placed: list[str] = field(default_factory=list)
    exports: list[Exported] = field(default_factory=list)
    consumers: list[str] = field(default_factory=list)
    load_balancers: list[str] = field(default_factory=list)
    # KEP-1645's merge of the mcs-api exports (else fleet-networking's import).
    merged: Merged | None = None
    # fleet-networking's import of the azure-fleet exports, and its conflicts.
    azure_merged: Merged | None = None
    azure_conflicts: list[Conflict] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Conflict]:
        kep = self.merged.conflicts if self.merged and self.merged is not self.azure_merged else []
        return kep + [c for c in self.azure_conflicts if c not in kep]

    @property
    def exporting(self) -> list[Exported]:
        """Exports a controller would accept (ExternalName never is)."""
        if not self.entry.export:
            return []
        return [e for e in self.exports if e.type != EXTERNAL_NAME]


def plan(given: SectionInput, config: Settings, diags: Diagnostics) -> list[ServicePlan]:
    """Analyse every entry: where it is exported, who consumes it, how the exports merge."""
    fleet = given.fleet
    plans = []
    seen: dict[ObjectKey, ServiceEntry] = {}
    for entry in config.entries:
        at = (*entry.path, "service")
        if entry.key in seen:
            diags.error(
                f"Service {entry.ref} is listed twice in spec.services.items "
                f"(first at {fleet.pos(*seen[entry.key].path)})",
                fleet.pos(*at),
                field_path(at),
            )
            continue
        seen[entry.key] = entry
        current = ServicePlan(entry)
        plans.append(current)
        if entry.key not in fleet.objects:
            services = [f"{k.namespace}/{k.name}" for k in fleet.objects if k.kind == "Service"]
            diags.error(
                f"Service {entry.ref} is not among the hub manifests",
                fleet.pos(*at),
                field_path(at),
                hint=did_you_mean(entry.ref, services),
            )
            continue
        for cluster_name, objects in given.clusters.items():
            rendered = objects.get(entry.key)
            if rendered is None:
                continue
            current.placed.append(cluster_name)
            problem = service_rules.problem(rendered.body)
            if problem is not None:
                diags.error(
                    f"Service {entry.ref} on cluster {cluster_name!r} {problem}",
                    fleet.objects[entry.key].pos("spec"),
                    "spec",
                )
                continue
            api = config.cluster_api(fleet.clusters[cluster_name])
            current.exports.append(service_rules.exported(cluster_name, api, rendered.body))
        current.consumers = pick_clusters(fleet, entry.consumers, (*entry.path, "consumers"), diags)
        current.load_balancers = pick_clusters(
            fleet, entry.load_balancer, (*entry.path, "loadBalancer"), diags
        )
        # The two flavours are two clustersets: KEP-1645's merge for mcs-api exports,
        # fleet-networking's whole-port-list equality for azure-fleet ones.
        kep = [e for e in current.exporting if e.api != AZURE_FLEET]
        azure = [e for e in current.exporting if e.api == AZURE_FLEET]
        if kep:
            current.merged = service_rules.merge(kep)
        if azure:
            current.azure_merged = service_rules.azure_merge(azure)
            current.azure_conflicts = service_rules.azure_conflicts(azure)
            current.merged = current.merged or current.azure_merged
    return plans


class Services:
    """fleet.yaml ``spec.services``: multi-cluster Services and clusterset DNS."""

    status_key = "services"

    def generate(self, given: SectionInput, diags: Diagnostics) -> SectionOutput:
        config = settings(given.fleet)
        out = SectionOutput()
        plans = plan(given, config, diags)
        for current in plans:
            _check(given, config, current, diags)
            _render(given, config, current, out, diags)
        clusterset_dns.generate(given, config, out, diags)
        _check_hand_written_mcs(given.fleet, diags)
        out.status = _status(plans)
        return out


CLOUD_INTERNAL_LB_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-internal"


def _check_hand_written_mcs(fleet: Fleet, diags: Diagnostics) -> None:
    """fleet-networking reads its own annotation on a MultiClusterService, not the cloud
    provider's: with only the latter, the derived Service's load balancer stays public."""
    for key, obj in fleet.objects.items():
        if (key.group, key.kind) != (FLEET_NETWORKING_GROUP, "MultiClusterService"):
            continue
        annotations = obj.body["metadata"].get("annotations") or {}
        if CLOUD_INTERNAL_LB_ANNOTATION in annotations and (
            INTERNAL_LB_ANNOTATION not in annotations
        ):
            diags.warning(
                f"MultiClusterService {key.namespace}/{key.name} carries "
                f"{CLOUD_INTERNAL_LB_ANNOTATION}, which fleet-networking does not read: its "
                "load balancer stays public",
                obj.pos("metadata", "annotations", CLOUD_INTERNAL_LB_ANNOTATION),
                f"metadata.annotations.{CLOUD_INTERNAL_LB_ANNOTATION}",
                hint=f'use {INTERNAL_LB_ANNOTATION}: "true" (fleet-networking sets the cloud '
                "provider's annotation on the Service it derives)",
            )


def _check(given: SectionInput, config: Settings, current: ServicePlan, diags: Diagnostics) -> None:
    entry, fleet = current.entry, given.fleet
    pos, path = fleet.pos(*entry.path, "service"), field_path((*entry.path, "service"))
    if entry.key not in fleet.objects:
        return
    if not current.placed:
        diags.error(
            f"no placement puts Service {entry.ref} on any cluster",
            pos,
            path,
            hint="place its namespace with a placement, or remove the entry",
        )
    if entry.export:
        _check_exportable(fleet, current, diags)
        for conflict in current.conflicts:
            _report_conflict(fleet, current, conflict, diags)
        if current.merged is not None:
            for port, lacking in current.merged.gaps.items():
                diags.warning(
                    _gap_message(entry, port, lacking),
                    pos,
                    path,
                    hint="KEP-1645 controllers report PortConflict for any difference; traffic "
                    "to that port only reaches clusters that expose it",
                )
    importers = current.consumers or current.load_balancers
    readable = bool(current.placed) and len(current.exports) == len(current.placed)
    if importers and not current.exporting and readable:
        diags.error(
            f"cluster(s) {', '.join(sorted(set(current.consumers + current.load_balancers)))} "
            f"would import Service {entry.ref}, which no cluster exports",
            pos,
            path,
            hint="set export: true (and make the Service exportable), or drop the consumers",
        )
    if current.exporting and not importers:
        diags.warning(
            f"Service {entry.ref} is exported but has no consumers",
            pos,
            path,
            hint="name the clusters that reach it under consumers (or loadBalancer)",
        )
    for cluster in current.load_balancers:
        api = config.cluster_api(fleet.clusters[cluster])
        if api != AZURE_FLEET:
            lb_path = (*entry.path, "loadBalancer")
            diags.error(
                f"loadBalancer needs Azure fleet-networking, but cluster {cluster!r} runs {api}",
                fleet.pos(*lb_path),
                field_path(lb_path),
                hint="a networking.fleet.azure.com MultiClusterService only works on azure-fleet "
                "clusters (spec.multicluster.api)",
            )
    for cluster in current.consumers:
        api = config.cluster_api(fleet.clusters[cluster])
        if api == AZURE_FLEET and cluster not in current.load_balancers:
            diags.warning(
                f"consumer {cluster!r} runs azure-fleet, which has no clusterset address: it "
                f"reaches Service {entry.ref} only through a MultiClusterService",
                pos,
                path,
                hint="add the cluster to loadBalancer",
            )


def _check_exportable(fleet: Fleet, current: ServicePlan, diags: Diagnostics) -> None:
    entry = current.entry
    pos, path = fleet.pos(*entry.path, "service"), field_path((*entry.path, "service"))
    external = [e.cluster for e in current.exports if e.type == EXTERNAL_NAME]
    if external:
        diags.error(
            f"Service {entry.ref} is type ExternalName on cluster(s) {', '.join(external)} and "
            f"cannot be exported",
            pos,
            path,
            hint="KEP-1645 marks it Valid=False (InvalidServiceType); set export: false",
        )
    azure = [e for e in current.exports if e.api == AZURE_FLEET]
    headless = [e.cluster for e in azure if e.type == HEADLESS]
    if headless:
        diags.error(
            f"Service {entry.ref} is headless on azure-fleet cluster(s) {', '.join(headless)}; "
            f"networking.fleet.azure.com cannot export headless Services",
            pos,
            path,
            hint="fleet-networking marks it ServiceIneligible; give it a cluster IP",
        )
    if azure and len(entry.name) > AZURE_MAX_NAME:
        diags.error(
            f"Service name {entry.name!r} has {len(entry.name)} characters; a "
            f"networking.fleet.azure.com ServiceExport name must be under 64",
            pos,
            path,
        )


def _gap_message(entry: ServiceEntry, port: str, lacking: list[str]) -> str:
    return (
        f"Service {entry.ref}: {port} is not exposed on cluster(s) {', '.join(lacking)}; "
        "the ports are merged as a union"
    )


def _gap_conflicts(current: ServicePlan) -> list[dict[str, Any]]:
    """KEP-1645: a plain union is a PortConflict too; status lists each one a warning named."""
    merged = current.merged
    if merged is None or not current.entry.export:
        return []
    return [
        {
            "reason": service_rules.PORT_CONFLICT,
            "field": port.split(" (", 1)[0],
            "clusters": [merged.gap_owners[port], *lacking],
            "winner": merged.winner,
            "message": _gap_message(current.entry, port, lacking),
        }
        for port, lacking in merged.gaps.items()
    ]


def _report_conflict(
    fleet: Fleet, current: ServicePlan, conflict: Conflict, diags: Diagnostics
) -> None:
    entry = current.entry
    message = f"Service {entry.ref}: {conflict.describe()}"
    pos = fleet.pos(*entry.path, "service")
    path = field_path((*entry.path, "service"))
    if entry.resolution == MERGE:
        diags.warning(
            f"{message}; merged: cluster {conflict.kept!r}'s definition wins",
            pos,
            path,
            hint="conflictResolution: merge (the first exporting cluster by name wins)",
        )
    else:
        diags.error(
            message,
            pos,
            path,
            hint="make the Services agree (fix the Service or the placement), or set "
            "conflictResolution: merge",
        )


# -- rendering ------------------------------------------------------------------------------


def _render(
    given: SectionInput,
    config: Settings,
    current: ServicePlan,
    out: SectionOutput,
    diags: Diagnostics,
) -> None:
    entry, fleet = current.entry, given.fleet
    source = fleet.doc.file
    at = (*entry.path, "service")

    def add(cluster: str, body: dict[str, Any]) -> None:
        def clash(existing: RenderedObject) -> Diagnostic | None:
            if existing.key.kind == "Namespace":
                return None  # the namespace is there already: the hub's, or another entry's
            return Diagnostic(
                Severity.ERROR,
                f"{existing.key} on cluster {cluster!r} is already rendered from "
                f"{existing.source}; fleetc generates it for Service {entry.ref}",
                fleet.pos(*at),
                field_path(at),
                hint="remove the hand-written object from the hub manifests",
            )

        out.add(given, cluster, RenderedObject(object_key(body), body, source), diags, clash)

    for export in current.exporting:
        add(export.cluster, _service_export(config, export.api, entry))
    if current.merged is None:
        return
    namespace = _namespace(fleet, entry.namespace)
    for cluster in sorted(set(current.consumers) | set(current.load_balancers)):
        add(cluster, namespace)
        info = fleet.clusters[cluster]
        if config.cluster_api(info) == MCS_API and config.renders_imports(info):
            add(cluster, _service_import(config, entry, current.merged))
    for cluster in current.load_balancers:
        add(cluster, _multicluster_service(entry))


def _metadata(entry: ServiceEntry) -> dict[str, Any]:
    return {"name": entry.name, "namespace": entry.namespace}


def _service_export(config: Settings, api: str, entry: ServiceEntry) -> dict[str, Any]:
    if api == AZURE_FLEET:
        version = f"{FLEET_NETWORKING_GROUP}/{FLEET_NETWORKING_VERSION}"
    else:
        version = f"{MCS_GROUP}/{config.mcs_version}"
    return {"apiVersion": version, "kind": "ServiceExport", "metadata": _metadata(entry)}


def _service_import(config: Settings, entry: ServiceEntry, merged: Merged) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": merged.type,
        "ports": [p.import_form() for p in merged.ports],
    }
    if merged.type != HEADLESS:  # session affinity is ignored for headless imports
        spec["sessionAffinity"] = merged.session_affinity
        if merged.affinity_timeout is not None:
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": merged.affinity_timeout}
            }
    # Carried from the winner when its Service sets them (KEP-1645's ServiceImport spec).
    if merged.ip_families:
        spec["ipFamilies"] = list(merged.ip_families)
    if merged.internal_traffic_policy != service_rules.DEFAULT_INTERNAL_TRAFFIC_POLICY:
        spec["internalTrafficPolicy"] = merged.internal_traffic_policy
    if merged.traffic_distribution:
        spec["trafficDistribution"] = merged.traffic_distribution
    return {
        "apiVersion": f"{MCS_GROUP}/{config.mcs_version}",
        "kind": "ServiceImport",
        "metadata": _metadata(entry),
        "spec": spec,
    }


def _multicluster_service(entry: ServiceEntry) -> dict[str, Any]:
    metadata = _metadata(entry)
    if entry.internal:
        metadata["annotations"] = {INTERNAL_LB_ANNOTATION: "true"}
    return {
        "apiVersion": f"{FLEET_NETWORKING_GROUP}/{FLEET_NETWORKING_VERSION}",
        "kind": "MultiClusterService",
        "metadata": metadata,
        "spec": {"serviceImport": {"name": entry.name}},
    }


def _namespace(fleet: Fleet, name: str) -> dict[str, Any]:
    """The hub's Namespace object when there is one (labels and all), else a bare one."""
    hub = fleet.objects.get(ObjectKey("", "Namespace", "", name))
    if hub is not None:
        return hub.body
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


# -- status ---------------------------------------------------------------------------------


def _status(plans: list[ServicePlan]) -> list[dict[str, Any]]:
    """Per ``services`` entry: exporting clusters, consumers, merged ports and conflicts.

    The shape is documented in the README (Multi-cluster Services).
    """
    out = []
    for current in plans:
        entry, merged = current.entry, current.merged
        out.append(
            {
                "service": entry.ref,
                "export": entry.export,
                "conflictResolution": entry.resolution,
                "exporters": [{"cluster": e.cluster, "api": e.api} for e in current.exporting],
                "consumers": current.consumers,
                "loadBalancers": [
                    {"cluster": c, "internal": entry.internal} for c in current.load_balancers
                ],
                "type": merged.type if merged else None,
                "ports": [p.import_form() for p in merged.ports] if merged else [],
                "winner": merged.winner if merged else None,
                "conflicts": [c.as_dict() for c in current.conflicts] + _gap_conflicts(current),
            }
        )
    return out
