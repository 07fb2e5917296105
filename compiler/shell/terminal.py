"""The terminal side of the compiler: diagnostics on stderr, exit codes, timings, progress."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import click

from ..core import diagnostics_format, lints
from ..core.diagnostics import Diagnostics
from ..core.reporter import STAGES, Reporter

T = TypeVar("T")
# A progress bar appears only for work that is long enough to need one.
PROGRESS_MIN_ITEMS = 200
PROGRESS_DELAY_SECONDS = 0.5

EXIT_OK = 0
EXIT_ERRORS = 1


@dataclass(frozen=True)
class DiagnosticsStyle:
    """How diagnostics are printed: ``--diagnostics-format`` and ``--paths``."""

    form: str = "text"
    # "cwd": paths relative to the current folder; "repo": to the git repository's top.
    paths: str = "cwd"

    @property
    def machine(self) -> bool:
        """A format for tools: it goes to stdout, alone (the command's own lines go to stderr)."""
        return self.form != "text"


def where(style: DiagnosticsStyle, fleet_root: Path | None) -> diagnostics_format.Where:
    """How input paths (recorded relative to the fleet's folder) are printed."""
    if fleet_root is None:
        return diagnostics_format.Where()
    root = Path(os.path.abspath(fleet_root))
    if style.paths == "repo":
        for top in (root, *root.parents):
            if (top / ".git").exists():
                rel = root.relative_to(top).as_posix()
                return diagnostics_format.Where("" if rel == "." else rel)
        return diagnostics_format.Where()
    rel = os.path.relpath(root, os.getcwd())
    return diagnostics_format.Where("" if rel == "." else Path(rel).as_posix())


def show(
    diags: Diagnostics,
    *,
    as_errors: bool = False,
    style: DiagnosticsStyle | None = None,
    fleet_root: Path | None = None,
) -> None:
    """Print every diagnostic, sorted by file and line; ``as_errors`` for --strict.

    Text goes to stderr; the machine formats to stdout (``> fleetc.sarif``)."""
    style = style or DiagnosticsStyle()
    items = diags.sorted()
    if style.machine or items:
        output = diagnostics_format.render(
            style.form,
            items,
            where(style, fleet_root),
            as_errors=as_errors,
            version=_version(),
            rules=lints.DESCRIPTIONS,
        )
        click.echo(output, err=not style.machine, nl=False)


def _version() -> str:
    try:
        return metadata.version("fleetc")
    except metadata.PackageNotFoundError:
        return ""


def exit_code(diags: Diagnostics) -> int:
    return EXIT_ERRORS if diags.has_errors else EXIT_OK


def interactive() -> bool:
    """A person is watching: stderr is a terminal and this is not a CI job."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class TerminalReporter(Reporter):
    """Times each stage for --timings; draws a progress bar on an interactive terminal."""

    def __init__(self, *, timings: bool = False, progress: bool = False) -> None:
        self.timings = timings
        self.show_progress = progress
        self.totals: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - start

    def progress(self, label: str, items: list[T]) -> Iterable[T]:
        if not self.show_progress or len(items) < PROGRESS_MIN_ITEMS:
            return items
        return self._bar(label, items)

    def _bar(self, label: str, items: list[T]) -> Iterator[T]:
        """Yields ``items``; the bar appears once the work has taken more than a moment."""
        start = time.perf_counter()
        bar = None
        try:
            for done, item in enumerate(items):
                if bar is None and time.perf_counter() - start > PROGRESS_DELAY_SECONDS:
                    bar = click.progressbar(length=len(items), label=label, file=sys.stderr)
                    bar.__enter__()
                    bar.update(done)
                yield item
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)

    def print_timings(self) -> None:
        if not self.timings:
            return
        names = [name for name in STAGES if name in self.totals]
        names += [name for name in self.totals if name not in STAGES]  # never dropped
        parts = [f"{name} {self.totals[name]:.2f}s" for name in names]
        total = sum(self.totals.values())
        click.echo(f"timings: {', '.join(parts)}; total {total:.2f}s", err=True)
