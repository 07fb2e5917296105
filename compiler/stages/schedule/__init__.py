"""The schedule stage: KubeFleet's scheduler framework (``framework``), its plugins in the
order ``profile`` sets, and the algorithm that runs them per placement (``algorithm``)."""

from fleetc.stages.schedule.algorithm import Scheduled, picks, schedule, schedule_fleet
from fleetc.stages.schedule.lock_section import Pick, Remembered
from fleetc.stages.schedule.outcome import Condition, Decision, Outcome

__all__ = [
    "Condition",
    "Decision",
    "Outcome",
    "Pick",
    "Remembered",
    "Scheduled",
    "picks",
    "schedule",
    "schedule_fleet",
]
