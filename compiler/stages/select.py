"""Resource selection: which hub objects a placement's ``resourceSelectors`` pick. Pure.

Follows KubeFleet's resource selector resolver: terms are ORed, a Namespace pulls in its
objects (``selectionScope``), reserved namespaces and control-plane kinds are excluded, and
selecting one object twice is an error.
"""

from __future__ import annotations

from typing import Any

from ..core import kube, labels
from ..core.diagnostics import Diagnostics, field_path
from ..core.model import Fleet, HubObject, ObjectKey, Placement

WITH_RESOURCES = "NamespaceWithResources"
WITH_SELECTORS = "NamespaceWithResourceSelectors"

RESERVED_NAMESPACE_PREFIXES = ("kube-", "fleet-")
EXCLUDED_GROUPS = frozenset(
    {"cluster.kubernetes-fleet.io", "events.k8s.io", "coordination.k8s.io", "metrics.k8s.io"}
)
EXCLUDED_KINDS = frozenset(
    {
        ("", "Pod"), ("", "Node"), ("", "Event"),
        ("networking.fleet.azure.com", "ServiceImport"),
        ("networking.fleet.azure.com", "InternalServiceImport"),
        ("networking.fleet.azure.com", "InternalServiceExport"),
        ("networking.fleet.azure.com", "EndpointSliceExport"),
        ("networking.fleet.azure.com", "EndpointSliceImport"),
        ("networking.fleet.azure.com", "TrafficManagerProfile"),
        ("networking.fleet.azure.com", "TrafficManagerBackend"),
    }
)  # fmt: skip


def is_reserved_namespace(name: str) -> bool:
    return name.startswith(RESERVED_NAMESPACE_PREFIXES)


def is_excluded(obj: HubObject, fleet: Fleet) -> bool:
    """KubeFleet's default exclusions: objects a hub never propagates."""
    key, body = obj.key, obj.body
    metadata = body.get("metadata") or {}
    if key.group in EXCLUDED_GROUPS or (key.group, key.kind) in EXCLUDED_KINDS:
        return True
    if metadata.get("deletionTimestamp"):
        return True
    if is_reserved_namespace(key.namespace or (key.name if key.kind == "Namespace" else "")):
        return True
    if key.group == "" and key.kind == "ConfigMap" and key.name == "kube-root-ca.crt":
        return True
    if key.group == "" and key.kind == "ServiceAccount" and key.name == "default":
        return True
    if (
        key.group == ""
        and key.kind == "Secret"
        and body.get("type") == "kubernetes.io/service-account-token"
    ):
        return True
    if (key.group, key.kind) in (("apps", "ReplicaSet"), ("apps", "ControllerRevision")):
        return bool(metadata.get("ownerReferences"))
    if key.group == "" and key.kind == "Endpoints":
        return ObjectKey("", "Service", key.namespace, key.name) in fleet.objects
    if key.group == "discovery.k8s.io" and key.kind == "EndpointSlice":
        return "endpointslice.kubernetes.io/managed-by" in (metadata.get("labels") or {})
    return False


def select_all(fleet: Fleet, diags: Diagnostics) -> dict[str, tuple[HubObject, ...]]:
    """The select stage: every placement's objects, by placement name."""
    return {p.name: tuple(select(fleet, p, diags)) for p in fleet.placements}


def select(fleet: Fleet, placement: Placement, diags: Diagnostics) -> list[HubObject]:
    """The objects ``placement`` selects, in identity order."""
    chosen: dict[ObjectKey, HubObject] = {}
    terms = placement.spec.get("resourceSelectors") or []
    scoped_namespace = _selector_namespace(terms)
    for index, term in enumerate(terms):
        at = ("resourceSelectors", index)
        if placement.namespace:
            picked = _resolve_rp_term(fleet, placement, term, at, diags)
        else:
            picked = _resolve_term(fleet, placement, term, at, scoped_namespace, diags)
        if picked is None:
            continue
        if not picked:
            diags.warning(
                f"resource selector of placement {placement.name!r} matches no hub object",
                placement.pos(*at),
                field_path((*placement.base, "resourceSelectors", index)),
            )
        _check_version(placement, term, at, picked, diags)
        for obj in picked:
            if obj.key in chosen:
                diags.error(
                    f"placement {placement.name!r} selects {obj.key} more than once",
                    placement.pos(*at),
                    field_path((*placement.base, "resourceSelectors", index)),
                    hint="KubeFleet rejects a placement whose selectors overlap",
                )
                continue
            chosen[obj.key] = obj
    return [chosen[k] for k in sorted(chosen)]


def _check_version(
    placement: Placement,
    term: dict[str, Any],
    at: tuple[str | int, ...],
    picked: list[HubObject],
    diags: Diagnostics,
) -> None:
    """fleetc selects by group, kind and name; a selector's version that none of the objects
    it picks is written in is worth a word (KubeFleet reads them at that version)."""
    version = term.get("version")
    own = [
        o for o in picked if (o.key.group, o.key.kind) == (term.get("group", ""), term.get("kind"))
    ]
    versions = sorted({o.api_version.rpartition("/")[2] for o in own})
    if own and version not in versions:
        diags.warning(
            f"resource selector of placement {placement.name!r} names version {version!r}, but "
            f"the {term.get('kind')} objects it selects are written as {', '.join(versions)}: "
            "fleetc places them as written",
            placement.pos(*at, "version"),
            f"{placement.name}.resourceSelectors[{at[1]}].version",
            hint="name the version the manifests use",
        )


def _selector_namespace(terms: list[dict[str, Any]]) -> str | None:
    for term in terms:
        if _is_namespace(term) and term.get("selectionScope") == WITH_SELECTORS:
            return term.get("name")
    return None


def _is_namespace(term: dict[str, Any]) -> bool:
    return term.get("group", "") == "" and term.get("kind") == "Namespace"


def _resolve_rp_term(
    fleet: Fleet,
    placement: Placement,
    term: dict[str, Any],
    at: tuple[str | int, ...],
    diags: Diagnostics,
) -> list[HubObject] | None:
    """A ResourcePlacement's selector: namespaced kinds, in the placement's own namespace only
    (KubeFleet's resource selector resolver); the namespace itself is never placed."""
    group, kind = term.get("group", ""), term.get("kind", "")
    name, selector = term.get("name"), term.get("labelSelector")
    where = f"{placement.name}.resourceSelectors[{at[1]}]"
    if name and selector is not None:
        diags.error(
            "a resource selector takes name or labelSelector, not both", placement.pos(*at), where
        )
        return None
    if selector is not None and not labels.check_selector(
        selector, placement, (*at, "labelSelector"), diags
    ):
        return None
    if _is_namespace(term) or not kube.is_namespaced_kind(fleet, group, kind):
        diags.error(
            f"cannot select cluster-scoped resource {kind} in a resourcePlacement",
            placement.pos(*at, "kind"),
            where,
            hint="a ResourcePlacement places objects of its own namespace; the namespace must "
            "already exist on the clusters (place it with a ClusterResourcePlacement, "
            "selectionScope: NamespaceOnly)",
        )
        return None
    if "selectionScope" in term:
        diags.warning(
            "selectionScope has no effect in a ResourcePlacement",
            placement.pos(*at, "selectionScope"),
            where,
        )

    def wanted(obj: HubObject) -> bool:
        key = obj.key
        if key.group != group or key.kind != kind or key.namespace != placement.namespace:
            return False
        if is_excluded(obj, fleet):
            return False
        return key.name == name if name else labels.matches(selector, obj.labels)

    return [obj for obj in fleet.objects.values() if wanted(obj)]


def _resolve_term(
    fleet: Fleet,
    placement: Placement,
    term: dict[str, Any],
    at: tuple[str | int, ...],
    scoped_namespace: str | None,
    diags: Diagnostics,
) -> list[HubObject] | None:
    group, kind = term.get("group", ""), term.get("kind", "")
    name, selector = term.get("name"), term.get("labelSelector")
    where = field_path((*placement.base, *at))
    if name and selector is not None:
        diags.error(
            "a resource selector takes name or labelSelector, not both", placement.pos(*at), where
        )
        return None
    if selector is not None and not labels.check_selector(
        selector, placement, (*at, "labelSelector"), diags
    ):
        return None
    scope = term.get("selectionScope", WITH_RESOURCES)
    if scope != WITH_RESOURCES and not _is_namespace(term):
        diags.error(
            f"selectionScope {scope} applies only to Namespace selectors",
            placement.pos(*at, "selectionScope"),
            where,
        )
        return None
    if scope == WITH_SELECTORS and not name:
        diags.error(
            "a NamespaceWithResourceSelectors selector must select one namespace by name",
            placement.pos(*at),
            where,
        )
        return None
    namespaced = not _is_namespace(term) and kube.is_namespaced_kind(fleet, group, kind)
    if namespaced and scoped_namespace is None:
        diags.error(
            f"{kind} is namespaced: a ClusterResourcePlacement selects only cluster-scoped kinds",
            placement.pos(*at, "kind"),
            where,
            hint="select its Namespace instead (it brings the namespace's objects along)",
        )
        return None
    if _is_namespace(term) and name and is_reserved_namespace(name):
        diags.error(
            f"namespace {name!r} is reserved and cannot be placed",
            placement.pos(*at, "name"),
            where,
            hint="KubeFleet never propagates kube-* and fleet-* namespaces",
        )
        return None

    def wanted(obj: HubObject) -> bool:
        if obj.key.group != group or obj.key.kind != kind or is_excluded(obj, fleet):
            return False
        if namespaced and obj.key.namespace != scoped_namespace:
            return False
        if name:
            return obj.key.name == name
        return labels.matches(selector, obj.labels)

    picked = [obj for obj in fleet.objects.values() if wanted(obj)]
    if _is_namespace(term) and scope == WITH_RESOURCES:
        names = {obj.key.name for obj in picked}
        picked += [
            obj
            for obj in fleet.objects.values()
            if obj.key.namespace in names and not is_excluded(obj, fleet)
        ]
    return picked
