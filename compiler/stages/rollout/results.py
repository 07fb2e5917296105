"""The rollout stage's typed result. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core.diagnostics import Position
from ...core.placed import ClusterObjects
from . import engine
from .lock_section import RunRecord
from .plan import Plan


@dataclass(frozen=True)
class ActionResult:
    run: str | None
    step: engine.Step | None = None
    error: str | None = None


@dataclass(frozen=True)
class RunView:
    """One ClusterStagedUpdateRun as the views show it."""

    name: str
    placement: str
    strategy: str
    state: str
    record: RunRecord
    plan: Plan | None
    pos: Position


@dataclass(frozen=True)
class PlacementRollout:
    placement: str
    newest: int
    # True when this render numbered the newest snapshot (its content changed).
    recorded: bool
    snapshots: dict[int, str]
    # cluster -> the snapshot it runs.
    clusters: dict[str, int]
    selected: tuple[str, ...]
    runs: tuple[RunView, ...]
    # cluster -> why it runs what it runs (for explain).
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RolledOut:
    clusters: ClusterObjects
    placements: dict[str, PlacementRollout] = field(default_factory=dict)
    lock_section: dict[str, Any] = field(default_factory=dict)
    # Snapshot store files (relative to the fleet's root) -> bytes.
    store: dict[str, bytes] = field(default_factory=dict)
    # Override label -> where it is defined, for overrides only a stored snapshot still holds.
    definitions: dict[str, Position] = field(default_factory=dict)
    action: ActionResult | None = None

    def cluster_snapshot(self, placement: str, cluster: str) -> int | None:
        found = self.placements.get(placement)
        return None if found is None else found.clusters.get(cluster)
