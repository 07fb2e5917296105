"""Which placements are staged. Pure.

The rest of the ``strategy`` field is checked with the placement (``schedule/strategy``: a
non-default RollingUpdate setting is a warning that points here; ``schedule/update_rules``:
External cannot go back to RollingUpdate, as in KubeFleet).
"""

from __future__ import annotations

from ...core.model import Placement

EXTERNAL = "External"
ROLLING_UPDATE = "RollingUpdate"


def is_external(placement: Placement) -> bool:
    strategy = placement.spec.get("strategy")
    return isinstance(strategy, dict) and strategy.get("type") == EXTERNAL
