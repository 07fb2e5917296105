"""How exported Services combine into one multi-cluster service: KEP-1645's merge and Azure
fleet-networking's stricter equality. Pure data in, conflicts and merged ports out.

The KEP resolves conflicts by the oldest ServiceExport; offline there is no creation time, so
exporters are taken in cluster-name order (the tie-break Cilium and Lighthouse use) and the
first one's definition wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CLUSTERSET_IP = "ClusterSetIP"
HEADLESS = "Headless"
EXTERNAL_NAME = "ExternalName"
DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds; the Kubernetes default for ClientIP affinity

PORT_CONFLICT = "PortConflict"
TYPE_CONFLICT = "TypeConflict"
AFFINITY_CONFLICT = "SessionAffinityConflict"
AFFINITY_CONFIG_CONFLICT = "SessionAffinityConfigConflict"
INTERNAL_TRAFFIC_POLICY_CONFLICT = "InternalTrafficPolicyConflict"
TRAFFIC_DISTRIBUTION_CONFLICT = "TrafficDistributionConflict"
IP_FAMILY_CONFLICT = "IPFamilyConflict"
# LabelsConflict and AnnotationsConflict compare a ServiceExport's exportedLabels and
# exportedAnnotations; fleetc writes every ServiceExport itself without them, so they agree.
DEFAULT_INTERNAL_TRAFFIC_POLICY = "Cluster"


@dataclass(frozen=True)
class Port:
    name: str
    protocol: str
    port: int
    app_protocol: str | None = None
    # Azure compares the whole ServicePort, so targetPort (defaulted to port) is kept.
    target_port: Any = None

    def __str__(self) -> str:
        app = f" appProtocol {self.app_protocol}" if self.app_protocol else ""
        return f"{self.protocol}/{self.port}{app}"

    @property
    def label(self) -> str:
        return f"port {self.name!r}" if self.name else "the unnamed port"

    def import_form(self) -> dict[str, Any]:
        """A ServiceImport port: name, protocol (always: the CRD has no default), appProtocol,
        port; never targetPort or nodePort."""
        out: dict[str, Any] = {"name": self.name} if self.name else {}
        out["protocol"] = self.protocol
        if self.app_protocol:
            out["appProtocol"] = self.app_protocol
        out["port"] = self.port
        return out


@dataclass(frozen=True)
class Exported:
    """One cluster's rendered Service, as an export sees it."""

    cluster: str
    api: str
    type: str
    ports: tuple[Port, ...]
    session_affinity: str = "None"
    affinity_timeout: int | None = None
    internal_traffic_policy: str = DEFAULT_INTERNAL_TRAFFIC_POLICY
    # None when the Service does not set it.
    traffic_distribution: str | None = None
    # None when the Service leaves it to the cluster's default.
    ip_families: tuple[str, ...] | None = None


PROTOCOLS = ("TCP", "UDP", "SCTP")


def problem(service: dict[str, Any]) -> str | None:
    """Why a (hub, hence untrusted) Service body cannot be read as an export, or None."""
    spec = service.get("spec")
    if not isinstance(spec, dict):
        return "has no spec"
    ports = spec.get("ports") or []
    if not isinstance(ports, list) or not all(isinstance(p, dict) for p in ports):
        return "spec.ports is not a list of ports"
    for index, port in enumerate(ports):
        number = port.get("port")
        if not _is_int(number) or not 1 <= number <= 65535:
            return f"spec.ports[{index}].port is not a port number (1-65535)"
        if port.get("protocol", "TCP") not in PROTOCOLS:
            return f"spec.ports[{index}].protocol is not one of {', '.join(PROTOCOLS)}"
        for name in ("name", "appProtocol"):
            if not isinstance(port.get(name, ""), str):
                return f"spec.ports[{index}].{name} is not a string"
        target = port.get("targetPort", number)
        if target is not None and (isinstance(target, bool) or not isinstance(target, (int, str))):
            return f"spec.ports[{index}].targetPort is not a port number or name"
    names = [p.get("name", "") for p in ports]
    numbers = [(p.get("protocol", "TCP"), p["port"]) for p in ports]
    if len(set(names)) < len(names) or len(set(numbers)) < len(numbers):
        return "spec.ports repeats a port name or a (protocol, port)"
    config = spec.get("sessionAffinityConfig") or {}
    client_ip = config.get("clientIP") or {} if isinstance(config, dict) else None
    if not isinstance(client_ip, dict):
        return "spec.sessionAffinityConfig.clientIP is not a mapping"
    if not _is_int(client_ip.get("timeoutSeconds", DEFAULT_AFFINITY_TIMEOUT)):
        return "spec.sessionAffinityConfig.clientIP.timeoutSeconds is not an integer"
    for name in ("internalTrafficPolicy", "trafficDistribution", "sessionAffinity"):
        if not isinstance(spec.get(name, ""), str):
            return f"spec.{name} is not a string"
    families = spec.get("ipFamilies", [])
    if not isinstance(families, list) or not all(f in ("IPv4", "IPv6") for f in families):
        return "spec.ipFamilies is not a list of IPv4 / IPv6"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def exported(cluster: str, api: str, service: dict[str, Any]) -> Exported:
    """The export view of a Service body that ``problem`` accepted."""
    spec = service.get("spec") if isinstance(service.get("spec"), dict) else {}
    if spec.get("type") == EXTERNAL_NAME:
        kind = EXTERNAL_NAME
    elif spec.get("clusterIP") == "None":
        kind = HEADLESS
    else:
        kind = CLUSTERSET_IP
    ports = tuple(_port(p) for p in spec.get("ports") or [] if isinstance(p, dict))
    affinity = str(spec.get("sessionAffinity") or "None")
    timeout = None
    if affinity == "ClientIP":
        config = ((spec.get("sessionAffinityConfig") or {}).get("clientIP")) or {}
        timeout = int(config.get("timeoutSeconds", DEFAULT_AFFINITY_TIMEOUT))
    families = spec.get("ipFamilies")
    return Exported(
        cluster,
        api,
        kind,
        ports,
        affinity,
        timeout,
        str(spec.get("internalTrafficPolicy") or DEFAULT_INTERNAL_TRAFFIC_POLICY),
        spec.get("trafficDistribution"),
        tuple(families) if families else None,
    )


def _port(raw: dict[str, Any]) -> Port:
    port = int(raw.get("port", 0))
    return Port(
        name=str(raw.get("name") or ""),
        protocol=str(raw.get("protocol") or "TCP"),
        port=port,
        app_protocol=raw.get("appProtocol"),
        target_port=raw.get("targetPort", port),
    )


@dataclass(frozen=True)
class Conflict:
    """Two exporters disagree on ``field``; ``kept`` is the cluster whose value wins a merge."""

    reason: str
    field: str
    kept: str
    other: str
    kept_value: str
    other_value: str

    def describe(self) -> str:
        return (
            f"{self.field} is {self.kept_value} on cluster {self.kept!r} "
            f"but {self.other_value} on cluster {self.other!r} [{self.reason}]"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "field": self.field,
            "clusters": [self.kept, self.other],
            "winner": self.kept,
            "message": self.describe(),
        }


@dataclass
class Merged:
    """The import the exports add up to, and what disagreed on the way."""

    winner: str
    type: str
    ports: list[Port]
    session_affinity: str
    affinity_timeout: int | None
    conflicts: list[Conflict] = field(default_factory=list)
    internal_traffic_policy: str = DEFAULT_INTERNAL_TRAFFIC_POLICY
    traffic_distribution: str | None = None
    ip_families: tuple[str, ...] | None = None
    # Merged ports some exporters do not expose: port label -> clusters lacking it.
    gaps: dict[str, list[str]] = field(default_factory=dict)
    # Port label (as in ``gaps``) -> the cluster whose port was merged.
    gap_owners: dict[str, str] = field(default_factory=dict)


def merge(exports: list[Exported]) -> Merged:
    """KEP-1645: type, session affinity (+config) from the winner; ports as a union, matched by
    name then by (protocol, port); a clash keeps the earlier port and is a conflict."""
    ordered = sorted(exports, key=lambda e: e.cluster)
    first = ordered[0]
    merged = Merged(
        first.cluster,
        first.type,
        [],
        first.session_affinity,
        first.affinity_timeout,
        internal_traffic_policy=first.internal_traffic_policy,
        traffic_distribution=first.traffic_distribution,
        ip_families=first.ip_families,
    )
    owner: dict[Port, str] = {}
    for export in ordered:
        _merge_scalars(merged, first, export)
        _merge_traffic(merged, first, export)
        for port in export.ports:
            by_name = next((m for m in merged.ports if m.name == port.name), None)
            if by_name is not None:
                if _import_identity(by_name) != _import_identity(port):
                    merged.conflicts.append(
                        Conflict(
                            PORT_CONFLICT,
                            by_name.label,
                            owner[by_name],
                            export.cluster,
                            str(by_name),
                            str(port),
                        )
                    )
                continue
            by_number = next(
                (m for m in merged.ports if (m.protocol, m.port) == (port.protocol, port.port)),
                None,
            )
            if by_number is not None:
                merged.conflicts.append(
                    Conflict(
                        PORT_CONFLICT,
                        f"the name of {port.protocol}/{port.port}",
                        owner[by_number],
                        export.cluster,
                        repr(by_number.name),
                        repr(port.name),
                    )
                )
                continue
            merged.ports.append(port)
            owner[port] = export.cluster
    for port in merged.ports:  # a port an exporter lacks outright (a clash is a conflict)
        lacking = [
            e.cluster
            for e in ordered
            if not any(
                p.name == port.name or (p.protocol, p.port) == (port.protocol, port.port)
                for p in e.ports
            )
        ]
        if lacking:
            merged.gaps[f"{port.label} ({port})"] = lacking
            merged.gap_owners[f"{port.label} ({port})"] = owner[port]
    return merged


def _import_identity(port: Port) -> tuple[str, str, int, str | None]:
    return (port.name, port.protocol, port.port, port.app_protocol)


def _merge_scalars(merged: Merged, first: Exported, export: Exported) -> None:
    if export.type != first.type:
        merged.conflicts.append(
            Conflict(TYPE_CONFLICT, "type", first.cluster, export.cluster, first.type, export.type)
        )
    if export.session_affinity != first.session_affinity:
        merged.conflicts.append(
            Conflict(
                AFFINITY_CONFLICT,
                "sessionAffinity",
                first.cluster,
                export.cluster,
                first.session_affinity,
                export.session_affinity,
            )
        )
    elif export.affinity_timeout != first.affinity_timeout:
        merged.conflicts.append(
            Conflict(
                AFFINITY_CONFIG_CONFLICT,
                "sessionAffinityConfig.clientIP.timeoutSeconds",
                first.cluster,
                export.cluster,
                str(first.affinity_timeout),
                str(export.affinity_timeout),
            )
        )


def _merge_traffic(merged: Merged, first: Exported, export: Exported) -> None:
    """KEP-1645's other conflicts: internalTrafficPolicy, trafficDistribution, ipFamilies."""
    if export.internal_traffic_policy != first.internal_traffic_policy:
        merged.conflicts.append(
            Conflict(
                INTERNAL_TRAFFIC_POLICY_CONFLICT,
                "internalTrafficPolicy",
                first.cluster,
                export.cluster,
                first.internal_traffic_policy,
                export.internal_traffic_policy,
            )
        )
    if export.traffic_distribution != first.traffic_distribution:
        merged.conflicts.append(
            Conflict(
                TRAFFIC_DISTRIBUTION_CONFLICT,
                "trafficDistribution",
                first.cluster,
                export.cluster,
                str(first.traffic_distribution or "(unset)"),
                str(export.traffic_distribution or "(unset)"),
            )
        )
    # Unset families follow each cluster's own default, which fleetc cannot see.
    if first.ip_families and export.ip_families and export.ip_families != first.ip_families:
        merged.conflicts.append(
            Conflict(
                IP_FAMILY_CONFLICT,
                "ipFamilies",
                first.cluster,
                export.cluster,
                ",".join(first.ip_families),
                ",".join(export.ip_families),
            )
        )


def azure_merge(exports: list[Exported]) -> Merged:
    """fleet-networking's import: the first export's ports as they are (no union), type
    ClusterSetIP; session affinity, internalTrafficPolicy, trafficDistribution and ipFamilies
    are neither compared nor carried (``azure_conflicts`` holds the only conflicts it knows)."""
    first = sorted(exports, key=lambda e: e.cluster)[0]
    return Merged(first.cluster, CLUSTERSET_IP, list(first.ports), "None", None)


def azure_conflicts(exports: list[Exported]) -> list[Conflict]:
    """fleet-networking: every export's whole port list (order, targetPort, appProtocol
    included) must equal the first export's; there is no union."""
    ordered = sorted(exports, key=lambda e: e.cluster)
    if not ordered:
        return []
    first = ordered[0]
    conflicts = []
    for export in ordered[1:]:
        if export.ports != first.ports:
            conflicts.append(
                Conflict(
                    PORT_CONFLICT,
                    "the port list (compared whole, in order)",
                    first.cluster,
                    export.cluster,
                    _azure_ports(first.ports),
                    _azure_ports(export.ports),
                )
            )
    return conflicts


def _azure_ports(ports: tuple[Port, ...]) -> str:
    shown = ", ".join(
        f"{p.name or '<unnamed>'} {p} -> {p.target_port}"
        for p in ports  # targetPort matters to Azure
    )
    return f"[{shown}]"
