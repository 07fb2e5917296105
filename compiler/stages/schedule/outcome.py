"""What scheduling decided, in KubeFleet's terms: decisions with reasons, and a condition."""

from __future__ import annotations

from dataclasses import dataclass, field

# Reason texts of KubeFleet's scheduler framework and snapshot condition.
FULFILLED = "SchedulingPolicyFulfilled"
UNFULFILLED = "SchedulingPolicyUnfulfilled"
PENDING = "SchedulePending"
FULFILLED_MESSAGE = (
    "found all cluster needed as specified by the scheduling policy, found {count} cluster(s)"
)
UNFULFILLED_MESSAGE = (
    "could not find all clusters needed as specified by the scheduling policy, "
    "found {count} cluster(s) instead"
)
PENDING_MESSAGE = "Scheduling has not completed"
PICKED_WITH_SCORE = (
    'Successfully scheduled resources for placement in "{cluster}" (affinity score: {affinity}, '
    "topology spread score: {topology}): picked by scheduling policy"
)
PICKED_FIXED = (
    'Successfully scheduled resources for placement in "{cluster}": picked by scheduling policy'
)
NOT_PICKED = (
    'Cluster "{cluster}" does not score high enough (affinity score: {affinity}, '
    "topology spread score: {topology})"
)
FIXED_NOT_FOUND = 'Specified cluster "{cluster}" is not found'
FIXED_NOT_ELIGIBLE = 'Cluster "{cluster}" is not eligible for resource placement yet: {reason}'
# fleetc's own text: KubeFleet lists only the named clusters of a PickFixed placement.
NOT_NAMED = "not named in clusterNames"


@dataclass(frozen=True)
class Condition:
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


# Verdicts of a decision, as ``fleetc explain`` names them.
VERDICT_SELECTED = "selected"
VERDICT_NOT_PICKED = "notPicked"
VERDICT_FILTERED = "filtered"


@dataclass(frozen=True)
class Decision:
    cluster: str
    selected: bool
    reason: str
    affinity_score: int = 0
    topology_spread_score: int = 0
    # The plugin that filtered the cluster out, if one did.
    filtered_by: str = ""
    # Set for clusters that passed the filters but were not picked.
    scored: bool = False
    # The ClusterResourcePlacementEviction that deleted this cluster's binding in this render.
    evicted_by: str = ""
    # For a selected cluster that no longer passes the filters and is kept only because
    # fleet.lock remembers it (KubeFleet's stickiness): why it would be filtered now.
    kept_by_lock: str = ""

    @property
    def verdict(self) -> str:
        if self.selected:
            return VERDICT_SELECTED
        return VERDICT_NOT_PICKED if self.scored else VERDICT_FILTERED


@dataclass
class Outcome:
    placement: str
    placement_type: str
    condition: Condition
    # Selected clusters first, in pick order; then scored but unpicked; then filtered by name.
    decisions: list[Decision] = field(default_factory=list)
    # The digest of the policy this outcome was scheduled under (see ``memory.policy_hash``).
    policy_hash: str = ""
    # False when the policy broke a validation rule and was not scheduled (errors say why).
    valid: bool = True

    @property
    def selected(self) -> list[str]:
        return [d.cluster for d in self.decisions if d.selected]
