"""Resource snapshots: what an External placement carries, numbered and content-addressed. Pure.

As KubeFleet's ClusterResourceSnapshots, a snapshot is the placement's selected objects; since
KubeFleet's update runs also pin the override snapshots each cluster gets, fleetc's snapshot
holds the ClusterResourceOverrides / ResourceOverrides that select those objects too. Its id is
a digest of that content (placement name, objects with their source files, overrides, in order),
so a new id means the placement carries something new.

The content of every snapshot a cluster or a run still refers to is kept in the snapshot store
beside fleet.lock (``fleet.snapshots/<id>.yaml``), so a clone with no history renders the same
bytes. A cluster gets the objects of its snapshot through the same place and override steps as
any other (``objects_for``): a cluster that stays on a snapshot keeps its bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...core import kube, schema, secrets, yamlout
from ...core.diagnostics import Diagnostics, Position
from ...core.model import FLEET_API_VERSION, Fleet, HubObject
from ...core.placed import ClusterObjects, RenderedObject
from ...core.snapshot_store import SNAPSHOT_STORE
from ...core.yamlsource import Document
from .. import envelopes, override
from ..override import Overridden, Override

STORE_FOLDER = SNAPSHOT_STORE
SNAPSHOT_KIND = "ResourceSnapshot"
STORE_HEADER = (
    "# Written by 'fleetc render': what a staged placement carries, for clusters that still run\n"
    "# this snapshot. Content-addressed and pruned when unused; do not edit (see README).\n"
)
ID_LENGTH = 20


@dataclass(frozen=True)
class Content:
    """One snapshot's content: the objects (with the source each came from) and the overrides
    that select them, in the order the override stage applies them."""

    placement: str
    objects: tuple[HubObject, ...]
    overrides: tuple[Override, ...]

    def data(self) -> dict[str, Any]:
        return {
            "placement": self.placement,
            "objects": [{"source": o.source, "object": o.body} for o in self.objects],
            "overrides": [_override_data(ov) for ov in self.overrides],
        }

    @property
    def id(self) -> str:
        return digest(self.data())


def digest(data: dict[str, Any]) -> str:
    """Order matters (it decides the rendered bytes), so keys are not sorted."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_LENGTH]


def _override_data(ov: Override) -> dict[str, Any]:
    head: dict[str, Any] = {"name": ov.name, "kind": ov.kind}
    if ov.namespace:
        head["namespace"] = ov.namespace
    return {**head, **ov.spec}


def live(
    fleet: Fleet,
    placement: str,
    selected: Iterable[HubObject],
    overrides: list[Override],
) -> Content:
    """The content a placement carries now: its selected objects and the overrides that select
    them or the objects their envelopes wrap."""
    objects = tuple(selected)
    by_resource = override.index_by_resource(overrides)
    scratch = Diagnostics()
    applying: set[int] = set()
    for obj in objects:
        candidates = [obj]
        if envelopes.is_envelope(obj.key):
            candidates += envelopes.unwrap(fleet, obj, scratch)
        for item in candidates:
            placed = RenderedObject(item.key, item.body, item.source, (placement,))
            applying.update(id(ov) for ov in override.applicable(by_resource, placed))
    chosen = tuple(ov for ov in overrides if id(ov) in applying)
    return Content(placement, objects, chosen)


def store_file(snapshot_id: str) -> str:
    return f"{STORE_FOLDER}/{snapshot_id}.yaml"


def dump(content: Content) -> bytes:
    body = {
        "apiVersion": FLEET_API_VERSION,
        "kind": SNAPSHOT_KIND,
        "metadata": {"name": content.id},
        "spec": content.data(),
    }
    return (STORE_HEADER + yamlout.dump(body)).encode("utf-8")


def read(doc: Document, diags: Diagnostics) -> Content | None:
    """A stored snapshot, if it is well formed and its content still has its id."""
    data = doc.data
    spec = data.get("spec") if isinstance(data, dict) else None
    metadata = data.get("metadata") if isinstance(data, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    hint = "restore it from git history, or render from a commit where it was written"
    if (
        not isinstance(spec, dict)
        or data.get("kind") != SNAPSHOT_KIND
        or not isinstance(spec.get("placement"), str)
        or not isinstance(spec.get("objects"), list)
        or not isinstance(spec.get("overrides"), list)
    ):
        diags.error(f"{doc.file} is not a fleetc {SNAPSHOT_KIND}", doc.pos(), hint=hint)
        return None
    if name != digest(spec) or doc.file != store_file(str(name)):
        diags.error(
            f"{doc.file}: the content does not match its id (edited by hand?)",
            doc.pos(("metadata", "name")),
            hint=hint,
        )
        return None
    # The store is an input like any other: objects pass the hub's identity and Secret
    # checks, overrides the fleet.yaml override schema.
    problems = Diagnostics()
    objects: list[HubObject] = []
    for index, item in enumerate(spec["objects"]):
        body = item.get("object") if isinstance(item, dict) else None
        source = item.get("source") if isinstance(item, dict) else None
        obj = (
            kube.hub_object(Document(body, doc.file), problems) if isinstance(source, str) else None
        )
        if obj is None:
            diags.error(
                f"{doc.file}: object {index} is malformed",
                doc.pos(("spec", "objects", index)),
                hint=hint,
            )
            return None
        obj = HubObject(
            Document(body, source), (), key=obj.key, api_version=obj.api_version, body=body
        )
        secrets.check_object(obj, problems)
        objects.append(obj)
    well_formed = schema.checker("overrides", "/$defs/namedOverride")
    overrides: list[Override] = []
    for index, item in enumerate(spec["overrides"]):
        if not well_formed(item):
            diags.error(
                f"{doc.file}: override {index} is malformed",
                doc.pos(("spec", "overrides", index)),
                hint=hint,
            )
            return None
        ov_spec = {k: v for k, v in item.items() if k not in ("name", "kind", "namespace")}
        overrides.append(
            Override(
                doc,
                ("spec", "overrides", index),
                item["name"],
                item["kind"],
                item.get("namespace", ""),
                ov_spec,
            )
        )
    if problems.has_errors:
        diags.extend(problems.errors)
        return None
    return Content(spec["placement"], tuple(objects), tuple(overrides))


@dataclass(frozen=True)
class Delivered:
    """The objects one snapshot gives each of some clusters, and where its overrides are
    defined (for ``explain``)."""

    clusters: ClusterObjects
    definitions: dict[str, Position]


def objects_for(
    fleet: Fleet, content: Content, clusters: list[str], diags: Diagnostics
) -> Delivered:
    """Each cluster's objects from ``content``: placed, envelopes opened, then overridden, as
    the place and override stages do for a placement's current objects."""
    placed: ClusterObjects = {}
    for cluster in clusters:
        placed[cluster] = {
            obj.key: RenderedObject(obj.key, obj.body, obj.source, (content.placement,))
            for obj in content.objects
        }
    by_key = {obj.key: obj for obj in content.objects}
    view = dataclasses.replace(fleet, objects={**fleet.objects, **by_key})
    envelopes.expand(view, placed, diags)
    result: Overridden = override.apply(view, list(content.overrides), placed, diags)
    return Delivered(result.clusters, result.definitions)
