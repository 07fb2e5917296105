"""The placement's ``strategy`` field, honestly: what fleetc can and cannot do with it. Pure.

RollingUpdate offline means every selected cluster gets a change when rendered/ merges (Flux
applies each cluster on its own), so its knobs cannot be honoured: setting one to anything but
its default is a warning that says so. External is honoured by staged update runs, and is
irreversible, as in KubeFleet.
"""

from __future__ import annotations

from collections.abc import Container

from fleetc.core.diagnostics import Diagnostics
from fleetc.core.model import Fleet, Placement

EXTERNAL = "External"
ROLLING_UPDATE = "RollingUpdate"
# KubeFleet's defaults (pkg/utils/defaulter): 25% and 25%, 60 seconds.
ROLLING_DEFAULTS = {"maxUnavailable": "25%", "maxSurge": "25%", "unavailablePeriodSeconds": 60}


def is_external(placement: Placement) -> bool:
    strategy = placement.spec.get("strategy")
    return isinstance(strategy, dict) and strategy.get("type") == EXTERNAL


def warn_rolling_update(fleet: Fleet, diags: Diagnostics) -> None:
    """A non-default RollingUpdate setting is a warning: fleetc cannot pace a rollout by it."""
    for placement in fleet.placements:
        strategy = placement.spec.get("strategy")
        if not isinstance(strategy, dict) or is_external(placement):
            continue
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            continue
        for name, default in ROLLING_DEFAULTS.items():
            if name in rolling and rolling[name] != default:
                diags.warning(
                    f"placement {placement.name!r}: rollingUpdate.{name} has no effect in fleetc: "
                    "every selected cluster gets a change when rendered/ merges (Flux applies "
                    "each cluster on its own)",
                    placement.pos("strategy", "rollingUpdate", name),
                    f"{placement.name}.strategy.rollingUpdate.{name}",
                    hint="to roll out in steps, set strategy.type: External and drive a "
                    "ClusterStagedUpdateRun (README: Staged rollouts)",
                )


def check_external_kept(fleet: Fleet, staged: Container[str], diags: Diagnostics) -> None:
    """KubeFleet's CEL rule on ``spec.strategy.type``: External cannot go back. ``staged`` holds
    the placements fleet.lock records as External."""
    for placement in fleet.placements:
        if placement.name in staged and not is_external(placement):
            strategy = placement.spec.get("strategy")
            at = ("strategy", "type") if isinstance(strategy, dict) else ()
            diags.error(
                "cannot change rollout strategy type from 'External' to other types "
                f"(placement {placement.name!r})",
                placement.pos(*at),
                f"{placement.name}.strategy.type",
                hint="the change is irreversible in KubeFleet; finish with update runs, or "
                "delete the placement and create one under a new name",
            )
