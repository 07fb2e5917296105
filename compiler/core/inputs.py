"""What the load stage hands to the pure stages: the documents and texts read from a fleet."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .yamlsource import Document

FLEET_FILE = "fleet.yaml"
DEFAULT_RESOURCES = ("hub/",)
DEFAULT_INVENTORY = "clusters/"
DEFAULT_OUTPUT = "rendered/"


@dataclass
class SourceText:
    """A file read as text (templates are parsed later, once per cluster)."""

    file: str
    text: str


@dataclass
class Inputs:
    """Everything the pure stages need, read from disk; paths are relative to ``root``."""

    root: Path
    fleet: Document | None
    inventory: list[Document] = field(default_factory=list)
    hub: list[Document] = field(default_factory=list)
    templates: list[SourceText] = field(default_factory=list)
    output: str = DEFAULT_OUTPUT
    # Clusters whose output folder holds a flux-system/ written by 'flux bootstrap'.
    flux_system: frozenset[str] = frozenset()
    # The previous fleet.lock, if there is one.
    lock: Document | None = None
    # The fleet's folder relative to the top of its git repository ("" at the top, or outside
    # git): Flux reads paths from the repository's top.
    repo_prefix: str = ""
    # The snapshot store beside fleet.lock (staged rollouts): path relative to ``root`` ->
    # its document.
    snapshots: dict[str, Document] = field(default_factory=dict)
