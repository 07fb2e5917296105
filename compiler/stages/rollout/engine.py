"""Moving an update run: one step at a time, as KubeFleet's update-run controller would. Pure.

``advance`` is the controller's reconcile loop compressed into one explicit step: it records
what has become true (an empty stage skipped, a wait elapsed, an approval seen, a stage done)
and moves at most one batch of clusters (the next ``maxConcurrency`` of the current stage, or
the whole delete stage), then stops. It never reads the clock: ``now`` is given (an RFC 3339
UTC time, ``2026-01-02T15:04:05Z``; such strings compare in time order).

Offline, a cluster counts as updated once its batch is rendered: KubeFleet waits for the
binding to become Available, fleetc for the pull request that carries the batch to merge.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from .inputs import RUN_STATE, STOP
from .lock_section import FAILED, SUCCEEDED, RunRecord, StageProgress
from .plan import Plan

APPROVAL = "approval"
WAIT = "wait"
_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$")


# Time arithmetic without the datetime module (nothing below the shell may reach the clock):
# days since 1970-01-01 from a proleptic Gregorian date and back (H. Hinnant's algorithms).
def _days(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _date(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month, day


def parse_time(text: str) -> int:
    """``2026-01-02T15:04:05Z`` as seconds since the Unix epoch."""
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a UTC time such as 2026-01-02T15:04:05Z")
    year, month, day, hour, minute, second = map(int, match.groups())
    return _days(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


def format_time(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    year, month, day = _date(days)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def request_name(run: str, stage: str, before: bool) -> str:
    """KubeFleet's ClusterApprovalRequest name for a stage's Approval task."""
    return f"{run}-{'before' if before else 'after'}-{stage}"


@dataclass(frozen=True)
class Blocker:
    """What the next step waits for."""

    kind: str  # approval | wait
    stage: str
    before: bool = False
    until: str | None = None
    request: str | None = None

    def describe(self) -> str:
        if self.kind == WAIT:
            end = f"until {self.until}" if self.until else "from the step that starts it"
            return f"stage {self.stage}: TimedWait {end}"
        task = "before-stage" if self.before else "after-stage"
        return f"stage {self.stage}: {task} Approval ({self.request})"


@dataclass(frozen=True)
class Step:
    """What one ``advance`` did."""

    stage: str | None = None
    moved: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    blocker: Blocker | None = None

    @property
    def changed_clusters(self) -> bool:
        return bool(self.moved or self.deleted)


def current(plan: Plan, run: RunRecord) -> int:
    """The index of the first stage not completed (``len(plan.stages)`` when all are)."""
    for index in range(len(plan.stages)):
        if index >= len(run.progress) or run.progress[index].completed is None:
            return index
    return len(plan.stages)


def _progress(run: RunRecord, index: int, plan: Plan) -> StageProgress:
    while len(run.progress) <= index:
        run.progress.append(StageProgress(plan.stages[len(run.progress)].name))
    return run.progress[index]


def _after(moment: str, seconds: float) -> str:
    """``seconds`` after ``moment``, rounded up to the second (a wait is never cut short)."""
    return format_time(parse_time(moment) + -int(-seconds // 1))


def advance(plan: Plan, run: RunRecord, now: str) -> Step:
    """Move ``run`` (changed in place) one step at ``now``."""
    moved: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    stage_name: str | None = None
    while True:
        index = current(plan, run)
        if index == len(plan.stages):
            run.result, run.message = SUCCEEDED, None
            return Step(stage_name, moved, deleted)
        stage = plan.stages[index]
        progress = _progress(run, index, plan)
        if stage.stage is None:  # the delete stage: every cluster at once
            if stage.clusters:
                if moved or deleted:
                    return Step(stage_name, moved, deleted)
                progress.batches.append(now)
                deleted, stage_name = stage.clusters, stage.name
            progress.completed = now
            continue
        if not stage.clusters:
            progress.completed = now  # StageUpdatingSkippedNoClusters
            continue
        spec = stage.stage
        if spec.before_approval and not progress.approved_before:
            request = request_name(run.name, stage.name, True)
            return Step(
                stage_name, moved, deleted, Blocker(APPROVAL, stage.name, True, None, request)
            )
        if len(progress.batches) < stage.batches:
            if moved:
                return Step(stage_name, moved, deleted)
            moved = stage.batch(len(progress.batches))
            stage_name = stage.name
            progress.batches.append(now)
            continue
        if spec.wait_time is not None:
            # A batch moved by ``next_step`` without a time (now is None) starts a wait whose
            # end is not known: it has not elapsed.
            started = progress.batches[-1]
            until = _after(started, spec.wait_seconds or 0) if started else None
            if until is None or now < until:
                return Step(stage_name, moved, deleted, Blocker(WAIT, stage.name, until=until))
        if spec.after_approval and not progress.approved_after:
            request = request_name(run.name, stage.name, False)
            return Step(
                stage_name, moved, deleted, Blocker(APPROVAL, stage.name, False, None, request)
            )
        progress.completed = now


def next_step(plan: Plan, run: RunRecord, now: str | None) -> Step:
    """What ``advance`` would do at ``now`` (None: a wait counts as not elapsed), without
    changing ``run``."""
    return advance(plan, copy.deepcopy(run), now or "")


def approve(plan: Plan, run: RunRecord, stage_name: str, before: bool, now: str) -> str | None:
    """Record the approval of a stage's Approval task (changing ``run``); an error message when
    KubeFleet would have no such request to approve."""
    names = [s.name for s in plan.stages if s.stage is not None]
    if stage_name not in names:
        return f"run {run.name!r} has no stage {stage_name!r} (stages: {', '.join(names)})"
    target = names.index(stage_name)
    stage = plan.stages[target]
    assert stage.stage is not None
    request = request_name(run.name, stage_name, before)
    has_task = stage.stage.before_approval if before else stage.stage.after_approval
    if not has_task:
        where = "beforeStageTasks" if before else "afterStageTasks"
        flag = "" if before else " (--before approves a beforeStageTasks Approval)"
        return f"stage {stage_name!r} has no Approval in its {where}{flag}"
    if run.finished:
        return f"run {run.name!r} has finished ({run.result}): there is nothing to approve"
    at = current(plan, run)
    if target < at:
        return f"stage {stage_name!r} of run {run.name!r} is already completed"
    started = target == at and target < len(run.progress) and run.progress[target].batches
    if target > at or (not before and not started):
        return (
            f"ClusterApprovalRequest {request} does not exist yet: run {run.name!r} is at "
            f"stage {plan.stages[at].name!r}"
        )
    progress = _progress(run, target, plan)
    if before:
        progress.approved_before = progress.approved_before or now
    else:
        progress.approved_after = progress.approved_after or now
    return None


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str


def conditions(plan: Plan | None, run: RunRecord, state: str, now: str | None) -> list[Condition]:
    """The run's conditions, with KubeFleet's reasons and messages."""
    initialized = Condition(
        "Initialized", "True", "UpdateRunInitializedSuccessfully",
        "The UpdateRun initialized successfully",
    )  # fmt: skip
    return [initialized, *_progress_conditions(plan, run, state, now)]


def _progress_conditions(
    plan: Plan | None, run: RunRecord, state: str, now: str | None
) -> list[Condition]:
    if run.result == FAILED:
        return [
            Condition(
                "Progressing", "False", "UpdateRunFailed",
                "The stages are aborted due to a non-recoverable error",
            ),
            Condition("Succeeded", "False", "UpdateRunFailed", run.message or ""),
        ]  # fmt: skip
    if run.result == SUCCEEDED:
        return [
            Condition("Progressing", "False", "UpdateRunSucceeded", "All stages are completed"),
            Condition(
                "Succeeded", "True", "UpdateRunSucceeded", "All stages are completed successfully"
            ),
        ]
    if state == STOP:
        return [
            Condition("Progressing", "False", "UpdateRunStopped", "The update run has been stopped")
        ]
    if state != RUN_STATE or plan is None:
        return []
    step = next_step(plan, run, now)
    if step.blocker is not None and not step.changed_clusters:
        task = "before-stage" if step.blocker.before else "after-stage"
        return [
            Condition(
                "Progressing", "False", "UpdateRunWaiting",
                f"The updateRun is waiting for {task} tasks in stage {step.blocker.stage} "
                "to complete",
            )
        ]  # fmt: skip
    return [
        Condition(
            "Progressing", "True", "UpdateRunProgressing", "The update run is making progress"
        )
    ]
