"""The inventory as the scheduler reads it: indexed once per render, shared by every placement.

Scheduling asks the same questions of every cluster for every placement: which clusters match
a label selector, what a property's value is, how a decision reads. ``Inventory`` answers them
from an index built once (``core.labels.LabelIndex``) and keeps each answer, so a placement
costs a few set operations and one pass over the clusters to list its decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from fractions import Fraction
from typing import Any, TypeVar

from ...core.labels import LabelIndex
from ...core.model import LEAVING, Cluster
from . import properties
from .outcome import Decision

T = TypeVar("T")


class Inventory:
    """The clusters of one render (sorted by name) and what is known about them."""

    def __init__(self, clusters: list[Cluster]) -> None:
        self.clusters = clusters
        self.labels = LabelIndex({c.name: c.labels for c in clusters})
        # Clusters that keep their bindings: all but those Leaving.
        self.staying = frozenset(c.name for c in clusters if c.state != LEAVING)
        self._properties: dict[str, dict[str, Fraction | None]] = {}
        self._decisions: dict[tuple[Any, ...], Decision] = {}
        self._facts: dict[Hashable, Any] = {}

    def property_values(self, name: str) -> dict[str, Fraction | None]:
        """Cluster name -> the value of property ``name`` (None: not reported)."""
        values = self._properties.get(name)
        if values is None:
            values = {c.name: properties.value(c, name) for c in self.clusters}
            self._properties[name] = values
        return values

    def property_bounds(self, name: str) -> tuple[Fraction, Fraction] | None:
        """The smallest and largest value of property ``name``; None when no cluster has it."""

        def bounds() -> tuple[Fraction, Fraction] | None:
            present = [v for v in self.property_values(name).values() if v is not None]
            return (min(present), max(present)) if present else None

        return self.fact(("bounds", name), bounds)

    def fact(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per render: a fact about the whole inventory that ``key`` names
        completely (a plugin's answer for a term of a policy, shared by the placements that
        have that term)."""
        if key not in self._facts:
            self._facts[key] = compute()
        return self._facts[key]

    def decision(self, make: Callable[..., Decision], *args: Any) -> Decision:
        """``make(*args)``, made once per render: a decision is frozen, so the same verdict on
        the same cluster is one object whichever placement it belongs to."""
        key = (make, *args)
        found = self._decisions.get(key)
        if found is None:
            found = self._decisions[key] = make(*args)
        return found
