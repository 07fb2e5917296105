"""Staged rollouts: KubeFleet's External strategy, ClusterStagedUpdateStrategy and
ClusterStagedUpdateRun, compiled offline (``stage.rollout`` is the pipeline stage)."""

from ...core.options import Action, Advance, Approve
from .results import ActionResult, PlacementRollout, RolledOut, RunView
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
