"""Load a fleet and compile it: the one place where the load's diagnostics join the compile's.

Every command, ``fleetc diff`` (both sides), ``render --commit`` and the tests compile through
``compile_loaded``; the working tree through its shorthand ``compile_file``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.diagnostics import Diagnostics
from ..core.inputs import Inputs
from ..core.memo import NO_MEMO, Memo
from ..core.reporter import SILENT, Reporter
from ..pipeline import Options, Result, compile_fleet
from .load import load
from .sources import Source


@dataclass(frozen=True)
class Compiled:
    """What was loaded, and what compiling it gave (its diagnostics include the load's)."""

    inputs: Inputs
    result: Result


def compile_loaded(
    load_inputs: Callable[[Diagnostics], Inputs],
    options: Options,
    reporter: Reporter = SILENT,
    memo: Memo = NO_MEMO,
) -> Compiled:
    """Load with ``load_inputs`` (timed as the "load" stage), compile, and put the load's
    diagnostics before the compile's in the result."""
    diags = Diagnostics()
    with reporter.stage("load"):
        inputs = load_inputs(diags)
    result = compile_fleet(inputs, options, reporter, memo)
    result.diagnostics.items[:0] = diags.items
    return Compiled(inputs, result)


def compile_file(
    fleet_file: Path,
    options: Options,
    reporter: Reporter = SILENT,
    source: Source | None = None,
    memo: Memo = NO_MEMO,
) -> Compiled:
    """The fleet whose fleet.yaml is ``fleet_file``, as it is in the working tree (read through
    ``source`` when given, such as the cache's recorder)."""
    return compile_loaded(
        lambda diags: load(fleet_file, diags, source, memo), options, reporter, memo
    )
