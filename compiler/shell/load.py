"""The load stage: find and read the input files, refusing anything outside the repository.

This and ``writer`` are the only modules that touch the file system (through a
``sources.Source``: the working tree, or a commit read by ``gitsource``). The repository root is
the folder that holds fleet.yaml; every path the inputs name must stay inside it.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from ..core import block_yaml, yamlsource
from ..core import lock as fleetlock
from ..core.diagnostics import Diagnostics, Position
from ..core.inputs import (
    DEFAULT_INVENTORY,
    DEFAULT_OUTPUT,
    DEFAULT_RESOURCES,
    FLEET_FILE,
    Inputs,
    SourceText,
)
from ..core.lock import LOCK_FILE
from ..core.memo import NO_MEMO, Memo
from ..core.output_layout import FLUX_SYSTEM
from ..core.snapshot_store import SNAPSHOT_STORE
from ..core.yamlsource import Document
from . import bootstrap
from .sources import FILE, LINK, FileSource, Source, join

MANIFEST_SUFFIXES = (".yaml", ".yml")
TEMPLATE_SUFFIX = ".yaml.j2"
MAX_INPUT_FILES = 50_000


class Reader:
    """Reads files below the fleet's root from a ``Source``, counting them against the limit.

    Paths are relative to the root, written with ``/``.
    """

    def __init__(self, source: Source, diags: Diagnostics, memo: Memo = NO_MEMO) -> None:
        self.source = source
        self.diags = diags
        self.memo = memo
        self.files_read = 0
        self.bytes_read = 0
        self.budget = yamlsource.Budget()

    def inside(self, rel: str) -> bool:
        return self.source.resolve(rel) is not None

    def resolve(self, relpath: str, what: str, pos: Position, path: str) -> str | None:
        """``relpath`` under the root, or a diagnostic if it is absolute or escapes."""
        if "\0" in relpath:
            self.diags.error(
                f"{what} {relpath!r} holds a NUL character, which no file name can hold",
                pos,
                path,
            )
            return None
        if os.path.isabs(relpath) or posixpath.isabs(relpath) or relpath.startswith("~"):
            self.diags.error(
                f"{what} {relpath!r} is an absolute path; paths must be relative to fleet.yaml",
                pos,
                path,
            )
            return None
        candidate = posixpath.normpath(relpath)
        if candidate == ".":
            candidate = ""
        if candidate.startswith("../") or candidate == ".." or not self.inside(candidate):
            self.diags.error(
                f"{what} {relpath!r} points outside the repository",
                pos,
                path,
                hint="fleetc reads and writes only below the folder that holds fleet.yaml",
            )
            return None
        return candidate

    def read_text(self, rel: str) -> str | None:
        self.files_read += 1
        if self.files_read > MAX_INPUT_FILES:
            if self.files_read == MAX_INPUT_FILES + 1:
                self.diags.error(f"more than {MAX_INPUT_FILES} input files", Position(rel))
            return None
        try:
            # One byte past the limit is enough to refuse an enormous file.
            raw = self.source.read_bytes(rel, yamlsource.MAX_FILE_BYTES + 1)
        except OSError as exc:
            self.diags.error(f"cannot read file: {exc.strerror}", Position(rel))
            return None
        self.bytes_read += len(raw)
        if self.bytes_read > yamlsource.MAX_TOTAL_BYTES:
            self.diags.error(
                f"the inputs are larger than the limit of "
                f"{yamlsource.MAX_TOTAL_BYTES // (1024 * 1024)} MiB in total",
                Position(rel),
            )
            return None
        return yamlsource.decode(raw, rel, self.diags)

    def read_documents(self, rel: str) -> list[Document]:
        """The file's documents: plain block YAML by the quick reader, else by ``yamlsource``
        (recalled from the memo when the same text was parsed before)."""
        text = self.read_text(rel)
        if text is None:
            return []
        quick = block_yaml.documents(text, rel)
        if quick is not None:
            return quick
        return yamlsource.parse_remembered(text, rel, self.diags, self.budget, self.memo)

    def walk(self, folder: str, suffixes: tuple[str, ...]) -> list[str]:
        """Files below ``folder`` with one of ``suffixes``, sorted; symlinks must stay inside."""
        found: list[str] = []
        seen: set[str | None] = set()
        stack = [folder]
        while stack:
            current = stack.pop()
            real = self.source.resolve(current)
            if real in seen:
                continue
            seen.add(real)
            try:
                entries = self.source.list_dir(current)
            except OSError as exc:
                self.diags.error(f"cannot list folder: {exc.strerror}", Position(current))
                continue
            for entry in entries:
                path = join(current, entry.name)
                if entry.name.startswith("."):
                    continue
                if entry.link and not self.inside(path):
                    self.diags.error(
                        "symbolic link points outside the repository",
                        Position(path),
                        hint="fleetc follows links only when they stay inside the repository",
                    )
                    continue
                if self.source.is_dir(path):
                    stack.append(path)
                elif self.source.is_file(path):
                    if entry.name.endswith(suffixes):
                        found.append(path)
                elif entry.link:
                    self.diags.error(
                        "cannot read: the symbolic link is dangling or loops", Position(path)
                    )
        return sorted(found)


def find_fleet_file(target: Path) -> Path:
    """``-f`` takes fleet.yaml or the folder holding it; see ``resolve_fleet_file``."""
    return resolve_fleet_file(target / FLEET_FILE if target.is_dir() else target)


def resolve_fleet_file(fleet_file: Path) -> Path:
    """``fleet_file`` in its real folder: the fleet's root is resolved once, here, so nothing
    fleetc writes (Flux paths from the repository's top, for one) depends on the path it was
    invoked with, such as a symbolic link to the fleet's folder. The file name itself is kept:
    a linked fleet.yaml is checked where it is read (it must stay inside the repository)."""
    fleet_file = Path(os.path.abspath(fleet_file))
    return Path(os.path.realpath(fleet_file.parent)) / fleet_file.name


def load(
    fleet_file: Path, diags: Diagnostics, source: Source | None = None, memo: Memo = NO_MEMO
) -> Inputs:
    """Load the fleet whose fleet.yaml is ``fleet_file``, from the working tree (through
    ``source`` when given: a ``FileSource`` of its folder, such as the cache's recorder).
    ``memo`` holds documents parsed in earlier runs: every file is still read, and only a
    changed one parsed."""
    fleet_file = resolve_fleet_file(fleet_file)
    root = fleet_file.parent
    if not fleet_file.is_file():
        diags.error(
            f"no fleet file at {fleet_file}", hint="pass -f PATH to fleet.yaml or its folder"
        )
        return Inputs(root, None)
    inputs = load_source(source or FileSource(root), root, diags, fleet_file.name, memo)
    inputs.repo_prefix = _repo_prefix(root)
    return inputs


def _repo_prefix(root: Path) -> str:
    """``root`` relative to the nearest folder above it holding ``.git`` (only its existence
    is looked at), or "" when there is none."""
    for top in (root, *root.parents):
        if (top / ".git").exists():
            rel = root.relative_to(top).as_posix()
            return "" if rel == "." else rel
    return ""


def load_source(
    source: Source,
    root: Path,
    diags: Diagnostics,
    fleet_name: str = FLEET_FILE,
    memo: Memo = NO_MEMO,
) -> Inputs:
    """Load a fleet from ``source``, whose root folder holds ``fleet_name``."""
    reader = Reader(source, diags, memo)
    if not reader.inside(fleet_name):
        # A linked fleet.yaml could make a CI check print another file's contents.
        diags.error(
            f"{fleet_name} is a symbolic link that points outside the repository",
            Position(fleet_name),
        )
        return Inputs(root, None)
    docs = reader.read_documents(fleet_name)
    if len(docs) > 1:
        diags.error("fleet.yaml must hold exactly one YAML document", docs[1].pos())
    fleet = docs[0] if docs else None
    spec = fleet.data.get("spec") if fleet and isinstance(fleet.data, dict) else None
    spec = spec if isinstance(spec, dict) else {}
    inputs = Inputs(root, fleet)

    inventory = _string(spec, "inventory", DEFAULT_INVENTORY)
    folder = reader.resolve(inventory, "inventory", _pos(fleet, "inventory"), "spec.inventory")
    if folder is not None:
        if source.is_dir(folder):
            bootstrapped: dict[str, list[str]] = {}
            for path in reader.walk(folder, MANIFEST_SUFFIXES):
                flux = _bootstrap_folder(folder, path)
                if flux is not None:
                    bootstrapped.setdefault(flux, []).append(path)
                    continue
                inputs.inventory.extend(reader.read_documents(path))
            for flux, paths in sorted(bootstrapped.items()):
                _bootstrap_in_inventory(flux, paths, spec, diags)
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
        if source.is_dir(target):
            files = reader.walk(target, (*MANIFEST_SUFFIXES, TEMPLATE_SUFFIX))
        elif source.is_file(target):
            files = [target]
        else:
            diags.error(f"resource path {entry!r} does not exist", pos, where)
            continue
        for path in files:
            if path.endswith(TEMPLATE_SUFFIX):
                text = reader.read_text(path)
                if text is not None:
                    inputs.templates.append(SourceText(path, text))
            else:
                inputs.hub.extend(reader.read_documents(path))

    if source.is_file(LOCK_FILE):
        if reader.inside(LOCK_FILE):
            # fleetc's own format, read by its quick reader (the positional parser when the
            # file is not as fleetc writes it).
            text = reader.read_text(LOCK_FILE)
            lock_docs = (
                [] if text is None else fleetlock.parse(text, LOCK_FILE, diags, reader.budget)
            )
            inputs.lock = lock_docs[0] if lock_docs else None
        else:
            diags.error(
                f"{LOCK_FILE} is a symbolic link that points outside the repository",
                Position(LOCK_FILE),
            )

    if source.is_dir(SNAPSHOT_STORE) and reader.inside(SNAPSHOT_STORE):
        for path in reader.walk(SNAPSHOT_STORE, MANIFEST_SUFFIXES):
            stored = reader.read_documents(path)
            if stored:
                inputs.snapshots[path] = stored[0]

    output = _string(spec, "output", DEFAULT_OUTPUT)
    target = reader.resolve(output, "output", _pos(fleet, "output"), "spec.output")
    if target is not None:
        real = source.resolve(target)
        clash = "the repository itself" if real == "" else _output_clash(source, real, spec)
        if clash:
            diags.error(
                f"output {output!r} would replace {clash}",
                _pos(fleet, "output"),
                "spec.output",
                hint="use a folder of its own, such as rendered/",
            )
        else:
            inputs.output = output
            # A cluster's flux-system/ counts only when it is what 'flux bootstrap' wrote;
            # anything else there is an error (kustomize would build it).
            inputs.flux_system = frozenset(
                entry.name
                for entry in (source.list_dir(target) if source.is_dir(target) else [])
                if _real_dir(source, bootstrap.folder(target, entry.name))
                and not bootstrap.problems(
                    source, bootstrap.folder(target, entry.name), reader.read_documents, diags
                )
            )
    return inputs


def _bootstrap_folder(inventory: str, path: str) -> str | None:
    """The ``flux-system`` folder (as a path) that ``path`` lies in below the inventory."""
    parts = path[len(inventory) :].strip("/").split("/") if inventory else path.split("/")
    if FLUX_SYSTEM not in parts[:-1]:
        return None
    index = parts.index(FLUX_SYSTEM)
    return (
        join(inventory, "/".join(parts[: index + 1])) if inventory else "/".join(parts[: index + 1])
    )


def _bootstrap_in_inventory(flux: str, paths: list[str], spec: dict, diags: Diagnostics) -> None:
    """``flux bootstrap --path=clusters/<name>`` (Flux's documented default) wrote into the
    inventory folder: one error naming the fix, instead of a kind error per Flux object."""
    cluster = flux.rstrip("/").split("/")[-2] if "/" in flux else "<cluster>"
    output = _string(spec, "output", DEFAULT_OUTPUT).rstrip("/")
    diags.error(
        f"{flux}/ holds files written by 'flux bootstrap' ({len(paths)} file(s)) in the "
        "inventory folder: Flux would sync the inventory, not fleetc's output",
        Position(paths[0]),
        hint=f"bootstrap into the output instead: flux bootstrap ... --path={output}/{cluster} "
        f"(then delete {flux}/); see the README (Flux)",
    )


def _output_clash(source: Source, real_output: str | None, spec: dict) -> str | None:
    """An input folder (or .git) that the output folder is, holds, or sits inside."""
    resources = spec.get("resources", list(DEFAULT_RESOURCES))
    names = [r for r in resources if isinstance(r, str)] if isinstance(resources, list) else []
    names += [_string(spec, "inventory", DEFAULT_INVENTORY), ".git", FLEET_FILE, LOCK_FILE]
    for name in names:
        real = source.resolve(posixpath.normpath(name))
        if real is None or real_output is None:
            continue
        if real == real_output or _within(real, real_output) or _within(real_output, real):
            return f"the input {name!r}"
    return None if real_output is None else _not_fresh(source, real_output)


def _looks_like_cluster_output(source: Source, folder: str) -> bool:
    """A cluster folder fleetc wrote (a kustomization.yaml), bootstrap's alone (flux-system/),
    or one holding only YAML files and folders (a render that never finished, a stale file)."""
    if source.is_file(join(folder, "kustomization.yaml")):
        return True
    if _real_dir(source, join(folder, FLUX_SYSTEM)):
        return True
    return all(
        e.kind != FILE or e.name.endswith((".yaml", ".yml")) for e in source.list_dir(folder)
    )


def _not_fresh(source: Source, real_output: str) -> str | None:
    """Why ``real_output`` is not a folder of fleetc's own: a hidden folder (``.github``,
    fleetc's ``.fleetc-*`` files), a file, a folder below a file, or an existing folder that
    holds anything but cluster folders (each with a kustomization.yaml, or bootstrap's
    flux-system/ only), links (replaced by render) and hidden files. An empty or missing
    folder is fresh."""
    parts = real_output.split("/")
    for index, part in enumerate(parts):
        here = "/".join(parts[: index + 1])
        if part.startswith("."):
            return f"the hidden folder or file {here!r} (fleetc's own files and .github/)"
        if source.is_file(here):
            return f"the file {here!r}"
        if not source.is_dir(here):
            return None  # does not exist yet: fleetc creates it
    for entry in source.list_dir(real_output):
        if entry.name.startswith(".") or entry.kind == LINK:
            continue  # a link in the output is never followed; render replaces it
        cluster = join(real_output, entry.name)
        if not (_real_dir(source, cluster) and _looks_like_cluster_output(source, cluster)):
            return (
                f"the folder {real_output!r}, which is not fleetc's output: {entry.name!r} is "
                "not a cluster folder (a kustomization.yaml, or only YAML files)"
            )
    return None


def _within(path: str, folder: str) -> bool:
    return folder == "" or path.startswith(folder + "/")


def _real_dir(source: Source, rel: str) -> bool:
    """A folder reached without symbolic links (links in the output are never followed)."""
    return source.is_dir(rel) and source.resolve(rel) == posixpath.normpath(rel)


def _string(spec: dict, key: str, default: str) -> str:
    value = spec.get(key, default)
    return value if isinstance(value, str) and value else default


def _pos(fleet: Document | None, *path: str | int) -> Position:
    return fleet.pos(("spec", *path)) if fleet else Position(FLEET_FILE)
