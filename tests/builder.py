"""Fleets built in memory for stage tests: no temporary folder, no file system.

``FleetBuilder`` collects input files (relative path -> bytes) and compiles them through
``shell.load.load_source`` over a ``MemorySource``, then ``pipeline.compile_fleet`` — the same
path the CLI takes from the working tree, with the file system swapped for a dict.
"""

from __future__ import annotations

import textwrap
from pathlib import Path, PurePosixPath

from fleetc.core.diagnostics import Diagnostics
from fleetc.pipeline import Options, Result, compile_fleet
from fleetc.shell.load import load_source
from fleetc.shell.sources import MemorySource

# Where the in-memory fleet pretends to live; nothing is read or written there.
ROOT = Path("/memory/fleet")


def _text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def cluster_text(name: str, labels: dict[str, str] | None = None, **extra: str) -> str:
    """A minimal Cluster document; ``extra`` values are appended as raw YAML (spec:, status:)."""
    label_lines = "".join(f"\n    {k}: {v!r}" for k, v in (labels or {}).items())
    body = f"apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: {name}\n"
    if label_lines:
        body += f"  labels:{label_lines}\n"
    for section in extra.values():
        body += _text(section)
    return body


class FleetBuilder:
    """A fleet repository held in memory, written file by file (the API of ``FleetDir``)."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.inputs: dict[str, bytes] = dict(files or {})

    @classmethod
    def from_folder(cls, folder: Path, skip: tuple[str, ...] = ()) -> FleetBuilder:
        """Every file below ``folder`` (except the top-level names in ``skip``)."""
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).parts[0] not in skip
        }
        return cls(files)

    def write(self, rel: str, text: str) -> str:
        """Add or replace one file; ``text`` is dedented like ``FleetDir.write``."""
        self.inputs[PurePosixPath(rel).as_posix()] = _text(text).encode("utf-8")
        return rel

    def write_bytes(self, rel: str, data: bytes) -> str:
        self.inputs[rel] = data
        return rel

    def read(self, rel: str) -> str:
        return self.inputs[rel].decode("utf-8")

    def remove(self, folder: str) -> None:
        """Delete ``folder`` and everything below it."""
        self.inputs = {k: v for k, v in self.inputs.items() if not k.startswith(f"{folder}/")}

    def fleet(self, text: str) -> str:
        return self.write("fleet.yaml", text)

    def lock(self, text: str) -> str:
        return self.write("fleet.lock", text)

    def hub(self, name: str, text: str) -> str:
        return self.write(f"hub/{name}", text)

    def template(self, name: str, text: str) -> str:
        return self.write(f"hub/{name}", text)

    def cluster(self, name: str, labels: dict[str, str] | None = None, **extra: str) -> str:
        """A minimal Cluster file; ``extra`` values are appended as raw YAML (spec:, status:)."""
        self.inputs[f"clusters/{name}.yaml"] = cluster_text(name, labels, **extra).encode()
        return f"clusters/{name}.yaml"

    def compile(self, **options) -> Result:
        """Load from memory and compile; load diagnostics come first, as in the CLI."""
        diags = Diagnostics()
        inputs = load_source(MemorySource(self.inputs), ROOT, diags)
        result = compile_fleet(inputs, Options(**options))
        result.diagnostics.items[:0] = diags.items
        return result


def messages(result: Result) -> list[str]:
    """Each diagnostic formatted as the CLI prints it, in the CLI's order."""
    return [d.format() for d in result.diagnostics.sorted()]
