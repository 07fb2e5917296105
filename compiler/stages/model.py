"""Build the model from loaded documents: schema checks, identities, inventory mapping. Pure."""

from __future__ import annotations

from typing import Any

from ..core import schema, secrets
from ..core.diagnostics import Diagnostics, Position, did_you_mean, field_path
from ..core.inputs import Inputs
from ..core.kube import (
    CONTROL_KINDS,
    CONTROLLER_KINDS,
    NAMESPACED_BUILTINS,
    PLACEMENT_GROUP,
    PLACEMENT_VERSIONS,
    hub_object,
    unwrap_lists,
)
from ..core.model import (
    LEAVING,
    NOT_READY,
    READY,
    Cluster,
    Fleet,
    HubObject,
    Placement,
    Taint,
    split_api_version,
)
from ..core.yamlsource import Document

MEMBER_CLUSTER_API_VERSIONS = (
    "cluster.kubernetes-fleet.io/v1",
    "cluster.kubernetes-fleet.io/v1beta1",
)

# KubeFleet's eligibility reasons (pkg/scheduler/clustereligibilitychecker).
REASON_LEFT = "cluster has left the fleet"
REASON_NOT_ONLINE = "cluster is not connected to the fleet: member agent not online yet"
REASON_NOT_JOINED = "cluster is not connected to the fleet: member agent not joined yet"
REASON_NO_HEALTH = (
    "cluster is not connected to the fleet: health condition from member agent is not available"
)
REASON_UNHEALTHY = "cluster is not connected to the fleet: unhealthy for a prolonged period of time"


def build(inputs: Inputs, diags: Diagnostics) -> Fleet | None:
    doc = inputs.fleet
    if doc is None:
        return None
    if not isinstance(doc.data, dict):
        diags.error(
            "fleet.yaml must be a mapping with apiVersion, kind, metadata and spec", doc.pos()
        )
        return None
    valid = schema.validate(doc, "fleet", diags)
    metadata = doc.data.get("metadata") if isinstance(doc.data.get("metadata"), dict) else {}
    spec = doc.data.get("spec") if isinstance(doc.data.get("spec"), dict) else {}
    # Later stages trust fleet.spec to match its schema: an invalid one (already reported) is
    # not handed on, and the inventory and hub are still checked so every error shows at once.
    spec = spec if valid else {}
    fleet = Fleet(doc, (), name=str(metadata.get("name", "")), spec=spec)
    _build_inventory(fleet, unwrap_lists(inputs.inventory, diags), diags)
    _build_hub(fleet, unwrap_lists(inputs.hub, diags), diags)
    secrets.check(fleet, diags)
    _build_placements(fleet, diags)
    _warn_controller_kinds(fleet, diags)
    return fleet


def _warn_controller_kinds(fleet: Fleet, diags: Diagnostics) -> None:
    """Bindings, snapshots, Work and AppliedWork are KubeFleet's own records: not input."""
    for kind in sorted(CONTROLLER_KINDS & set(fleet.control)):
        for obj in fleet.control[kind]:
            diags.warning(
                f"{kind} {obj.key.name!r} has no effect: KubeFleet's controllers write "
                f"{kind}s as their own records, and fleetc neither places nor reads them",
                obj.pos("kind"),
                "kind",
                hint="remove it from the hub manifests (it looks copied from a hub cluster)",
            )


# -- inventory ------------------------------------------------------------------------------


def _build_inventory(fleet: Fleet, docs: list[Document], diags: Diagnostics) -> None:
    rejected: set[str] = set()
    for doc in docs:
        data = doc.data
        if not isinstance(data, dict):
            diags.error(
                "an inventory document must be a Cluster or MemberCluster mapping", doc.pos()
            )
            continue
        kind = data.get("kind")
        if kind == "Cluster":
            if not schema.validate(doc, "cluster", diags):
                rejected.add(_name_of(data))
                continue
            cluster = _cluster(doc)
        elif kind == "MemberCluster" and data.get("apiVersion") in MEMBER_CLUSTER_API_VERSIONS:
            if not schema.validate(doc, "membercluster", diags):
                rejected.add(_name_of(data))
                continue
            cluster = _member_cluster(doc)
        else:
            diags.error(
                f"inventory documents must be kind Cluster ({'fleetc.io/v1alpha1'}) or "
                f"MemberCluster (cluster.kubernetes-fleet.io/v1), not {kind!r}",
                doc.pos(("kind",)),
                "kind",
            )
            continue
        first = fleet.clusters.get(cluster.name)
        if first is not None:
            diags.error(
                f"cluster {cluster.name!r} is defined twice "
                f"(first at {first.pos('metadata', 'name')})",
                cluster.pos("metadata", "name"),
                "metadata.name",
            )
            continue
        fleet.clusters[cluster.name] = cluster
    fleet.clusters = dict(sorted(fleet.clusters.items()))
    fleet.rejected_clusters = frozenset(rejected - set(fleet.clusters) - {""})


def _name_of(data: dict[str, Any]) -> str:
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _usage(status: dict[str, Any]) -> dict[str, dict[str, str]]:
    usage = status.get("resourceUsage") or {}
    return {kind: _str_map(usage.get(kind)) for kind in ("capacity", "allocatable", "available")}


def _taints(spec: dict[str, Any]) -> tuple[Taint, ...]:
    return tuple(
        Taint(t["key"], t.get("value", ""), t.get("effect", "NoSchedule"))
        for t in spec.get("taints") or []
    )


def _cluster(doc: Document) -> Cluster:
    data = doc.data
    spec = data.get("spec") or {}
    status = data.get("status") or {}
    state = status.get("state", READY)
    reason = {NOT_READY: REASON_UNHEALTHY, LEAVING: REASON_LEFT}.get(state)
    return Cluster(
        doc,
        (),
        name=data["metadata"]["name"],
        labels=_str_map(data["metadata"].get("labels")),
        kubernetes_version=spec.get("kubernetesVersion"),
        taints=_taints(spec),
        state=state,
        ineligible_reason=reason,
        properties=_str_map(status.get("properties")),
        resource_usage=_usage(status),
        namespaces=frozenset(status["namespaces"]) if "namespaces" in status else None,
        spec=spec,
    )


NAMESPACE_COLLECTION = "NamespaceCollectionSucceeded"


def _member_namespaces(status: dict[str, Any]) -> tuple[frozenset[str] | None, bool]:
    """KubeFleet's NamespaceAffinity input: (namespaces, collection on but none reported)."""
    conditions = status.get("conditions")
    collecting = isinstance(conditions, list) and any(
        isinstance(c, dict) and c.get("type") == NAMESPACE_COLLECTION for c in conditions
    )
    if not collecting:
        return None, False
    namespaces = status.get("namespaces")
    if not isinstance(namespaces, dict):
        return frozenset(), True
    return frozenset(str(n) for n in namespaces), False


def _member_cluster(doc: Document) -> Cluster:
    """Map a KubeFleet MemberCluster; eligibility follows its member-agent conditions."""
    data = doc.data
    metadata = data["metadata"]
    spec = data.get("spec") or {}
    status = data.get("status") or {}
    properties = {
        name: str(entry.get("value"))
        for name, entry in (status.get("properties") or {}).items()
        if isinstance(entry, dict)
    }
    state, reason = READY, None
    agent = next(
        (
            a
            for a in status.get("agentStatus") or []
            if isinstance(a, dict) and a.get("type") == "MemberAgent"
        ),
        None,
    )
    conditions = {
        c.get("type"): c.get("status")
        for c in (agent or {}).get("conditions") or []
        if isinstance(c, dict)
    }
    if metadata.get("deletionTimestamp") or spec.get("state") == "Leave":
        state, reason = LEAVING, REASON_LEFT
    elif agent is None:
        state, reason = NOT_READY, REASON_NOT_ONLINE
    elif conditions.get("Joined") != "True":
        state, reason = NOT_READY, REASON_NOT_JOINED
    elif "Healthy" not in conditions:
        state, reason = NOT_READY, REASON_NO_HEALTH
    elif conditions["Healthy"] != "True":
        state, reason = NOT_READY, REASON_UNHEALTHY
    version = properties.get("k8s.io/k8s-version")
    namespaces, namespaces_missing = _member_namespaces(status)
    return Cluster(
        doc,
        (),
        name=metadata["name"],
        labels=_str_map(metadata.get("labels")),
        kubernetes_version=version,
        taints=_taints(spec),
        state=state,
        ineligible_reason=reason,
        properties=properties,
        resource_usage=_usage(status),
        namespaces=namespaces,
        namespaces_missing=namespaces_missing,
        spec=spec,
    )


# -- hub manifests --------------------------------------------------------------------------


def _build_hub(fleet: Fleet, docs: list[Document], diags: Diagnostics) -> None:
    objects: list[HubObject] = []
    for doc in docs:
        obj = hub_object(doc, diags)
        if obj is None:
            continue
        if obj.key.group == "apiextensions.k8s.io" and obj.key.kind == "CustomResourceDefinition":
            _record_crd(fleet, obj)
        objects.append(obj)
    for obj in objects:
        scope = fleet.crd_scopes.get((obj.key.group, obj.key.kind))
        namespaced = scope == "Namespaced" or (obj.key.group, obj.key.kind) in NAMESPACED_BUILTINS
        if namespaced and not obj.key.namespace:
            diags.error(
                f"{obj.key.kind} {obj.key.name!r} is namespaced but has no metadata.namespace",
                obj.pos("metadata"),
                "metadata.namespace",
                hint="fleetc does not assume 'default': name the namespace explicitly",
            )
            continue
        if scope == "Cluster" and obj.key.namespace:
            diags.error(
                f"{obj.key.kind} is cluster-scoped (per its CRD) but has metadata.namespace",
                obj.pos("metadata", "namespace"),
                "metadata.namespace",
            )
            continue
        if obj.key.group == PLACEMENT_GROUP and obj.key.kind in CONTROL_KINDS:
            fleet.control.setdefault(obj.key.kind, []).append(obj)
            continue
        first = fleet.objects.get(obj.key)
        if first is not None:
            diags.error(
                f"{obj.key} is defined twice (first at {first.pos('metadata', 'name')})",
                obj.pos("metadata", "name"),
                "metadata.name",
                hint="an object's identity is its group, kind, namespace and name",
            )
            continue
        fleet.objects[obj.key] = obj
    fleet.objects = dict(sorted(fleet.objects.items()))


def _record_crd(fleet: Fleet, crd: HubObject) -> None:
    spec = crd.body.get("spec") or {}
    names = spec.get("names") or {}
    if isinstance(spec.get("group"), str) and isinstance(names.get("kind"), str):
        fleet.crd_scopes[(spec["group"], names["kind"])] = str(spec.get("scope", "Namespaced"))


# -- placements -----------------------------------------------------------------------------


def _build_placements(fleet: Fleet, diags: Diagnostics) -> None:
    seen: dict[str, Position] = {}

    def add(placement: Placement, name_pos: Position) -> None:
        if placement.name in seen:
            diags.error(
                f"placement {placement.name!r} is defined twice (first at {seen[placement.name]})",
                name_pos,
            )
            return
        seen[placement.name] = name_pos
        fleet.placements.append(placement)

    for index, item in enumerate(fleet.spec.get("placements") or []):
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            spec = {k: v for k, v in item.items() if k != "name"}
            placement = Placement(
                fleet.doc, ("spec", "placements", index), name=item["name"], spec=spec
            )
            add(placement, placement.pos("name"))
            _check_cluster_names(fleet, placement, diags)
    for crp in fleet.control.get("ClusterResourcePlacement", []):
        version = split_api_version(crp.api_version)[1]
        if version not in PLACEMENT_VERSIONS:
            diags.error(
                f"ClusterResourcePlacement {crp.api_version!r} is not supported; "
                f"use {PLACEMENT_GROUP}/v1 or v1beta1",
                crp.pos("apiVersion"),
                "apiVersion",
            )
            continue
        spec = crp.body.get("spec")
        if not isinstance(spec, dict):
            diags.error("ClusterResourcePlacement needs a spec", crp.pos(), "spec")
            continue
        pointer = "/$defs/placementSpec"
        if schema.validate(crp.doc, "placement", diags, data=spec, base=("spec",), pointer=pointer):
            placement = Placement(crp.doc, ("spec",), name=crp.key.name, spec=spec)
            add(placement, crp.pos("metadata", "name"))
            _check_cluster_names(fleet, placement, diags)
    _build_resource_placements(fleet, add, diags)


def _build_resource_placements(fleet: Fleet, add: Any, diags: Diagnostics) -> None:
    """ResourcePlacements (namespaced): keyed ``namespace/name``, as KubeFleet keys them."""
    for rp in fleet.control.get("ResourcePlacement", []):
        version = split_api_version(rp.api_version)[1]
        if version not in PLACEMENT_VERSIONS:
            diags.error(
                f"ResourcePlacement {rp.api_version!r} is not supported; "
                f"use {PLACEMENT_GROUP}/v1 or v1beta1",
                rp.pos("apiVersion"),
                "apiVersion",
            )
            continue
        if not rp.key.namespace:
            diags.error(
                f"ResourcePlacement {rp.key.name!r} is namespaced but has no metadata.namespace",
                rp.pos("metadata"),
                "metadata.namespace",
                hint="a ResourcePlacement places objects of its own namespace",
            )
            continue
        spec = rp.body.get("spec")
        if not isinstance(spec, dict):
            diags.error("ResourcePlacement needs a spec", rp.pos(), "spec")
            continue
        pointer = "/$defs/placementSpec"
        if not schema.validate(
            rp.doc, "placement", diags, data=spec, base=("spec",), pointer=pointer
        ):
            continue
        if "statusReportingScope" in spec:
            diags.warning(
                "statusReportingScope has no effect on a ResourcePlacement (KubeFleet reads it "
                "for ClusterResourcePlacements only)",
                rp.pos("spec", "statusReportingScope"),
                "spec.statusReportingScope",
            )
        key = f"{rp.key.namespace}/{rp.key.name}"
        placement = Placement(rp.doc, ("spec",), name=key, spec=spec, namespace=rp.key.namespace)
        add(placement, rp.pos("metadata", "name"))
        _check_cluster_names(fleet, placement, diags)


def _check_cluster_names(fleet: Fleet, placement: Placement, diags: Diagnostics) -> None:
    """A clusterNames entry that is not in the inventory is almost always a typo."""
    policy = placement.spec.get("policy")
    names = policy.get("clusterNames") if isinstance(policy, dict) else None
    for index, name in enumerate(names if isinstance(names, list) else []):
        if (
            isinstance(name, str)
            and name not in fleet.clusters
            and name not in fleet.rejected_clusters
        ):
            diags.error(
                f"placement {placement.name!r} names cluster {name!r}, "
                "which is not in the inventory",
                placement.pos("policy", "clusterNames", index),
                field_path((*placement.base, "policy", "clusterNames", index)),
                hint=did_you_mean(name, fleet.clusters),
            )
