"""How to compile: the options a command passes to ``pipeline.compile_fleet``, and the one
explicit rollout step it may ask for. Apart from the pipeline so that a command answered from
the cache names them without importing the compiler."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Advance:
    """``fleetc rollout advance [RUN]``: move RUN (or the one run in progress) one step."""

    run: str | None
    now: str


@dataclass(frozen=True)
class Approve:
    """``fleetc rollout approve RUN --stage S [--before]``."""

    run: str
    stage: str
    before: bool
    now: str


Action = Advance | Approve


@dataclass(frozen=True)
class Options:
    """How to compile; passed explicitly, varied with ``dataclasses.replace``."""

    strict: bool = False
    # Placements to schedule afresh, ignoring what fleet.lock remembers (--reschedule).
    reschedule: frozenset[str] = frozenset()
    # The one explicit rollout step of 'fleetc rollout advance|approve'; render and check
    # never pass one, so they never move a staged run.
    action: Action | None = None
