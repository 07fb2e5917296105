"""Kubernetes facts the stages share: kinds, scopes, names, and a manifest's identity. Pure."""

from __future__ import annotations

import re
from typing import Any

from .diagnostics import Diagnostics
from .model import Fleet, HubObject, ObjectKey, split_api_version
from .yamlsource import Document

PLACEMENT_GROUP = "placement.kubernetes-fleet.io"
PLACEMENT_VERSIONS = ("v1", "v1beta1")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_OBJECT_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.:@]*[A-Za-z0-9])?$")
MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63


# Built-in kinds that live in a namespace; a hub object of one of these must name it.
NAMESPACED_BUILTINS = frozenset(
    {
        ("", "ConfigMap"), ("", "Secret"), ("", "Service"), ("", "ServiceAccount"),
        ("", "PersistentVolumeClaim"), ("", "Pod"), ("", "Endpoints"), ("", "LimitRange"),
        ("", "ResourceQuota"), ("", "ReplicationController"), ("", "Event"),
        ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"), ("apps", "ControllerRevision"), ("batch", "Job"),
        ("batch", "CronJob"), ("autoscaling", "HorizontalPodAutoscaler"),
        ("policy", "PodDisruptionBudget"), ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "NetworkPolicy"), ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"), ("discovery.k8s.io", "EndpointSlice"),
        ("coordination.k8s.io", "Lease"),
    }
)  # fmt: skip


# placement.kubernetes-fleet.io kinds that configure the fleet rather than being placed.
CONTROL_KINDS = frozenset(
    {
        "ClusterResourcePlacement", "ResourcePlacement", "ClusterResourceBinding",
        "ResourceBinding", "ClusterResourceSnapshot", "ResourceSnapshot",
        "ClusterSchedulingPolicySnapshot", "SchedulingPolicySnapshot", "Work",
        "ClusterResourceOverride", "ResourceOverride", "ClusterResourceOverrideSnapshot",
        "ResourceOverrideSnapshot", "ClusterStagedUpdateRun", "StagedUpdateRun",
        "ClusterStagedUpdateStrategy", "StagedUpdateStrategy", "ClusterApprovalRequest",
        "ApprovalRequest", "ClusterResourcePlacementEviction",
        "ClusterResourcePlacementDisruptionBudget", "AppliedWork",
    }
)  # fmt: skip


# Control kinds fleetc acts on (placements, overrides, evictions, budgets).
HANDLED_CONTROL_KINDS = frozenset(
    {
        "ClusterResourcePlacement", "ResourcePlacement", "ClusterResourceOverride",
        "ResourceOverride", "ClusterResourcePlacementEviction",
        "ClusterResourcePlacementDisruptionBudget",
    }
)  # fmt: skip
# Staged rollouts: read by the rollout stage (stages/rollout).
STAGED_KINDS = frozenset(
    {
        "ClusterStagedUpdateRun", "StagedUpdateRun", "ClusterStagedUpdateStrategy",
        "StagedUpdateStrategy", "ClusterApprovalRequest", "ApprovalRequest",
    }
)  # fmt: skip
# The rest (bindings, snapshots, Work, AppliedWork) are written by KubeFleet's controllers.
CONTROLLER_KINDS = CONTROL_KINDS - HANDLED_CONTROL_KINDS - STAGED_KINDS


def is_list(data: object) -> bool:
    """A kubectl ``List`` (``kubectl get ... -o yaml`` prints several objects as one), or any
    ``...List`` kind with ``items`` (``ConfigMapList``, a ``List`` of another apiVersion):
    kubectl and kustomize apply the items, never the List itself."""
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        return False
    if data.get("apiVersion") == "v1" and data["kind"] == "List":
        return True
    return data["kind"].endswith("List") and "items" in data


def unwrap_lists(docs: list[Document], diags: Diagnostics) -> list[Document]:
    """Every document, with each kubectl ``List`` replaced by its items, in order.

    An item becomes a document of its own that keeps its position in the List's file, so
    every later rule (placement, overrides, Secret checks) sees it as an ordinary manifest and
    reports at the item's own line. The one function that unwraps Lists: the model stage
    (hub/ and clusters/), envelopes (an entry) and templates (their output) all call it, and
    a List inside a List is refused wherever it appears.
    """
    out: list[Document] = []
    for doc in docs:
        if not is_list(doc.data):
            out.append(doc)
            continue
        items = doc.data.get("items")
        if items is None:
            continue
        if not isinstance(items, list):
            diags.error(
                "a List's items must be a sequence of objects", doc.pos(("items",)), "items"
            )
            continue
        for index, item in enumerate(items):
            where = ("items", index)
            if not isinstance(item, dict):
                diags.error(
                    "a List item must be a Kubernetes object (a mapping)",
                    doc.pos(where),
                    f"items[{index}]",
                )
            elif is_list(item):
                diags.error(
                    "a List item cannot itself be a List",
                    doc.pos((*where, "kind")),
                    f"items[{index}].kind",
                    hint="list its items directly",
                )
            else:
                out.append(doc.sub_document(where))
    return out


def identity(data: Any) -> tuple[Any, ...]:
    """What placements select on, read from raw data: apiVersion, kind, namespace, name and
    labels (for comparing manifests before they are checked)."""
    if not isinstance(data, dict):
        return (repr(type(data)),)
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    labels = metadata.get("labels") if isinstance(metadata.get("labels"), dict) else {}
    return (
        str(data.get("apiVersion")),
        str(data.get("kind")),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name")),
        tuple(sorted((str(k), str(v)) for k, v in labels.items())),
    )


def hub_object(doc: Document, diags: Diagnostics) -> HubObject | None:
    """One manifest as a HubObject after the identity and metadata checks, or None."""
    data = doc.data
    if not isinstance(data, dict):
        diags.error("a hub manifest must be a Kubernetes object (a mapping)", doc.pos())
        return None
    ok = True
    for field_name in ("apiVersion", "kind"):
        if not isinstance(data.get(field_name), str) or not data.get(field_name):
            diags.error(
                f"{field_name} is required and must be a string", doc.pos((field_name,)), field_name
            )
            ok = False
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        diags.error(
            "metadata is required and must be a mapping", doc.pos(("metadata",)), "metadata"
        )
        return None
    name = metadata.get("name")
    namespace = metadata.get("namespace", "")
    if not isinstance(name, str) or not name:
        diags.error(
            "metadata.name is required and must be a string",
            doc.pos(("metadata",)),
            "metadata.name",
        )
        ok = False
    elif not _valid_object_name(name):
        diags.error(
            f"object name {name!r} is not a valid Kubernetes name",
            doc.pos(("metadata", "name")),
            "metadata.name",
            hint=f"lowercase letters, digits, '-' and '.', at most {MAX_NAME_LENGTH} characters",
        )
        ok = False
    if namespace is None:
        namespace = ""
    if not isinstance(namespace, str) or (
        namespace and (len(namespace) > MAX_LABEL_LENGTH or not _DNS_LABEL.match(namespace))
    ):
        diags.error(
            f"namespace {namespace!r} is not a DNS-1123 label",
            doc.pos(("metadata", "namespace")),
            "metadata.namespace",
        )
        ok = False
    for field_name in ("labels", "annotations"):
        value = metadata.get(field_name)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            diags.error(
                f"metadata.{field_name} must map strings to strings",
                doc.pos(("metadata", field_name)),
                f"metadata.{field_name}",
                hint="quote values such as 'true' or '1'",
            )
            ok = False
    if not ok:
        return None
    group, _version = split_api_version(data["apiVersion"])
    key = ObjectKey(group, data["kind"], namespace, name)
    return HubObject(doc, (), key=key, api_version=data["apiVersion"], body=data)


def _valid_object_name(name: str) -> bool:
    return (
        len(name) <= MAX_NAME_LENGTH and name not in (".", "..") and bool(_OBJECT_NAME.match(name))
    )


def is_namespaced_kind(fleet: Fleet, group: str, kind: str) -> bool:
    """Whether objects of this kind live in a namespace: per a hub CRD, the built-in kinds, or
    (for other kinds) whether any hub object of the kind names a namespace."""
    scope = fleet.crd_scopes.get((group, kind))
    if scope is not None:
        return scope == "Namespaced"
    if (group, kind) in NAMESPACED_BUILTINS:
        return True
    return any(k.namespace for k in fleet.objects if k.group == group and k.kind == kind)
