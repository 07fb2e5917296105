"""The schedule stage: KubeFleet's scheduler framework (``framework``), its plugins in the
order ``profile`` sets, and the algorithm that runs them per placement (``algorithm``)."""

from .algorithm import Scheduled, picks, schedule, schedule_fleet
from .lock_section import Pick, Remembered
from .outcome import Condition, Decision, Outcome

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
