"""KubeFleet's update rules on a placement, checked against what fleet.lock remembers. Pure.

A placement in git is updated, not re-created, so the rules KubeFleet's webhook and CEL apply
to an update apply here, with the previous render's lock entry as the old object:
``placementType`` cannot change (a missing one is PickAll), existing tolerations cannot be
changed or removed (only added; a webhook rule, so ClusterResourcePlacements only), and a
rollout ``strategy.type`` of External cannot go back.
A placement that breaks one is not scheduled.
"""

from __future__ import annotations

from ...core.diagnostics import Diagnostics, field_path
from ...core.model import Placement
from .lock_section import Remembered, toleration_text

HINT = (
    "KubeFleet denies this change to an existing placement: create a new placement (another "
    "name) with the new setting and delete this one"
)


def check(placement: Placement, previous: Remembered | None, diags: Diagnostics) -> bool:
    if previous is None:
        return True
    ok = True

    def error(message: str, *path: str | int) -> None:
        nonlocal ok
        where = field_path((*placement.base, *path))
        diags.error(f"placement {placement.name!r}: {message}", placement.pos(*path), where, HINT)
        ok = False

    kind = placement.placement_type
    if previous.placement_type is not None and kind != previous.placement_type:
        error(
            f"placement type is immutable (was {previous.placement_type}, now {kind})",
            "policy",
            "placementType",
        )
    tolerations = placement.policy.get("tolerations") or []
    now = [toleration_text(t) for t in tolerations]
    # A webhook rule: KubeFleet has no ResourcePlacement webhook, so it guards CRPs only.
    webhook = placement.kind == "ClusterResourcePlacement"
    missing = [t for t in previous.tolerations if t not in now] if webhook else []
    if missing:
        # A changed toleration is reported at the one now in its place, a removed one at the list.
        index = previous.tolerations.index(missing[0])
        at: tuple[str | int, ...] = ("policy", "tolerations")
        if index < len(now) and now[index] not in previous.tolerations:
            at = (*at, index)
        gone = ", ".join(repr(t) for t in missing)
        error(
            "tolerations have been updated/deleted, only additions to tolerations are allowed "
            f"(no longer present: {gone})",
            *at,
        )
    strategy = placement.spec.get("strategy") or {}
    if previous.external and strategy.get("type") != "External":
        at = ("strategy", "type") if "type" in strategy else ("strategy",)
        error("cannot change rollout strategy type from 'External' to other types", *at)
    return ok
