"""Write the snapshot store beside fleet.lock together with the output and the lock.

The store is content-addressed (``fleet.snapshots/<id>.yaml``), so it is written around the
atomic swap of ``writer.commit``: new snapshot files first (a file nobody refers to yet changes
nothing), then the output and fleet.lock in one journaled step, then the files no longer
referred to are removed. A crash at any point leaves a repository that renders as before; at
worst an unreferenced file remains, which the next render removes (``check`` names it).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.lock import LOCK_FILE
from ..core.snapshot_store import SNAPSHOT_STORE
from . import output_tree, writer
from .sources import FileSource


def existing(root: Path) -> dict[str, bytes | None]:
    """Store files (path relative to ``root``) -> their bytes (None: not a regular file; links
    are never followed)."""
    tree = output_tree.walk(FileSource(root), SNAPSHOT_STORE)
    return {tree.path(rel): data for rel, data in tree.read_all().items()}


def commit(
    root: Path,
    output: Path,
    files: dict[str, bytes],
    lock: bytes,
    store: dict[str, bytes],
    known: writer.Known | None = None,
    listed: writer.Listing | None = None,
    shadow_scan: bytes | None = None,
) -> writer.Changes:
    """Write ``store``, then ``files`` and ``lock`` atomically (``writer.commit``, which
    takes ``known``, ``listed`` and ``shadow_scan``), then prune."""
    folder = root / SNAPSHOT_STORE
    if folder.is_symlink():
        raise writer.WriteError(f"refusing to write through the symbolic link {folder}")
    try:
        for rel, data in store.items():
            writer.check_relative(rel)
            folder.mkdir(exist_ok=True)
            writer.write_file(root / rel, data)
    except OSError as exc:
        raise writer.WriteError(f"writing {folder} failed: {exc.strerror or exc}") from exc
    changes = writer.commit(root, output, files, root / LOCK_FILE, lock, known, listed, shadow_scan)
    try:
        for rel in existing(root):
            if rel not in store:
                os.unlink(root / rel)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    except OSError as exc:
        raise writer.WriteError(
            f"removing unused snapshots from {folder} failed: {exc.strerror or exc}; "
            "the output and fleet.lock are written"
        ) from exc
    return changes


def compare(root: Path, store: dict[str, bytes], changes: writer.Changes) -> None:
    """Add the store's missing, stale and extra files to ``changes`` (paths from ``root``)."""
    found = existing(root)
    for rel, data in store.items():
        if rel not in found:
            changes.added.append(rel)
        elif found.pop(rel) != data:
            changes.changed.append(rel)
        else:
            changes.unchanged += 1
    changes.removed.extend(sorted(found))
