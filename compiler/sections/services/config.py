"""The multi-cluster Services settings: fleet.yaml ``spec.services`` and each cluster's
``spec.multicluster``, read into plain values (the schema has already checked the shapes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core import cluster_pick
from ...core.diagnostics import Diagnostics
from ...core.model import Cluster, Fleet, Located, ObjectKey

MCS_API = "mcs-api"
AZURE_FLEET = "azure-fleet"
RENDERED_IMPORTS = "rendered"
REJECT = "reject"
MERGE = "merge"

SECTION = ("spec", "services")


@dataclass(frozen=True)
class ServiceEntry:
    """One item of ``spec.services.items``: a hub Service to make multi-cluster."""

    index: int
    namespace: str
    name: str
    export: bool
    consumers: dict[str, Any] | None
    load_balancer: dict[str, Any] | None
    resolution: str

    @property
    def key(self) -> ObjectKey:
        return ObjectKey("", "Service", self.namespace, self.name)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def path(self) -> tuple[str | int, ...]:
        return (*SECTION, "items", self.index)

    @property
    def internal(self) -> bool:
        return bool((self.load_balancer or {}).get("internal", False))


@dataclass(frozen=True)
class Settings:
    api: str
    mcs_version: str
    service_imports: str
    corefile: str | None
    entries: tuple[ServiceEntry, ...]

    def cluster_api(self, cluster: Cluster) -> str:
        return str(_multicluster(cluster).get("api") or self.api)

    def renders_imports(self, cluster: Cluster) -> bool:
        mode = _multicluster(cluster).get("serviceImports") or self.service_imports
        return mode == RENDERED_IMPORTS


def _multicluster(cluster: Cluster) -> dict[str, Any]:
    value = cluster.spec.get("multicluster")
    return value if isinstance(value, dict) else {}


def clusterset_dns(cluster: Cluster) -> dict[str, Any] | None:
    """The cluster's clusterset DNS opt-in, or None."""
    value = _multicluster(cluster).get("clustersetDNS")
    return value if isinstance(value, dict) else None


def settings(fleet: Fleet) -> Settings:
    raw = fleet.spec.get("services")
    raw = raw if isinstance(raw, dict) else {}
    entries = []
    for index, item in enumerate(raw.get("items") or []):
        if not isinstance(item, dict) or not isinstance(item.get("service"), str):
            continue
        namespace, _, name = item["service"].partition("/")
        entries.append(
            ServiceEntry(
                index=index,
                namespace=namespace,
                name=name,
                export=bool(item.get("export", True)),
                consumers=item.get("consumers"),
                load_balancer=item.get("loadBalancer"),
                resolution=str(item.get("conflictResolution", REJECT)),
            )
        )
    return Settings(
        api=str(raw.get("api", MCS_API)),
        mcs_version=str(raw.get("mcsAPIVersion", "v1alpha1")),
        service_imports=str(raw.get("serviceImports", RENDERED_IMPORTS)),
        corefile=raw.get("corefile"),
        entries=tuple(entries),
    )


def pick_clusters(
    fleet: Fleet, spec: dict[str, Any] | None, path: tuple[str | int, ...], diags: Diagnostics
) -> list[str]:
    """Clusters named in ``clusterNames`` plus those any ``clusterSelectorTerms`` term matches."""
    if not spec:
        return []
    where = Located(fleet.doc, path)
    names, terms = spec.get("clusterNames"), spec.get("clusterSelectorTerms")
    return cluster_pick.select_clusters(
        fleet, where, names, ("clusterNames",), terms, ("clusterSelectorTerms",), diags
    )
