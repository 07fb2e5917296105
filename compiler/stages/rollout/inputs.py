"""ClusterStagedUpdateStrategy and ClusterStagedUpdateRun documents from hub/, checked with
KubeFleet's rules (the CRDs' schema and CEL rules, and what the update-run controller refuses at
initialization). Pure.

Both kinds are fleet configuration, never placed on a member (``kube.CONTROL_KINDS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...core import labels
from ...core.diagnostics import Diagnostics, field_path
from ...core.kube import PLACEMENT_GROUP, PLACEMENT_VERSIONS
from ...core.model import Fleet, HubObject, Located, split_api_version

STRATEGY = "ClusterStagedUpdateStrategy"
RUN = "ClusterStagedUpdateRun"
APPROVAL_REQUEST = "ClusterApprovalRequest"
# The namespaced variants drive ResourcePlacements, which fleetc does not compile.
NAMESPACED_KINDS = ("StagedUpdateStrategy", "StagedUpdateRun", "ApprovalRequest")

MAX_STAGES = 31
MAX_AFTER_TASKS = 2
MAX_BEFORE_TASKS = 1
MAX_RUN_NAME = 63
MAX_PLACEMENT_NAME = 255
MAX_STAGE_NAME = 63
TIMED_WAIT = "TimedWait"
APPROVAL = "Approval"
STATES = ("Initialize", "Run", "Stop")
INITIALIZE, RUN_STATE, STOP = STATES

_STAGE_NAME = re.compile(r"^[a-z0-9]+$")
_WAIT_TIME = re.compile(r"^(?:(?:0|[1-9][0-9]*)(\.[0-9]+)?(?:s|m|h))+$")
_WAIT_PART = re.compile(r"((?:0|[1-9][0-9]*)(?:\.[0-9]+)?)([smh])")
_PERCENT = re.compile(r"^(100|[1-9][0-9]?)%$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")


def wait_seconds(text: str) -> float:
    """A waitTime (``1h30m``, ``0.5h``, ``90s``: Go's duration subset the CRD allows) in
    seconds."""
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _WAIT_PART.findall(text))


@dataclass(frozen=True)
class Stage:
    """One stage of a strategy, as KubeFleet reads it (defaults filled in)."""

    index: int
    name: str
    # None selects no cluster; {} selects every cluster (KubeFleet's LabelSelectorAsSelector).
    selector: dict[str, Any] | None
    sorting_label_key: str | None
    max_concurrency: int | str
    before_approval: bool
    wait_time: str | None
    after_approval: bool

    @property
    def wait_seconds(self) -> float | None:
        return None if self.wait_time is None else wait_seconds(self.wait_time)

    def concurrency(self, size: int) -> int:
        """How many clusters of a stage of ``size`` update at once: an int, or a percentage
        rounded down; at least 1."""
        value = self.max_concurrency
        if isinstance(value, str):
            value = size * int(value[:-1]) // 100
        return max(1, value)


@dataclass
class Strategy(Located):
    name: str = ""
    stages: tuple[Stage, ...] = ()
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run(Located):
    name: str = ""
    placement: str = ""
    strategy: str = ""
    # resourceSnapshotIndex as written; None when omitted (the newest snapshot at
    # initialization, kubefleet v0.3.0+).
    snapshot_index: int | None = None
    state: str = INITIALIZE


@dataclass(frozen=True)
class StagedInputs:
    strategies: dict[str, Strategy]
    runs: dict[str, Run]


def collect(fleet: Fleet, diags: Diagnostics) -> StagedInputs:
    strategies: dict[str, Strategy] = {}
    runs: dict[str, Run] = {}
    for doc in fleet.control.get(STRATEGY, []):
        strategy = _strategy(doc, diags)
        if strategy is not None:
            strategies[strategy.name] = strategy
    for doc in fleet.control.get(RUN, []):
        run = _run(doc, diags)
        if run is not None:
            runs[run.name] = run
    for kind in (APPROVAL_REQUEST, *NAMESPACED_KINDS):
        for doc in fleet.control.get(kind, []):
            hint = (
                "record an approval with 'fleetc rollout approve RUN --stage S'"
                if kind == APPROVAL_REQUEST
                else "fleetc compiles ClusterResourcePlacements: use the Cluster* kinds"
            )
            diags.warning(f"{kind} {doc.key.name!r} is ignored", doc.pos("kind"), "kind", hint)
    named = {run.strategy for run in runs.values()}
    for name, strategy in sorted(strategies.items()):
        if name not in named:
            diags.warning(
                f"{STRATEGY} {name!r} is named by no {RUN}: it has no effect",
                strategy.pos("metadata", "name"),
                "metadata.name",
                hint=f"a {RUN} with stagedRolloutStrategyName: {name} rolls a placement out "
                "with it",
            )
    return StagedInputs(dict(sorted(strategies.items())), dict(sorted(runs.items())))


def _version_ok(doc: HubObject, diags: Diagnostics) -> bool:
    version = split_api_version(doc.api_version)[1]
    if version in PLACEMENT_VERSIONS:
        return True
    diags.error(
        f"{doc.key.kind} {doc.api_version!r} is not supported; use {PLACEMENT_GROUP}/v1 or v1beta1",
        doc.pos("apiVersion"),
        "apiVersion",
    )
    return False


def _spec(doc: HubObject, allowed: tuple[str, ...], diags: Diagnostics) -> dict[str, Any] | None:
    if doc.key.namespace:
        diags.error(
            f"{doc.key.kind} is cluster-scoped: no metadata.namespace",
            doc.pos("metadata", "namespace"),
            "metadata.namespace",
        )
        return None
    spec = doc.body.get("spec")
    if not isinstance(spec, dict):
        diags.error(f"{doc.key.kind} needs a spec", doc.pos(), "spec")
        return None
    ok = True
    for key in spec:
        if key not in allowed:
            diags.error(
                f"unknown field {key!r} (allowed: {', '.join(allowed)})",
                doc.pos("spec", key),
                f"spec.{key}",
            )
            ok = False
    return spec if ok else None


class _Checker:
    """Collects the problems of one document, each at its field."""

    def __init__(self, doc: HubObject, diags: Diagnostics) -> None:
        self.doc, self.diags, self.ok = doc, diags, True

    def error(self, message: str, *path: str | int, hint: str | None = None) -> None:
        self.diags.error(message, self.doc.pos(*path), field_path(path), hint)
        self.ok = False


def _strategy(doc: HubObject, diags: Diagnostics) -> Strategy | None:
    if not _version_ok(doc, diags):
        return None
    spec = _spec(doc, ("stages",), diags)
    if spec is None:
        return None
    check = _Checker(doc, diags)
    items = spec.get("stages")
    if not isinstance(items, list):
        check.error("stages is required and must be a list", "spec", "stages")
        return None
    if len(items) > MAX_STAGES:
        check.error(
            f"too many stages: {len(items)} (KubeFleet allows at most {MAX_STAGES})",
            "spec",
            "stages",
            MAX_STAGES,
        )
    stages: list[Stage] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        at = ("spec", "stages", index)
        stage = _stage(index, item, at, check)
        if stage is None:
            continue
        if stage.name in seen:
            check.error(
                f"stage name {stage.name!r} is used twice (first by stage {seen[stage.name]})",
                *at,
                "name",
            )
            continue
        seen[stage.name] = index
        stages.append(stage)
    if not check.ok:
        return None
    return Strategy(doc.doc, (), name=doc.key.name, stages=tuple(stages), spec=spec)


_STAGE_FIELDS = (
    "name", "labelSelector", "sortingLabelKey", "maxConcurrency", "beforeStageTasks",
    "afterStageTasks",
)  # fmt: skip


def _stage(index: int, item: Any, at: tuple[str | int, ...], check: _Checker) -> Stage | None:
    if not isinstance(item, dict):
        check.error("a stage must be a mapping", *at)
        return None
    ok = check.ok
    check.ok = True
    for key in item:
        if key not in _STAGE_FIELDS:
            check.error(f"unknown field {key!r} (allowed: {', '.join(_STAGE_FIELDS)})", *at, key)
    name = item.get("name")
    if not isinstance(name, str) or not _STAGE_NAME.match(name) or len(name) > MAX_STAGE_NAME:
        check.error(
            f"stage name {name!r} must be 1-{MAX_STAGE_NAME} lowercase letters and digits",
            *at,
            "name",
            hint="KubeFleet's pattern is ^[a-z0-9]+$ (no '-')",
        )
    selector = item.get("labelSelector")
    if selector is not None:
        if not isinstance(selector, dict) or not _selector_shape(selector):
            check.error("labelSelector must be a label selector", *at, "labelSelector")
        elif not labels.check_selector(selector, check.doc, (*at, "labelSelector"), check.diags):
            check.ok = False
    sorting = item.get("sortingLabelKey")
    if sorting is not None and not isinstance(sorting, str):
        check.error("sortingLabelKey must be a string", *at, "sortingLabelKey")
    concurrency = item.get("maxConcurrency", 1)
    if isinstance(concurrency, bool) or not isinstance(concurrency, (int, str)):
        check.error("maxConcurrency must be an integer or a percentage", *at, "maxConcurrency")
    elif isinstance(concurrency, int) and concurrency < 1:
        check.error("maxConcurrency must be at least 1", *at, "maxConcurrency")
    elif isinstance(concurrency, str) and not _PERCENT.match(concurrency):
        check.error(
            f"maxConcurrency {concurrency!r} must be an integer or a percentage from 1% to 100%",
            *at,
            "maxConcurrency",
        )
    before = _tasks(item, "beforeStageTasks", MAX_BEFORE_TASKS, at, check)
    after = _tasks(item, "afterStageTasks", MAX_AFTER_TASKS, at, check)
    for number, task in enumerate(before):
        if task.get("type") == TIMED_WAIT:
            check.error(
                "BeforeStageTaskType cannot be TimedWait",
                *at,
                "beforeStageTasks",
                number,
                "type",
                hint="a stage may wait for an Approval before it starts, and wait a time after",
            )
    result_ok = check.ok
    check.ok = ok and result_ok
    if not result_ok:
        return None
    wait = next((t["waitTime"] for t in after if t.get("type") == TIMED_WAIT), None)
    return Stage(
        index=index,
        name=name,
        selector=selector,
        sorting_label_key=sorting,
        max_concurrency=concurrency,
        before_approval=any(t.get("type") == APPROVAL for t in before),
        wait_time=wait,
        after_approval=any(t.get("type") == APPROVAL for t in after),
    )


def _selector_shape(selector: dict[str, Any]) -> bool:
    if any(k not in ("matchLabels", "matchExpressions") for k in selector):
        return False
    match = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    return (
        isinstance(match, dict)
        and all(isinstance(v, str) for v in match.values())
        and isinstance(exprs, list)
        and all(
            isinstance(e, dict)
            and isinstance(e.get("key"), str)
            and e.get("operator") in ("In", "NotIn", "Exists", "DoesNotExist")
            and isinstance(e.get("values") or [], list)
            for e in exprs
        )
    )


def _tasks(
    item: dict[str, Any], name: str, limit: int, at: tuple[str | int, ...], check: _Checker
) -> list[dict[str, Any]]:
    tasks = item.get(name)
    if tasks is None:
        return []
    if not isinstance(tasks, list):
        check.error(f"{name} must be a list", *at, name)
        return []
    if len(tasks) > limit:
        check.error(f"{name} takes at most {limit} task(s), not {len(tasks)}", *at, name, limit)
    seen: set[str] = set()
    good: list[dict[str, Any]] = []
    for number, task in enumerate(tasks):
        where = (*at, name, number)
        if not isinstance(task, dict):
            check.error("a task must be a mapping", *where)
            continue
        unknown = [k for k in task if k not in ("type", "waitTime")]
        for key in unknown:
            check.error(f"unknown field {key!r} (allowed: type, waitTime)", *where, key)
        kind = task.get("type")
        if kind not in (TIMED_WAIT, APPROVAL):
            check.error(f"task type {kind!r} must be TimedWait or Approval", *where, "type")
            continue
        if kind in seen:
            check.error(f"{name} may hold one {kind} task only", *where, "type")
        seen.add(kind)
        wait = task.get("waitTime")
        if kind == APPROVAL and "waitTime" in task:
            check.error(
                "AfterStageTaskType is Approval, waitTime is not allowed", *where, "waitTime"
            )
        elif kind == TIMED_WAIT and wait is None:
            check.error("AfterStageTaskType is TimedWait, waitTime is required", *where)
        elif kind == TIMED_WAIT and (not isinstance(wait, str) or not _WAIT_TIME.match(wait)):
            check.error(
                f"waitTime {wait!r} is not a duration such as 30s, 15m or 1h30m",
                *where,
                "waitTime",
            )
        good.append(task)
    return good


def _run(doc: HubObject, diags: Diagnostics) -> Run | None:
    if not _version_ok(doc, diags):
        return None
    allowed = ("placementName", "resourceSnapshotIndex", "stagedRolloutStrategyName", "state")
    spec = _spec(doc, allowed, diags)
    if spec is None:
        return None
    check = _Checker(doc, diags)
    if len(doc.key.name) > MAX_RUN_NAME:
        check.error(
            f"an update run's name must be shorter than 64 characters ({len(doc.key.name)})",
            "metadata",
            "name",
        )
    placement = spec.get("placementName")
    if not isinstance(placement, str) or not placement:
        check.error("placementName is required and must be a string", "spec")
    elif len(placement) > MAX_PLACEMENT_NAME:
        check.error(
            f"placementName is longer than {MAX_PLACEMENT_NAME} characters",
            "spec",
            "placementName",
        )
    strategy = spec.get("stagedRolloutStrategyName")
    if not isinstance(strategy, str) or not strategy:
        check.error("stagedRolloutStrategyName is required and must be a string", "spec")
    index = spec.get("resourceSnapshotIndex")
    snapshot: int | None = None
    if index is not None and index != "":
        if not isinstance(index, str) or not _INDEX.match(index):
            check.error(
                f"invalid resource snapshot index `{index}` provided, expected an integer >= 0",
                "spec",
                "resourceSnapshotIndex",
                hint='the CRD types it as a string: quote it ("3"); omit it for the newest',
            )
        else:
            snapshot = int(index)
    state = spec.get("state", INITIALIZE)
    if state not in STATES:
        check.error(
            f"state {state!r} must be one of {', '.join(STATES)}",
            "spec",
            "state",
        )
    if not check.ok:
        return None
    return Run(
        doc.doc,
        (),
        name=doc.key.name,
        placement=placement,
        strategy=strategy,
        snapshot_index=snapshot,
        state=state,
    )
