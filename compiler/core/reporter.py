"""Hooks the compiler calls as it works; the base class does nothing.

The pure stages never read the clock or the terminal: ``--timings`` and progress bars are
reporters that the command line passes in (see ``report.TerminalReporter``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

# The stages --timings reports, in pipeline order. "validate" is the shell's check of the hub
# manifests against the clusters' schemas, after the compile; "compare" is check's and diff's
# comparison of two outputs.
STAGES = (
    "load",
    "model",
    "templates",
    "schedule",
    "place",
    "override",
    "rollout",
    "generate",
    "lint",
    "serialize",
    "validate",
    "compare",
    "write",
)


class Reporter:
    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Wraps the work of one stage (one of ``STAGES``)."""
        yield

    def progress(self, label: str, items: list[T]) -> Iterable[T]:
        """Iterates ``items``; a terminal reporter may draw a progress bar while it does."""
        return items


SILENT = Reporter()
