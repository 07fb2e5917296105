"""The terminal side of the compiler: diagnostics on stderr, exit codes, timings, progress."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.reporter import STAGES, Reporter

T = TypeVar("T")
# A progress bar appears only for work that is long enough to need one.
PROGRESS_MIN_ITEMS = 200
PROGRESS_DELAY_SECONDS = 0.5

EXIT_OK = 0
EXIT_ERRORS = 1


def show(diags: Diagnostics, *, as_errors: bool = False) -> None:
    """Print every diagnostic, sorted by file and line; ``as_errors`` for --strict."""
    for diag in diags.sorted():
        text = diag.format()
        if as_errors:
            text = text.replace(": warning: ", ": error: ", 1)
        click.echo(text, err=True)
    errors, warnings = len(diags.errors), len(diags.warnings)
    if errors or warnings:
        click.echo(f"{errors} error(s), {warnings} warning(s)", err=True)


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
        parts = [f"{name} {self.totals[name]:.2f}s" for name in STAGES if name in self.totals]
        total = sum(self.totals.values())
        click.echo(f"timings: {', '.join(parts)}; total {total:.2f}s", err=True)
