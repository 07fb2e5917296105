"""The one walker over an output tree (``rendered/``), in the working tree or in a commit.

``render --commit`` reads the committed tree back for its message (``gitloop``), the snapshot
store is compared (``store``), and ``validate --rendered`` checks every object in the output
(``validate_rendered``): all list it here, from a ``sources.Source``. The writer, which needs
each file's inode too, walks the working tree's output by the same rules (``writer._scan``).

The rules are the same for every reader:
- symbolic links are listed (kind ``LINK``) but never followed, neither into a folder nor to
  read a file: fleetc never writes links, so a link is never fleetc's output;
- ``<cluster>/flux-system/`` folders, written by ``flux bootstrap``, are left out unless the
  reader asks for them (``bootstrap=True``: validation checks what Flux applies); loading the
  fleet checks that each is bootstrap's by its content (``shell/bootstrap.py``);
- the output folder itself is read as the source finds it (its path was checked when loading).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.output_layout import FLUX_SYSTEM
from .sources import FILE, FOLDER, Source, join


def _skip_missing(path: str, exc: OSError) -> None:
    """A folder that vanished (or became a file) while being walked has nothing in it."""
    if not isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        raise exc


@dataclass
class OutputTree:
    """What lies below one output folder; paths relative to it, written with ``/``."""

    source: Source
    # The output folder, relative to the source's root ("" for the root itself).
    folder: str
    # False when there is no such folder (then nothing is below it).
    exists: bool = True
    # Every folder below it (links are not folders), sorted.
    folders: list[str] = field(default_factory=list)
    # Every other entry: path -> sources.FILE, LINK or OTHER.
    files: dict[str, str] = field(default_factory=dict)

    def path(self, rel: str) -> str:
        """``rel`` relative to the source's root."""
        return join(self.folder, rel)

    def read(self, rel: str, limit: int = -1) -> bytes | None:
        """The bytes of a listed regular file (at most ``limit``); None for a link, anything
        else, or a path the walk did not list (so no link is followed on the way either)."""
        if self.files.get(rel) != FILE:
            return None
        return self.source.read_regular(self.path(rel), limit)

    def read_all(self, limit: int = -1) -> dict[str, bytes | None]:
        """Every file's bytes; a link or another non-file reads as None (never followed)."""
        return {rel: self.read(rel, limit) for rel in sorted(self.files)}


def walk(
    source: Source,
    folder: str,
    *,
    bootstrap: bool = False,
    on_error: Callable[[str, OSError], None] = _skip_missing,
) -> OutputTree:
    """The tree below ``folder`` (relative to ``source``'s root); empty, with ``exists``
    False, when it is not a folder.

    ``on_error(path, exc)`` is told about a folder that cannot be listed (``path`` relative to
    the source's root); by default a vanished folder is skipped and any other error raised.
    """
    if not source.is_dir(folder):
        return OutputTree(source, folder, exists=False)
    tree = OutputTree(source, folder)
    stack = [""]
    while stack:
        current = stack.pop()
        try:
            entries = source.list_dir(tree.path(current))
        except OSError as exc:
            on_error(tree.path(current), exc)
            continue
        for entry in entries:
            rel = join(current, entry.name)
            if entry.kind != FOLDER:
                tree.files[rel] = entry.kind
            # <cluster>/flux-system/ is written by 'flux bootstrap', not by fleetc.
            elif bootstrap or not (entry.name == FLUX_SYSTEM and "/" not in current and current):
                tree.folders.append(rel)
                stack.append(rel)
    tree.folders.sort()
    return tree
