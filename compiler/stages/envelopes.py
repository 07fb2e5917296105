"""Envelopes: ClusterResourceEnvelope / ResourceEnvelope deliver the manifests they wrap. Pure.

As in KubeFleet (``workgenerator/envelope.go``) the envelope itself is never applied: each
entry of its ``data`` map (key -> manifest) is delivered to every cluster the envelope is placed
on, and overridden like any other object. A ClusterResourceEnvelope wraps cluster-scoped
objects only; a ResourceEnvelope wraps namespaced objects of its own namespace (an entry that
omits ``metadata.namespace`` gets the envelope's, when its kind is known to be namespaced).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..core import kube, secrets
from ..core.diagnostics import Diagnostics
from ..core.model import Fleet, HubObject, ObjectKey
from ..core.placed import ClusterObjects
from ..core.yamlsource import Document

CLUSTER_ENVELOPE = "ClusterResourceEnvelope"
NAMESPACED_ENVELOPE = "ResourceEnvelope"
ENVELOPE_KINDS = (CLUSTER_ENVELOPE, NAMESPACED_ENVELOPE)
# Old Azure fleet releases (<= v0.14.9) unwrapped a ConfigMap carrying this annotation; current
# KubeFleet places it as an ordinary ConfigMap, annotation included, and so does fleetc.
LEGACY_ANNOTATION = "kubernetes-fleet.io/envelope-configmap"


def is_envelope(key: ObjectKey) -> bool:
    return key.group == kube.PLACEMENT_GROUP and key.kind in ENVELOPE_KINDS


def expand(fleet: Fleet, clusters: ClusterObjects, diags: Diagnostics) -> None:
    """Replace every placed envelope by the objects it wraps, on each cluster (in place: the
    place stage calls this on the clusters it is building)."""
    unwrapped: dict[int, list[HubObject]] = {}
    for cluster, placed in clusters.items():
        for key in sorted(k for k in placed if is_envelope(k)):
            envelope = placed.pop(key)
            if id(envelope.body) not in unwrapped:
                hub = _hub_envelope(fleet, key, envelope.body, envelope.source)
                unwrapped[id(envelope.body)] = unwrap(fleet, hub, diags)
            for obj in unwrapped[id(envelope.body)]:
                if obj.key in placed:
                    diags.error(
                        f"{key} delivers {obj.key} to cluster {cluster!r}, "
                        f"which already receives it from {placed[obj.key].source}",
                        obj.pos("metadata", "name"),
                        hint="an object may reach a cluster only once",
                    )
                    continue
                placed[obj.key] = dataclasses.replace(
                    envelope, key=obj.key, body=obj.body, source=obj.source
                )


def warn_legacy(fleet: Fleet, selected: set[ObjectKey], diags: Diagnostics) -> None:
    """A placed ConfigMap with the legacy envelope annotation (any non-empty value, as the old
    releases read it) is delivered as it is: say that the annotation has no effect."""
    for key in sorted(selected):
        obj = fleet.objects.get(key)
        if obj is None or (key.group, key.kind) != ("", "ConfigMap"):
            continue
        annotations = obj.body["metadata"].get("annotations") or {}
        if annotations.get(LEGACY_ANNOTATION):
            diags.warning(
                f"ConfigMap {key.namespace}/{key.name} carries the legacy envelope annotation "
                f"{LEGACY_ANNOTATION}, which current KubeFleet ignores: it is placed as an "
                "ordinary ConfigMap and its data is not unwrapped",
                obj.pos("metadata", "annotations", LEGACY_ANNOTATION),
                f"metadata.annotations.{LEGACY_ANNOTATION}",
                hint=f"wrap the objects in a {NAMESPACED_ENVELOPE} (namespaced objects) or a "
                f"{CLUSTER_ENVELOPE} (cluster-scoped objects) instead, and drop the annotation",
            )


def _hub_envelope(fleet: Fleet, key: ObjectKey, body: dict[str, Any], source: str) -> HubObject:
    """The envelope as a hub object: from the hub (with positions) or from a template render."""
    hub = fleet.objects.get(key)
    if hub is not None and hub.body is body:
        return hub
    api_version = str(body.get("apiVersion", ""))
    return HubObject(Document(body, source), (), key=key, api_version=api_version, body=body)


def unwrap(fleet: Fleet, envelope: HubObject, diags: Diagnostics) -> list[HubObject]:
    """The objects an envelope wraps, in key order; invalid entries are diagnostics."""
    kind, namespace = envelope.key.kind, envelope.key.namespace
    if kind == CLUSTER_ENVELOPE and namespace:
        diags.error(
            f"{kind} is cluster-scoped but has metadata.namespace",
            envelope.pos("metadata", "namespace"),
        )
        return []
    if kind == NAMESPACED_ENVELOPE and not namespace:
        diags.error(f"{kind} needs metadata.namespace", envelope.pos("metadata"))
        return []
    data = envelope.body.get("data")
    if not isinstance(data, dict) or not data:
        diags.error(f"{kind} needs a non-empty data map (key -> manifest)", envelope.pos("data"))
        return []
    objects: list[HubObject] = []
    for entry in sorted(data):
        at = ("data", entry)
        if not isinstance(data[entry], dict):
            diags.error(
                f"{kind} entry {entry!r} must be a Kubernetes object (a mapping)",
                envelope.pos(*at),
            )
            continue
        for doc in kube.unwrap_lists([_entry_document(envelope, at)], diags):
            obj = kube.hub_object(doc, diags)
            if obj is not None and _check(fleet, envelope, entry, obj, diags):
                secrets.check_object(obj, diags)
                objects.append(
                    _in_namespace(obj, namespace) if kind == NAMESPACED_ENVELOPE else obj
                )
    return _unique(envelope, objects, diags)


def _unique(envelope: HubObject, objects: list[HubObject], diags: Diagnostics) -> list[HubObject]:
    """An envelope delivers each object once: two entries (or List items) with one identity
    would be two files fighting over one object."""
    seen: dict[ObjectKey, HubObject] = {}
    for obj in objects:
        if obj.key in seen:
            diags.error(
                f"{envelope.key.kind} {envelope.key.name!r} wraps {obj.key} twice "
                f"(first at {seen[obj.key].pos('metadata', 'name')})",
                obj.pos("metadata", "name"),
                hint="an object may reach a cluster only once",
            )
            continue
        seen[obj.key] = obj
    return list(seen.values())


def _entry_document(envelope: HubObject, at: tuple[str, str]) -> Document:
    """A document for one ``data`` entry that keeps its positions in the envelope's file."""
    return envelope.doc.sub_document((*envelope.base, *at))


def _check(
    fleet: Fleet, envelope: HubObject, entry: str, obj: HubObject, diags: Diagnostics
) -> bool:
    kind, namespace = envelope.key.kind, envelope.key.namespace
    what = f"{kind} {envelope.key.name!r} entry {entry!r}"
    namespaced = kube.is_namespaced_kind(fleet, obj.key.group, obj.key.kind)
    if is_envelope(obj.key) or (
        obj.key.group == kube.PLACEMENT_GROUP and obj.key.kind in kube.CONTROL_KINDS
    ):
        diags.error(f"{what}: {obj.key.kind} cannot be wrapped in an envelope", obj.pos("kind"))
        return False
    if kind == CLUSTER_ENVELOPE and (namespaced or obj.key.namespace):
        diags.error(
            f"{what}: a {kind} wraps cluster-scoped objects only, not {obj.key}",
            obj.pos("metadata"),
            hint=f"wrap namespaced objects in a {NAMESPACED_ENVELOPE} in their namespace",
        )
        return False
    if kind == NAMESPACED_ENVELOPE:
        if obj.key.namespace and obj.key.namespace != namespace:
            diags.error(
                f"{what}: a {kind} wraps objects of its own namespace {namespace!r} only, "
                f"not {obj.key}",
                obj.pos("metadata", "namespace"),
            )
            return False
        if not obj.key.namespace and not namespaced:
            diags.error(
                f"{what}: a {kind} wraps namespaced objects only; {obj.key} is cluster-scoped "
                "(or of a kind fleetc cannot tell is namespaced)",
                obj.pos("metadata"),
                hint=f"set metadata.namespace: {namespace} if the kind is namespaced",
            )
            return False
    return True


def _in_namespace(obj: HubObject, namespace: str) -> HubObject:
    if obj.key.namespace:
        return obj
    metadata = {**obj.body["metadata"], "namespace": namespace}
    key = dataclasses.replace(obj.key, namespace=namespace)
    return dataclasses.replace(obj, key=key, body={**obj.body, "metadata": metadata})
