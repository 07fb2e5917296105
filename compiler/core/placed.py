"""An object as it will be rendered on one cluster, with where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import ObjectKey


@dataclass
class RenderedObject:
    """One object on one cluster, with where it came from."""

    key: ObjectKey
    body: dict[str, Any]
    source: str
    placements: tuple[str, ...] = ()
    # A bundle other than "" is a sub-folder with its own kustomization.yaml that the
    # cluster's root does not include (Flux applies it through its own Kustomization).
    bundle: str = ""
    # Overrides applied on this cluster (issue 4), and the body before them.
    overrides: tuple[str, ...] = ()
    original: dict[str, Any] | None = None

    @property
    def provenance(self) -> dict[str, str]:
        """The annotations fleetc adds to the rendered object."""
        notes = {"fleetc.io/placement": ",".join(self.placements)} if self.placements else {}
        notes["fleetc.io/source"] = self.source
        if self.overrides:
            notes["fleetc.io/overrides"] = ",".join(self.overrides)
        return notes


# Every inventory cluster's objects: cluster name -> object key -> object.
ClusterObjects = dict[str, dict[ObjectKey, RenderedObject]]
