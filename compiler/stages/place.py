"""The place stage: each selected object on each cluster its placement picked. Pure.

Hub objects are shared between clusters (one body, and one object when a single placement
delivers it: no stage changes either in place); an object a template renders is delivered in
the render of the cluster it lands on. Envelopes are then opened: the objects they wrap take
their place (``envelopes.expand``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..core.diagnostics import Diagnostics
from ..core.model import HubObject
from ..core.placed import ClusterObjects, RenderedObject
from . import envelopes
from .schedule import Outcome
from .templates import Expanded


@dataclass(frozen=True)
class Placed:
    """Every inventory cluster's objects before overrides (a cluster may have none)."""

    clusters: ClusterObjects


def place(
    expanded: Expanded,
    selections: Mapping[str, tuple[HubObject, ...]],
    outcomes: Mapping[str, Outcome],
    diags: Diagnostics,
) -> Placed:
    fleet = expanded.fleet
    clusters: ClusterObjects = {name: {} for name in fleet.clusters}
    for placement in fleet.placements:
        selected = selections[placement.name]
        templated = [obj.key in expanded.origin for obj in selected]
        # A hub object that only this placement delivers is one object on all its clusters.
        alone = [RenderedObject(o.key, o.body, o.source, (placement.name,)) for o in selected]
        for cluster in outcomes[placement.name].selected:
            objects = clusters[cluster]
            for obj, is_templated, shared in zip(selected, templated, alone, strict=True):
                previous = objects.get(obj.key)
                if previous is None and not is_templated:
                    objects[obj.key] = shared
                    continue
                body, source = obj.body, obj.source
                render = expanded.render_for(obj.key, cluster) if is_templated else None
                if render is not None:
                    if render.errors:
                        diags.extend(render.errors)
                        continue
                    own = next(o for o in render.objects if o.key == obj.key)
                    body, source = own.body, own.source
                if previous is not None and _co_owned(previous.placements, placement.name):
                    _report_co_ownership(obj, previous.placements, placement.name, cluster, diags)
                    continue
                names = (previous.placements if previous else ()) + (placement.name,)
                objects[obj.key] = RenderedObject(obj.key, body, source, names)
    envelopes.warn_legacy(
        fleet,
        {o.key for p in fleet.placements if outcomes[p.name].selected for o in selections[p.name]},
        diags,
    )
    envelopes.expand(fleet, clusters, diags)
    return Placed(clusters)


def _is_resource_placement(name: str) -> bool:
    # A ResourcePlacement's key is namespace/name; a ClusterResourcePlacement's has no '/'.
    return "/" in name


def _co_owned(earlier: tuple[str, ...], name: str) -> bool:
    """A ClusterResourcePlacement and a ResourcePlacement both deliver the object."""
    kinds = {_is_resource_placement(n) for n in (*earlier, name)}
    return len(kinds) > 1


def _report_co_ownership(
    obj: HubObject, earlier: tuple[str, ...], name: str, cluster: str, diags: Diagnostics
) -> None:
    diags.error(
        f"{obj.key} is selected by placement {earlier[0]!r} and by placement {name!r} for "
        f"cluster {cluster!r}: KubeFleet fails the later one with FailedToTakeOver "
        "(co-ownership is disallowed)",
        obj.pos("metadata", "name"),
        hint="select it in one placement only (e.g. the ClusterResourcePlacement with "
        "selectionScope: NamespaceOnly, and the ResourcePlacement for the namespace's objects)",
    )
