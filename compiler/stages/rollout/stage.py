"""The rollout stage: which snapshot of each External placement every cluster renders. Pure.

It runs between the override stage and the sections. For a placement with
``strategy.type: External`` it numbers the content the placement carries now (a new number when
the content changes), initializes the ClusterStagedUpdateRuns that name it, applies the one
explicit action of ``fleetc rollout advance|approve`` (never during render or check), and then
gives every cluster the objects of the snapshot fleet.lock says it runs, in place of the
placement's current objects. Other placements' objects are untouched.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping

from ...core.diagnostics import Diagnostics, Position, did_you_mean
from ...core.lock import Lock
from ...core.model import Fleet, HubObject, ObjectKey, Placement
from ...core.options import Action, Approve
from ...core.placed import RenderedObject
from ...core.yamlsource import Document
from .. import override
from ..override import Overridden
from ..schedule import Outcome
from ..schedule import lock_section as schedule_lock
from . import (
    engine,
    inputs,
    lock_section,
    merge,
    plan,
    reasons,
    rules,
    snapshot,
)
from .inputs import INITIALIZE, RUN_STATE, STOP, Run, StagedInputs
from .lock_section import FAILED, PlacementRecord, RunRecord
from .plan import Plan
from .results import ActionResult, PlacementRollout, RolledOut, RunView

_BAD_TRANSITIONS = {(INITIALIZE, STOP), (RUN_STATE, INITIALIZE), (STOP, INITIALIZE)}
STAGES_CHANGED = (
    "the stages of the updateRun are outdated: a cluster joined, left or changed stage, or the "
    "strategy changed since initialization; please create a new updateRun"
)
POLICY_CHANGED = (
    "the policy snapshot index used in the updateRun is outdated, please create a new updateRun"
)


def rollout(
    fleet: Fleet,
    templated: Mapping[ObjectKey, str],
    selections: Mapping[str, tuple[HubObject, ...]],
    outcomes: Mapping[str, Outcome],
    overridden: Overridden,
    previous_lock: Lock,
    stored: Mapping[str, Document],
    action: Action | None,
    diags: Diagnostics,
) -> RolledOut:
    staged = inputs.collect(fleet, diags)
    previous = lock_section.read(previous_lock, diags)
    external = [p for p in fleet.placements if rules.is_external(p)]
    _check_run_references(fleet, staged, previous, diags)
    if not external:
        result = ActionResult(None, error=_no_run(action)) if action is not None else None
        return RolledOut(overridden.clusters, action=result)
    work = _Work(fleet, staged, previous, previous_lock, stored, outcomes, action, diags)
    current = override.collect(fleet, Diagnostics())  # the override stage reported problems
    for placement in external:
        content = snapshot.live(fleet, placement.name, selections[placement.name], current)
        origin = next((templated[o.key] for o in content.objects if o.key in templated), None)
        if origin is not None:
            diags.error(
                f"placement {placement.name!r} has strategy External and selects objects that "
                f"template {origin} renders: staged rollouts do not carry templates yet",
                placement.pos("strategy", "type"),
                hint="place the template's objects with a RollingUpdate placement",
            )
            continue
        work.placement(placement, content)
    if action is not None and work.action is None:
        work.action = ActionResult(None, error=_no_run(action))
    clusters = merge.merge(fleet, overridden.clusters, work.delivered, diags)
    section = lock_section.dump(work.records)
    return RolledOut(
        clusters,
        work.views,
        section,
        dict(sorted(work.store.items())),
        {k: v for k, v in work.definitions.items() if k not in overridden.definitions},
        work.action,
    )


def _no_run(action: Action | None) -> str:
    if action is not None and action.run is not None:
        return f"no ClusterStagedUpdateRun named {action.run!r} in hub/"
    return "no ClusterStagedUpdateRun is in progress"


def _check_run_references(
    fleet: Fleet, staged: StagedInputs, previous: dict[str, PlacementRecord], diags: Diagnostics
) -> None:
    """Runs that name a missing or non-External placement, or whose placement changed."""
    placements = {p.name: p for p in fleet.placements}
    recorded = {r: name for name, rec in previous.items() for r in rec.runs}
    for run in staged.runs.values():
        before = recorded.get(run.name)
        if before is not None and before != run.placement:
            diags.error(
                f"placementName is immutable (run {run.name!r} was initialized for {before!r})",
                run.pos("spec", "placementName"),
                "spec.placementName",
            )
            continue
        target = placements.get(run.placement)
        if target is None:
            diags.error(
                f"parent placement not found: no placement named {run.placement!r}",
                run.pos("spec", "placementName"),
                "spec.placementName",
                hint=did_you_mean(run.placement, placements),
            )
        elif not rules.is_external(target):
            strategy = target.spec.get("strategy")
            kind = strategy.get("type") if isinstance(strategy, dict) else None
            diags.error(
                "parent placement does not have an external rollout strategy, current "
                f"strategy: {kind or rules.ROLLING_UPDATE}",
                run.pos("spec", "placementName"),
                "spec.placementName",
                hint=f"set strategy.type: External on placement {run.placement!r}",
            )


class _Work:
    """The records being built, placement by placement."""

    def __init__(
        self,
        fleet: Fleet,
        staged: StagedInputs,
        previous: dict[str, PlacementRecord],
        previous_lock: Lock,
        stored: Mapping[str, Document],
        outcomes: Mapping[str, Outcome],
        action: Action | None,
        diags: Diagnostics,
    ) -> None:
        self.fleet, self.staged, self.previous = fleet, staged, previous
        self.previous_lock, self.stored, self.outcomes = previous_lock, stored, outcomes
        self.requested, self.diags = action, diags
        self.action: ActionResult | None = None
        self.records: dict[str, PlacementRecord] = {}
        self.views: dict[str, PlacementRollout] = {}
        self.store: dict[str, bytes] = {}
        self.definitions: dict[str, Position] = {}
        # (placement, cluster) -> the objects its snapshot gives it.
        self.delivered: dict[str, dict[ObjectKey, RenderedObject]] = {}
        self.target_name = self.target()

    # -- one placement ------------------------------------------------------------------

    def placement(self, placement: Placement, content: snapshot.Content) -> None:
        name = placement.name
        outcome = self.outcomes[name]
        selected = tuple(outcome.selected)
        record, recorded = self._record(name, content, selected)
        newest = record.latest
        runs: list[RunView] = []
        kept: dict[str, RunRecord] = {}
        for run in self.staged.runs.values():
            if run.placement != name:
                continue
            view = self._run(run, record, outcome, selected)
            if view is not None:
                runs.append(view)
                kept[run.name] = view.record
        record.runs = kept
        self._act(record, runs)
        referenced = {newest, *record.clusters.values(), *(r.snapshot for r in kept.values())}
        record.snapshots = {n: record.snapshots[n] for n in sorted(referenced)}
        contents: dict[int, snapshot.Content] = {}
        for number, content_id in record.snapshots.items():
            found = content if content_id == content.id else self._stored(name, number, content_id)
            if found is not None:
                contents[number] = found
                self.store[snapshot.store_file(content_id)] = snapshot.dump(found)
        groups: dict[int, list[str]] = {}
        for cluster, number in sorted(record.clusters.items()):
            groups.setdefault(number, []).append(cluster)
        for number, members in groups.items():
            if number not in contents:
                continue
            given = snapshot.objects_for(self.fleet, contents[number], members, self.diags)
            self.definitions.update(given.definitions)
            for cluster, objects in given.clusters.items():
                self.deliver(cluster, objects)
        self.records[name] = record
        self.views[name] = PlacementRollout(
            name,
            newest,
            recorded,
            dict(record.snapshots),
            dict(record.clusters),
            selected,
            tuple(runs),
            reasons.explain(record, selected, runs),
        )

    def deliver(self, cluster: str, objects: dict[ObjectKey, RenderedObject]) -> None:
        """Add one staged placement's objects for ``cluster`` to those of the others."""
        found = self.delivered.setdefault(cluster, {})
        for key, obj in objects.items():
            other = found.get(key)
            if other is None:
                found[key] = obj
            elif other.body == obj.body:
                found[key] = dataclasses.replace(
                    other, placements=(*other.placements, *obj.placements)
                )
            else:
                self.diags.error(
                    f"{key} reaches cluster {cluster!r} from the snapshots of staged placements "
                    f"{other.placements[0]!r} and {obj.placements[0]!r}, in different versions",
                    self.fleet.pos(),
                    hint="an object may reach a cluster only once",
                )

    def _record(
        self, name: str, content: snapshot.Content, selected: tuple[str, ...]
    ) -> tuple[PlacementRecord, bool]:
        """The placement's record with the current content numbered (reused when unchanged)."""
        before = self.previous.get(name)
        if before is None:
            # Switched to External (or new): the clusters that got its objects under
            # RollingUpdate keep them as snapshot 0; a new placement reaches no cluster until a
            # run rolls it out (KubeFleet creates no snapshot for an External placement).
            record = PlacementRecord(0, {0: content.id})
            for cluster in self._picked_before(name):
                if cluster in selected:
                    record.clusters[cluster] = 0
            return record, True
        record = copy.deepcopy(before)
        record.clusters = {c: n for c, n in record.clusters.items() if c in self.fleet.clusters}
        if record.snapshots.get(record.latest) == content.id:
            return record, False
        record.latest += 1
        record.snapshots[record.latest] = content.id
        return record, True

    def _picked_before(self, name: str) -> list[str]:
        """The clusters the scheduler's fleet.lock section remembers for ``name`` (its own
        reader reports a malformed entry)."""
        remembered = schedule_lock.read(self.previous_lock, Diagnostics()).get(name)
        return [pick.cluster for pick in remembered.picks] if remembered is not None else []

    def _stored(self, placement: str, number: int, content_id: str) -> snapshot.Content | None:
        rel = snapshot.store_file(content_id)
        doc = self.stored.get(rel)
        if doc is None:
            lock = self.previous_lock.doc
            entry = (lock_section.SECTION, placement, "snapshots", number)
            self.diags.error(
                f"snapshot {number} of placement {placement!r} ({rel}) is missing: fleet.lock "
                "says clusters or runs still use it",
                lock.pos(entry) if lock is not None else Position(rel),
                hint="restore it from git history (it is committed beside fleet.lock)",
            )
            return None
        return snapshot.read(doc, self.diags)

    # -- runs -----------------------------------------------------------------------------

    def _run(
        self, run: Run, record: PlacementRecord, outcome: Outcome, selected: tuple[str, ...]
    ) -> RunView | None:
        before = record.runs.get(run.name)
        strategy = self.staged.strategies.get(before.strategy if before else run.strategy)
        holding = set(record.clusters)
        if before is not None:
            if not self._immutable(run, before):
                return None
            current = copy.deepcopy(before)
            current.state = run.state
            if current.finished:
                scratch = Diagnostics()
                built = (
                    plan.build(run, strategy, list(selected), holding, self.fleet.clusters, scratch)
                    if strategy
                    else None
                )
                return self._view(run, current, built)
            if strategy is None:
                self._missing_strategy(run)
                return None
            built = plan.build(
                run, strategy, list(selected), holding, self.fleet.clusters, self.diags
            )
            if built is None:
                return None
            if outcome.policy_hash != current.policy:
                current.result, current.message = FAILED, POLICY_CHANGED
            elif built.digest != current.stages:
                current.result, current.message = FAILED, STAGES_CHANGED
            return self._view(run, current, built)
        if strategy is None:
            self._missing_strategy(run)
            return None
        index = record.latest if run.snapshot_index is None else run.snapshot_index
        if index not in record.snapshots:
            self.diags.error(
                f"no resourceSnapshots with index `{index}` found for placement `{run.placement}`",
                run.pos("spec", "resourceSnapshotIndex"),
                "spec.resourceSnapshotIndex",
                hint=f"snapshots in use: {', '.join(map(str, sorted(record.snapshots)))}; "
                "omit the field to roll out the newest",
            )
            return None
        if outcome.condition.status != "True":
            self.diags.error(
                f"policy snapshot `{run.placement}` not fully scheduled yet: "
                f"{outcome.condition.message}",
                run.pos("spec", "placementName"),
                "spec.placementName",
                hint="a run starts only when the placement's Scheduled condition is True",
            )
            return None
        built = plan.build(run, strategy, list(selected), holding, self.fleet.clusters, self.diags)
        if built is None:
            return None
        fresh = RunRecord(
            run.name,
            run.strategy,
            index,
            run.state,
            built.digest,
            outcome.policy_hash,
            run.snapshot_index,
        )
        return self._view(run, fresh, built)

    def _view(self, run: Run, record: RunRecord, built: Plan | None) -> RunView:
        return RunView(
            run.name, run.placement, record.strategy, run.state, record, built, run.pos()
        )

    def _missing_strategy(self, run: Run) -> None:
        self.diags.error(
            f"ClusterStagedUpdateStrategy {run.strategy!r} not found",
            run.pos("spec", "stagedRolloutStrategyName"),
            "spec.stagedRolloutStrategyName",
            hint=did_you_mean(run.strategy, self.staged.strategies),
        )

    def _immutable(self, run: Run, before: RunRecord) -> bool:
        ok = True
        if run.strategy != before.strategy:
            self.diags.error(
                f"stagedRolloutStrategyName is immutable (it was {before.strategy!r})",
                run.pos("spec", "stagedRolloutStrategyName"),
                "spec.stagedRolloutStrategyName",
                hint="create a new ClusterStagedUpdateRun",
            )
            ok = False
        if run.snapshot_index != before.index:
            self.diags.error(
                "resourceSnapshotIndex is immutable"
                + ("" if before.index is None else f" (it was {before.index})"),
                run.pos("spec", "resourceSnapshotIndex"),
                "spec.resourceSnapshotIndex",
                hint="create a new ClusterStagedUpdateRun",
            )
            ok = False
        if (before.state, run.state) in _BAD_TRANSITIONS:
            self.diags.error(
                f"invalid state transition: cannot transition from {before.state} to {run.state}",
                run.pos("spec", "state"),
                "spec.state",
            )
            ok = False
        return ok

    # -- the explicit action ------------------------------------------------------------

    def target(self) -> str | None:
        """The run the action names, or the one run in progress; None (and ``self.action``
        set to the error) when there is no such single run."""
        requested = self.requested
        if requested is None or requested.run is not None:
            return None if requested is None else requested.run
        finished = {
            name for rec in self.previous.values() for name, r in rec.runs.items() if r.finished
        }
        active = [name for name in self.staged.runs if name not in finished]
        if len(active) == 1:
            return active[0]
        error = (
            f"several runs are in progress ({', '.join(active)}): name one"
            if active
            else "no ClusterStagedUpdateRun is in progress"
        )
        self.action = ActionResult(None, error=error)
        return None

    def _act(self, record: PlacementRecord, runs: list[RunView]) -> None:
        if self.requested is None or self.action is not None or self.target_name is None:
            return
        view = next((v for v in runs if v.name == self.target_name), None)
        if view is not None:
            self.action = self._apply(view, record)

    def _apply(self, view: RunView, record: PlacementRecord) -> ActionResult:
        run, built, requested = view.record, view.plan, self.requested
        if run.finished:
            return ActionResult(run.name, error=f"run {run.name!r} has finished ({run.result})")
        assert requested is not None and built is not None
        if isinstance(requested, Approve):
            error = engine.approve(built, run, requested.stage, requested.before, requested.now)
            return ActionResult(run.name, error=error)
        if view.state == INITIALIZE:
            return ActionResult(
                run.name,
                error=f"run {run.name!r} is initialized but not started: set spec.state: Run "
                "in its ClusterStagedUpdateRun to start it",
            )
        if view.state == STOP:
            return ActionResult(
                run.name,
                error=f"run {run.name!r} is stopped (spec.state: Stop): set spec.state: Run to "
                "resume it",
            )
        step = engine.advance(built, run, requested.now)
        for cluster in step.moved:
            record.clusters[cluster] = run.snapshot
        for cluster in step.deleted:
            record.clusters.pop(cluster, None)
        return ActionResult(run.name, step)
