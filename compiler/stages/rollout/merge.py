"""Put each staged placement's snapshot objects in place of its current ones, per cluster. Pure."""

from __future__ import annotations

import dataclasses

from ...core.diagnostics import Diagnostics
from ...core.model import Fleet, ObjectKey
from ...core.placed import ClusterObjects, RenderedObject
from . import rules


def merge(
    fleet: Fleet,
    clusters: ClusterObjects,
    delivered: dict[str, dict[ObjectKey, RenderedObject]],
    diags: Diagnostics,
) -> ClusterObjects:
    """The clusters' objects with each External placement's current objects replaced by those
    of the snapshot the cluster runs."""
    external = {p.name for p in fleet.placements if rules.is_external(p)}
    order = {p.name: i for i, p in enumerate(fleet.placements)}
    merged: ClusterObjects = {}
    for name, objects in clusters.items():
        given = delivered.get(name, {})
        if not given and not any(set(o.placements) & external for o in objects.values()):
            merged[name] = objects
            continue
        result: dict[ObjectKey, RenderedObject] = {}
        for key, obj in objects.items():
            keep = tuple(p for p in obj.placements if p not in external)
            if len(keep) == len(obj.placements):
                result[key] = obj
            elif keep:
                result[key] = dataclasses.replace(obj, placements=keep)
        for key, obj in given.items():
            other = result.get(key)
            if other is None:
                result[key] = obj
            elif other.body == obj.body:
                names = sorted({*other.placements, *obj.placements}, key=order.__getitem__)
                result[key] = dataclasses.replace(other, placements=tuple(names))
            else:
                diags.error(
                    f"{key} reaches cluster {name!r} from placements {', '.join(other.placements)} "
                    f"and, as a different version, from the snapshot of {obj.placements[0]!r} "
                    "the cluster runs",
                    fleet.pos(),
                    hint="an object may reach a cluster only once: roll the staged placement "
                    "forward, or select the object in one placement only",
                )
        merged[name] = result
    return merged
