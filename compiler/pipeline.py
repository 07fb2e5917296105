"""The pure middle of the compiler: loaded inputs in, per-cluster objects and files out.

The stages run in the order ``compile_fleet`` lists them; each takes the results before it and
returns its own. The sections of fleet.yaml that generate objects run in ``SECTIONS`` order.
No stage reads or writes files, looks at the clock or draws random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .core import lock, secrets
from .core.diagnostics import Diagnostics, Position
from .core.inputs import Inputs
from .core.memo import NO_MEMO, Memo
from .core.model import Fleet, HubObject
from .core.options import Options
from .core.placed import ClusterObjects
from .core.reporter import SILENT, Reporter
from .sections.flux.section import Flux
from .sections.metallb.section import LoadBalancers
from .sections.protocol import Section, SectionInput, SectionOutput
from .sections.services.section import Services
from .stages import emit, lint, model, override, place, select, templates
from .stages.override import Overridden
from .stages.rollout import Advance, Approve, RolledOut, rollout
from .stages.rollout.lock_section import SECTION as ROLLOUTS_SECTION
from .stages.schedule import Outcome, schedule_fleet
from .stages.schedule.eviction import SECTION as EVICTIONS_SECTION
from .stages.schedule.lock_section import SECTION as PLACEMENTS_SECTION

# The generating sections of fleet.yaml, in the order they run; Flux runs last, as it wires
# the bundles the others create. Adding a section is a package under sections/ and a line here.
SECTIONS: list[Section] = [Services(), LoadBalancers(), Flux()]

__all__ = ["Advance", "Approve", "Compilation", "Options", "Result", "compile_fleet"]


@dataclass(frozen=True)
class Compilation:
    """Every stage's result, for the views (status, explain, diff) to read the decisions from."""

    # The fleet as the model stage built it, with the objects templates render among its hub
    # objects.
    fleet: Fleet
    options: Options
    # The lock this render started from, and the one it writes.
    previous_lock: lock.Lock
    lock: lock.Lock
    selections: dict[str, tuple[HubObject, ...]]
    outcomes: dict[str, Outcome]
    overridden: Overridden
    # Section outputs, in ``SECTIONS`` order.
    sections: tuple[tuple[Section, SectionOutput], ...]
    # Every inventory cluster's final objects: placed, overridden, then generated.
    clusters: ClusterObjects
    # Bundle name -> the Flux Kustomizations it waits for.
    bundle_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Staged rollouts: which snapshot each cluster runs, and the update runs.
    rollout: RolledOut = field(default_factory=lambda: RolledOut({}))
    # Clusters whose output folder holds a flux-system/ written by 'flux bootstrap'.
    flux_system: frozenset[str] = frozenset()

    def section_status(self) -> dict[str, Any]:
        """Each reporting section's status, by its key in ``fleetc status``."""
        return {s.status_key: out.status for s, out in self.sections if s.status_key}


@dataclass
class Result:
    diagnostics: Diagnostics
    compilation: Compilation | None = None
    # Output files, relative to the output folder.
    files: dict[str, bytes] = field(default_factory=dict)
    # The bytes of the new fleet.lock.
    lock: bytes = b""
    # The snapshot store beside fleet.lock (path relative to the fleet's root -> bytes).
    store: dict[str, bytes] = field(default_factory=dict)
    # Each distinct object's annotated YAML, by ``emit.text_key`` (for the diff's texts).
    serialised: dict[tuple[Any, ...], bytes] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.compilation is not None and not self.diagnostics.has_errors


def compile_fleet(
    inputs: Inputs,
    options: Options | None = None,
    reporter: Reporter = SILENT,
    memo: Memo = NO_MEMO,
) -> Result:
    """``memo`` holds results of earlier runs' work (``core.memo``); the result is the same
    bytes with any memo."""
    options = options or Options()
    diags = Diagnostics()
    with reporter.stage("model"):
        built = model.build(inputs, diags)
        if built is None:
            return Result(diags)
        previous_lock = lock.read(inputs.lock, diags)
    with reporter.stage("templates"):
        expanded = templates.expand(built, inputs.templates, diags, memo)
    fleet = expanded.fleet
    with reporter.stage("schedule"):
        selections = select.select_all(fleet, diags)
        scheduled = schedule_fleet(fleet, previous_lock, options.reschedule, diags)
    with reporter.stage("place"):
        placed = place.place(expanded, selections, scheduled.outcomes, diags)
    with reporter.stage("override"):
        overridden = override.override(fleet, placed.clusters, diags)
    with reporter.stage("rollout"):
        rolled = rollout(
            fleet,
            expanded.origin,
            selections,
            scheduled.outcomes,
            overridden,
            previous_lock,
            inputs.snapshots,
            options.action,
            diags,
        )
    new_lock = lock.Lock({PLACEMENTS_SECTION: scheduled.lock_section})
    if scheduled.evictions.lock_section:
        new_lock.sections[EVICTIONS_SECTION] = scheduled.evictions.lock_section
    if rolled.lock_section:
        new_lock.sections[ROLLOUTS_SECTION] = rolled.lock_section
    with reporter.stage("generate"):
        clusters, outputs, dependencies = _run_sections(
            SectionInput(
                fleet,
                rolled.clusters,
                previous_lock,
                flux_system=inputs.flux_system,
                repo_prefix=inputs.repo_prefix,
            ),
            diags,
        )
    for _section, out in outputs:
        new_lock.sections.update(out.lock)
    with reporter.stage("lint"):
        lint.lint(
            lint.LintInput(expanded, selections, scheduled.outcomes, overridden, clusters), diags
        )
    secrets.check_rendered(clusters, diags)
    _report_outcomes(fleet, scheduled.outcomes, options, diags)
    compilation = Compilation(
        fleet=fleet,
        options=options,
        previous_lock=previous_lock,
        lock=new_lock,
        selections=selections,
        outcomes=scheduled.outcomes,
        overridden=overridden,
        sections=outputs,
        clusters=clusters,
        bundle_dependencies=dependencies,
        rollout=rolled,
        flux_system=inputs.flux_system,
    )
    if diags.has_errors:
        return Result(diags, compilation)
    with reporter.stage("serialize"):
        try:
            serialised: dict[tuple[Any, ...], bytes] = {}
            files = emit.files(clusters, inputs.flux_system, reporter, serialised=serialised)
        except emit.OutputTooLarge as exc:
            diags.error(
                f"the output would exceed {exc.limit // (1024 * 1024)} MiB "
                f"(emit.MAX_OUTPUT_BYTES), reached at cluster {exc.cluster}; the largest "
                f"object is {exc.largest.key} ({exc.size} bytes per cluster)",
                Position(exc.largest.source),
                hint="place large objects on fewer clusters, or make them smaller",
            )
            return Result(diags, compilation)
    return Result(diags, compilation, files, lock.dump(new_lock), rolled.store, serialised)


def _run_sections(
    given: SectionInput, diags: Diagnostics
) -> tuple[ClusterObjects, tuple[tuple[Section, SectionOutput], ...], dict[str, tuple[str, ...]]]:
    """Each section sees the objects of the sections before it; their objects join the
    clusters' (``SectionOutput.add`` has refused every clash)."""
    outputs = []
    for section in SECTIONS:
        out = section.generate(given, diags)
        outputs.append((section, out))
        clusters = {
            name: {**objects, **out.objects[name]} if out.objects.get(name) else objects
            for name, objects in given.clusters.items()
        }
        dependencies = {**given.bundle_dependencies, **out.bundle_dependencies}
        given = SectionInput(
            given.fleet,
            clusters,
            given.previous_lock,
            dependencies,
            given.flux_system,
            given.repo_prefix,
        )
    return given.clusters, tuple(outputs), dict(given.bundle_dependencies)


def _report_outcomes(
    fleet: Fleet, outcomes: dict[str, Outcome], options: Options, diags: Diagnostics
) -> None:
    for placement in fleet.placements:
        outcome = outcomes[placement.name]
        if outcome.condition.status == "True" or not outcome.valid:
            continue
        message = f"placement {placement.name!r} is not fulfilled: {outcome.condition.message}"
        if options.strict:
            diags.error(message, placement.pos())
        else:
            diags.warning(message, placement.pos(), hint="--strict makes this an error")
