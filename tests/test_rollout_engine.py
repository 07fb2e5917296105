"""The pure pieces of the update-run engine: time arithmetic without the clock, waitTime and
maxConcurrency as KubeFleet reads them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fleetc.stages.rollout.engine import WAIT, format_time, next_step, parse_time
from fleetc.stages.rollout.inputs import Stage, wait_seconds
from fleetc.stages.rollout.lock_section import RunRecord
from fleetc.stages.rollout.plan import Plan, StagePlan


@pytest.mark.parametrize(
    "seconds", [0, 1, 86399, 951782400, 1709164800, 1798761600, 4102444800, 253402300799]
)
def test_time_arithmetic_matches_datetime(seconds):
    text = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert format_time(seconds) == text
    assert parse_time(text) == seconds


def test_a_time_that_is_not_utc_rfc3339_is_refused():
    with pytest.raises(ValueError):
        parse_time("2026-12-01T09:00:00+01:00")


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600), ("1h30m", 5400), ("0.5h", 1800), ("90s", 90), ("2m3s", 123)]
)
def test_wait_time(text, seconds):
    assert wait_seconds(text) == seconds


@pytest.mark.parametrize(
    ("value", "size", "expected"),
    [(1, 10, 1), (3, 2, 3), ("50%", 5, 2), ("10%", 5, 1), ("100%", 7, 7), ("34%", 3, 1)],
)
def test_max_concurrency_rounds_percentages_down_to_at_least_one(value, size, expected):
    stage = Stage(0, "s", {}, None, value, False, None, False)
    assert stage.concurrency(size) == expected


def test_the_next_step_without_a_clock_moves_a_batch_and_then_waits():
    """Without "now" (status, explain), the step that moves a stage's last batch starts its
    TimedWait, whose end is not known: the wait has not elapsed (it used to be computed from
    an empty time, and fail)."""
    canary = Stage(0, "canary", {}, None, 1, False, "1h", False)
    rest = Stage(1, "rest", {}, None, 1, False, None, False)
    plan = Plan((StagePlan("canary", ("c1",), canary), StagePlan("rest", ("c2",), rest)))
    run = RunRecord("run", "strategy", 1, "Run", plan.digest, "policy")
    step = next_step(plan, run, None)
    assert step.moved == ("c1",)
    assert step.blocker is not None and step.blocker.kind == WAIT and step.blocker.until is None
    assert step.blocker.describe() == "stage canary: TimedWait from the step that starts it"
    assert run.progress == []  # next_step changes nothing
    moved = next_step(plan, run, "2026-12-01T09:00:00Z")
    assert moved.blocker is not None and moved.blocker.until == "2026-12-01T10:00:00Z"
