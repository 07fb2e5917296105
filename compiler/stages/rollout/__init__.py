"""Staged rollouts: KubeFleet's External strategy, ClusterStagedUpdateStrategy and
ClusterStagedUpdateRun, compiled offline (``stage.rollout`` is the pipeline stage)."""

from .results import (
    Action,
    ActionResult,
    Advance,
    Approve,
    PlacementRollout,
    RolledOut,
    RunView,
)
from .stage import rollout

__all__ = [
    "Action",
    "ActionResult",
    "Advance",
    "Approve",
    "PlacementRollout",
    "RolledOut",
    "RunView",
    "rollout",
]
