"""A stand-in section for tests: runs a function where a real section of fleet.yaml would."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fleetc import pipeline
from fleetc.core.diagnostics import Diagnostics
from fleetc.sections.protocol import SectionInput, SectionOutput


class FakeSection:
    """A section whose ``generate`` is ``run(given, out)``."""

    status_key = None

    def __init__(self, run: Callable[[SectionInput, SectionOutput], None]) -> None:
        self.run = run

    def generate(self, given: SectionInput, diags: Diagnostics) -> SectionOutput:
        out = SectionOutput()
        self.run(given, out)
        return out


def run_first(monkeypatch: pytest.MonkeyPatch, run: Callable[[SectionInput, SectionOutput], None]):
    monkeypatch.setattr(pipeline, "SECTIONS", [FakeSection(run), *pipeline.SECTIONS])


def run_last(monkeypatch: pytest.MonkeyPatch, run: Callable[[SectionInput, SectionOutput], None]):
    monkeypatch.setattr(pipeline, "SECTIONS", [*pipeline.SECTIONS, FakeSection(run)])
