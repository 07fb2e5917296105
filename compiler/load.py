"""The load stage: find and read the input files, refusing anything outside the repository.

This and ``writer`` are the only modules that touch the file system. The repository root is
the folder that holds fleet.yaml; every path the inputs name must stay inside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import yamlsource
from .diagnostics import Diagnostics, Position
from .layout import FLUX_SYSTEM
from .lock import LOCK_FILE
from .yamlsource import Document

FLEET_FILE = "fleet.yaml"
DEFAULT_RESOURCES = ("hub/",)
DEFAULT_INVENTORY = "clusters/"
DEFAULT_OUTPUT = "rendered/"
MANIFEST_SUFFIXES = (".yaml", ".yml")
TEMPLATE_SUFFIX = ".yaml.j2"
MAX_INPUT_FILES = 50_000


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


class Reader:
    """Reads files below ``root`` for one run, counting them against the limit."""

    def __init__(self, root: Path, diags: Diagnostics) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.diags = diags
        self.files_read = 0
        self.bytes_read = 0
        self.budget = yamlsource.Budget()

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def inside(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        return real == self.real_root or self.real_root in real.parents

    def resolve(self, relpath: str, what: str, pos: Position, path: str) -> Path | None:
        """``relpath`` under the root, or a diagnostic if it is absolute or escapes."""
        if os.path.isabs(relpath) or relpath.startswith("~"):
            self.diags.error(
                f"{what} {relpath!r} is an absolute path; paths must be relative to fleet.yaml",
                pos,
                path,
            )
            return None
        candidate = self.root / relpath
        if not self.inside(candidate):
            self.diags.error(
                f"{what} {relpath!r} points outside the repository",
                pos,
                path,
                hint="fleetc reads and writes only below the folder that holds fleet.yaml",
            )
            return None
        return candidate

    def read_text(self, path: Path) -> str | None:
        self.files_read += 1
        if self.files_read > MAX_INPUT_FILES:
            if self.files_read == MAX_INPUT_FILES + 1:
                self.diags.error(
                    f"more than {MAX_INPUT_FILES} input files", Position(self.rel(path))
                )
            return None
        try:
            # Read one byte past the limit, never the whole of an enormous file.
            with open(path, "rb") as handle:
                raw = handle.read(yamlsource.MAX_FILE_BYTES + 1)
        except OSError as exc:
            self.diags.error(f"cannot read file: {exc.strerror}", Position(self.rel(path)))
            return None
        self.bytes_read += len(raw)
        if self.bytes_read > yamlsource.MAX_TOTAL_BYTES:
            self.diags.error(
                f"the inputs are larger than the limit of "
                f"{yamlsource.MAX_TOTAL_BYTES // (1024 * 1024)} MiB in total",
                Position(self.rel(path)),
            )
            return None
        return yamlsource.decode(raw, self.rel(path), self.diags)

    def read_documents(self, path: Path) -> list[Document]:
        text = self.read_text(path)
        if text is None:
            return []
        return yamlsource.parse(text, self.rel(path), self.diags, self.budget)

    def walk(self, folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
        """Files below ``folder`` with one of ``suffixes``, sorted; symlinks must stay inside."""
        found: list[Path] = []
        seen: set[str] = set()
        stack = [folder]
        while stack:
            current = stack.pop()
            real = os.path.realpath(current)
            if real in seen:
                continue
            seen.add(real)
            try:
                entries = sorted(os.scandir(current), key=lambda e: e.name)
            except OSError as exc:
                self.diags.error(f"cannot list folder: {exc.strerror}", Position(self.rel(current)))
                continue
            for entry in entries:
                path = Path(entry.path)
                if entry.name.startswith("."):
                    continue
                if entry.is_symlink() and not self.inside(path):
                    self.diags.error(
                        "symbolic link points outside the repository",
                        Position(self.rel(path)),
                        hint="fleetc follows links only when they stay inside the repository",
                    )
                    continue
                try:
                    is_dir = entry.is_dir()
                    is_file = not is_dir and entry.is_file()
                except OSError as exc:  # e.g. a link that points to itself
                    self.diags.error(f"cannot read: {exc.strerror}", Position(self.rel(path)))
                    continue
                if is_dir:
                    stack.append(path)
                elif is_file and entry.name.endswith(suffixes):
                    found.append(path)
        return sorted(found, key=lambda p: self.rel(p))


def find_fleet_file(target: Path) -> Path:
    """``-f`` takes fleet.yaml or the folder holding it."""
    return target / FLEET_FILE if target.is_dir() else target


def load(fleet_file: Path, diags: Diagnostics) -> Inputs:
    fleet_file = Path(os.path.abspath(fleet_file))
    root = fleet_file.parent
    reader = Reader(root, diags)
    if not fleet_file.is_file():
        diags.error(
            f"no fleet file at {fleet_file}", hint="pass -f PATH to fleet.yaml or its folder"
        )
        return Inputs(root, None)
    if not reader.inside(fleet_file):
        # A linked fleet.yaml could make a CI check print another file's contents.
        diags.error(
            f"{fleet_file.name} is a symbolic link that points outside the repository",
            Position(fleet_file.name),
        )
        return Inputs(root, None)
    docs = reader.read_documents(fleet_file)
    if len(docs) > 1:
        diags.error("fleet.yaml must hold exactly one YAML document", docs[1].pos())
    fleet = docs[0] if docs else None
    spec = fleet.data.get("spec") if fleet and isinstance(fleet.data, dict) else None
    spec = spec if isinstance(spec, dict) else {}
    inputs = Inputs(root, fleet)

    inventory = _string(spec, "inventory", DEFAULT_INVENTORY)
    folder = reader.resolve(inventory, "inventory", _pos(fleet, "inventory"), "spec.inventory")
    if folder is not None:
        if folder.is_dir():
            for path in reader.walk(folder, MANIFEST_SUFFIXES):
                inputs.inventory.extend(reader.read_documents(path))
        else:
            diags.error(f"inventory folder {inventory!r} does not exist", _pos(fleet, "inventory"))

    resources = spec.get("resources", list(DEFAULT_RESOURCES))
    for index, entry in enumerate(resources if isinstance(resources, list) else []):
        if not isinstance(entry, str):
            continue
        pos = _pos(fleet, "resources", index)
        where = f"spec.resources[{index}]"
        target = reader.resolve(entry, "resource path", pos, where)
        if target is None:
            continue
        if target.is_dir():
            files = reader.walk(target, (*MANIFEST_SUFFIXES, TEMPLATE_SUFFIX))
        elif target.is_file():
            files = [target]
        else:
            diags.error(f"resource path {entry!r} does not exist", pos, where)
            continue
        for path in files:
            if path.name.endswith(TEMPLATE_SUFFIX):
                text = reader.read_text(path)
                if text is not None:
                    inputs.templates.append(SourceText(reader.rel(path), text))
            else:
                inputs.hub.extend(reader.read_documents(path))

    lock_file = root / LOCK_FILE
    if lock_file.is_symlink() and not reader.inside(lock_file):
        diags.error(
            f"{LOCK_FILE} is a symbolic link that points outside the repository",
            Position(LOCK_FILE),
        )
    elif lock_file.is_file():
        lock_docs = reader.read_documents(lock_file)
        inputs.lock = lock_docs[0] if lock_docs else None

    output = _string(spec, "output", DEFAULT_OUTPUT)
    target = reader.resolve(output, "output", _pos(fleet, "output"), "spec.output")
    if target is not None:
        real = Path(os.path.realpath(target))
        if real == reader.real_root or real in Path(os.path.realpath(fleet_file)).parents:
            diags.error(
                f"output {output!r} would replace the repository itself",
                _pos(fleet, "output"),
                "spec.output",
                hint="use a folder of its own, such as rendered/",
            )
        elif clash := _output_clash(real, root, spec):
            diags.error(
                f"output {output!r} would replace {clash}",
                _pos(fleet, "output"),
                "spec.output",
                hint="use a folder of its own, such as rendered/",
            )
        else:
            inputs.output = output
            inputs.flux_system = frozenset(
                entry.name
                for entry in (sorted(target.iterdir()) if target.is_dir() else [])
                if _real_dir(entry) and _real_dir(entry / FLUX_SYSTEM)
            )
    return inputs


def _output_clash(real_output: Path, root: Path, spec: dict) -> str | None:
    """An input folder (or .git) that the output folder is, holds, or sits inside."""
    resources = spec.get("resources", list(DEFAULT_RESOURCES))
    inputs = [r for r in resources if isinstance(r, str)] if isinstance(resources, list) else []
    inputs += [_string(spec, "inventory", DEFAULT_INVENTORY), ".git"]
    for name in inputs:
        real = Path(os.path.realpath(root / name))
        if real == real_output or real_output in real.parents or real in real_output.parents:
            return f"the input {name!r}"
    return None


def _real_dir(path: Path) -> bool:
    """A folder that is not a symbolic link (links in the output are never followed)."""
    return path.is_dir() and not path.is_symlink()


def _string(spec: dict, key: str, default: str) -> str:
    value = spec.get(key, default)
    return value if isinstance(value, str) and value else default


def _pos(fleet: Document | None, *path: str | int) -> Position:
    return fleet.pos(("spec", *path)) if fleet else Position(FLEET_FILE)
