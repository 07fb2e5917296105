"""The compiler's model: what the load stage hands to the pure stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .diagnostics import Position
from .yamlsource import Document, Path

FLEET_API_VERSION = "fleetc.io/v1alpha1"

# Eligibility states of an inventory cluster (the offline stand-in for KubeFleet's checker).
READY = "Ready"
NOT_READY = "NotReady"
LEAVING = "Leaving"


@dataclass(frozen=True, order=True)
class ObjectKey:
    """The identity of a Kubernetes object: the version is not part of it."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"


def split_api_version(api_version: str) -> tuple[str, str]:
    """'apps/v1' -> ('apps', 'v1'); 'v1' -> ('', 'v1')."""
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass
class Located:
    """Something read from a document, remembering where: ``base`` is its path inside ``doc``."""

    doc: Document
    base: Path

    def pos(self, *path: str | int) -> Position:
        return self.doc.pos((*self.base, *path))


@dataclass
class HubObject(Located):
    """A Kubernetes object from the hub manifests, as written."""

    key: ObjectKey = field(default_factory=lambda: ObjectKey("", "", "", ""))
    api_version: str = ""
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.doc.file

    @property
    def labels(self) -> dict[str, str]:
        return self.body.get("metadata", {}).get("labels") or {}


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        # KubeFleet prints taints with Go's %+v of a pointer: &{Key:k Value:v Effect:NoSchedule}.
        return f"&{{Key:{self.key} Value:{self.value} Effect:{self.effect}}}"

    def readable(self) -> str:
        """The taint for people: ``{key: k, value: v, effect: NoSchedule}``."""
        value = f"value: {self.value}, " if self.value else ""
        return f"{{key: {self.key}, {value}effect: {self.effect}}}"


@dataclass
class Cluster(Located):
    name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    kubernetes_version: str | None = None
    taints: tuple[Taint, ...] = ()
    state: str = READY
    # Why the cluster is ineligible, in KubeFleet's words; None when eligible.
    ineligible_reason: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    resource_usage: dict[str, dict[str, str]] = field(default_factory=dict)
    # The member's namespaces as its property provider reports them (KubeFleet's
    # NamespaceCollectionSucceeded condition present), or None when it does not collect them.
    namespaces: frozenset[str] | None = None
    # Collection is on but no namespace list came with it (NamespaceAffinity then rejects).
    namespaces_missing: bool = False
    # The document's spec, for section modules that read their own inventory fields.
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass
class Placement(Located):
    """A ClusterResourcePlacement (from fleet.yaml ``spec.placements`` or a hub CRP document)
    or a ResourcePlacement (a hub RP document; ``namespace`` set).

    ``name`` is the placement's key, as KubeFleet's: a CRP's name, or ``namespace/name`` for an
    RP, so the two never clash in outcomes, fleet.lock or ``explain``.
    """

    name: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    namespace: str = ""

    @property
    def kind(self) -> str:
        return "ResourcePlacement" if self.namespace else "ClusterResourcePlacement"

    @property
    def policy(self) -> dict[str, Any]:
        return self.spec.get("policy") or {}

    @property
    def placement_type(self) -> str:
        return self.policy.get("placementType", "PickAll")


@dataclass
class Fleet(Located):
    name: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    # Names of inventory clusters whose document was rejected (already reported): a reference
    # to one is not reported again as unknown.
    rejected_clusters: frozenset[str] = frozenset()
    placements: list[Placement] = field(default_factory=list)
    objects: dict[ObjectKey, HubObject] = field(default_factory=dict)
    # Kinds that hub CRDs declare: (group, kind) -> "Namespaced" | "Cluster".
    crd_scopes: dict[tuple[str, str], str] = field(default_factory=dict)
    # Hub documents that are fleet configuration (CRPs, overrides, ...), by kind.
    control: dict[str, list[HubObject]] = field(default_factory=dict)
