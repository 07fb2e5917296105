"""The pure middle of the compiler: loaded documents in, per-cluster objects and files out.

build -> select -> schedule -> assemble -> (override) -> generate -> layout. No stage here reads
or writes files, looks at the clock or draws random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleetc.core import lock, secrets
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.inputs import Inputs
from fleetc.core.model import Fleet, HubObject, ObjectKey
from fleetc.core.placed import RenderedObject
from fleetc.core.reporter import SILENT, Reporter
from fleetc.sections import GENERATORS
from fleetc.stages import emit as layout
from fleetc.stages import override
from fleetc.stages.model import build
from fleetc.stages.schedule import Outcome, schedule_fleet
from fleetc.stages.schedule.lock_section import SECTION as PLACEMENTS_SECTION
from fleetc.stages.select import select


@dataclass(frozen=True)
class Options:
    """How to compile; passed explicitly, varied with ``dataclasses.replace``."""

    strict: bool = False
    # Placements to schedule afresh, ignoring what fleet.lock remembers (--reschedule).
    reschedule: frozenset[str] = frozenset()


@dataclass
class Compilation:
    """The state the stages pass along; generators read it and add objects to clusters."""

    fleet: Fleet
    options: Options
    diags: Diagnostics
    # The lock this render started from, and the one it writes (stages fill their sections).
    previous_lock: lock.Lock = field(default_factory=lock.Lock)
    lock: lock.Lock = field(default_factory=lock.Lock)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    selections: dict[str, list[HubObject]] = field(default_factory=dict)
    # cluster name -> object key -> object, for every inventory cluster.
    clusters: dict[str, dict[ObjectKey, RenderedObject]] = field(default_factory=dict)
    # bundle name -> names of the Flux Kustomizations it must wait for (e.g. the MetalLB
    # configuration waits for the MetalLB install).
    bundle_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Clusters whose output folder holds a flux-system/ written by 'flux bootstrap'.
    flux_system: frozenset[str] = frozenset()
    # The fleet's folder from the top of its git repository (Flux paths start there).
    repo_prefix: str = ""

    def add(self, cluster: str, obj: RenderedObject) -> None:
        self.clusters[cluster][obj.key] = obj


@dataclass
class Result:
    diagnostics: Diagnostics
    compilation: Compilation | None = None
    # Output files, relative to the output folder.
    files: dict[str, bytes] = field(default_factory=dict)
    # The bytes of the new fleet.lock.
    lock: bytes = b""

    @property
    def ok(self) -> bool:
        return self.compilation is not None and not self.diagnostics.has_errors


def compile_fleet(
    inputs: Inputs, options: Options | None = None, reporter: Reporter = SILENT
) -> Result:
    options = options or Options()
    diags = Diagnostics()
    with reporter.stage("load"):
        fleet = build(inputs, diags)
    if fleet is None:
        return Result(diags)
    comp = Compilation(fleet, options, diags, previous_lock=lock.read(inputs.lock, diags))
    comp.flux_system = inputs.flux_system
    comp.repo_prefix = inputs.repo_prefix
    with reporter.stage("schedule"):
        for placement in fleet.placements:
            comp.selections[placement.name] = select(fleet, placement, diags)
        comp.outcomes, comp.lock.sections[PLACEMENTS_SECTION] = schedule_fleet(
            fleet, comp.previous_lock, options.reschedule, diags
        )
        _assemble(comp)
    with reporter.stage("override"):
        override.stage(comp, inputs.templates)
    with reporter.stage("generate"):
        for generate in GENERATORS:
            generate(comp)
    secrets.check_rendered(comp)
    _report_outcomes(comp)
    if diags.has_errors:
        return Result(diags, comp)
    with reporter.stage("serialize"):
        files = layout.files(comp, inputs.flux_system, reporter)
    return Result(diags, comp, files, lock.dump(comp.lock))


def _assemble(comp: Compilation) -> None:
    """Each selected object on each cluster its placement picked."""
    comp.clusters = {name: {} for name in comp.fleet.clusters}
    for placement in comp.fleet.placements:
        outcome = comp.outcomes[placement.name]
        for cluster in outcome.selected:
            placed = comp.clusters[cluster]
            for obj in comp.selections[placement.name]:
                previous = placed.get(obj.key)
                names = (previous.placements if previous else ()) + (placement.name,)
                placed[obj.key] = RenderedObject(obj.key, obj.body, obj.source, names)


def _report_outcomes(comp: Compilation) -> None:
    for placement in comp.fleet.placements:
        outcome = comp.outcomes[placement.name]
        if outcome.condition.status == "True" or not outcome.valid:
            continue
        message = f"placement {placement.name!r} is not fulfilled: {outcome.condition.message}"
        if comp.options.strict:
            comp.diags.error(message, placement.pos())
        else:
            comp.diags.warning(message, placement.pos(), hint="--strict makes this an error")
