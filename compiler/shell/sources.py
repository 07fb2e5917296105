"""Where the load stage reads from: the working tree, or a commit (``gitsource``).

A ``Source`` answers questions about paths relative to the fleet's root (the folder holding
fleet.yaml), written with ``/``. Every implementation keeps the same safety rules: a path is
usable only if, after following symbolic links, it stays inside the root.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol

# What a folder entry itself is (a symbolic link is never followed to find out).
FOLDER = "folder"
FILE = "file"  # a regular file
LINK = "link"
OTHER = "other"  # a pipe, a socket, a device, a git submodule


class Entry(NamedTuple):
    """One name in a folder listing, and what it is itself (``kind``, links not followed)."""

    name: str
    kind: str = FILE

    @property
    def link(self) -> bool:
        return self.kind == LINK


class Source(Protocol):
    def resolve(self, rel: str) -> str | None:
        """``rel`` with links followed, relative to the root; None when it leaves the root."""

    def is_dir(self, rel: str) -> bool: ...

    def is_file(self, rel: str) -> bool: ...

    def list_dir(self, rel: str) -> list[Entry]:
        """The entries of a folder, sorted by name; raises OSError when it cannot be listed."""

    def read_bytes(self, rel: str, limit: int) -> bytes:
        """The content of a file, at most ``limit`` bytes; raises OSError when it cannot be
        read."""

    def read_regular(self, rel: str, limit: int = -1) -> bytes | None:
        """The content of ``rel`` itself when it is a regular file (at most ``limit`` bytes,
        all of it when negative); None when it is a symbolic link, anything but a regular file,
        or cannot be read. The last component is never followed; callers reach ``rel`` through
        folders they listed, never through links."""


def join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


class FileSource:
    """The file system below ``root``.

    Paths are joined as strings, not ``pathlib`` objects: the load asks about every input
    file and every output cluster folder, and building a ``Path`` cost more than the question.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self._base = os.fspath(root)
        self._real = os.fspath(self.real_root)
        self._real_prefix = os.path.join(self._real, "")
        # Links are resolved from the real root, resolved once, unless the root is a loop of
        # links (the kernel cannot resolve it, or its real path resolves further each time):
        # then each path is resolved from the root as given, as ``os.path.realpath`` does.
        looping = _loops(self._base) or os.path.realpath(self._real) != self._real
        self._links_from = self._base if looping else self._real

    def _str(self, rel: str) -> str:
        """The path of ``rel``, as ``pathlib`` spells ``root / rel``: it drops empty and "."
        components (so "file/." is the file), and an absolute ``rel`` replaces the root."""
        if not rel:
            return self._base
        if rel.startswith("/") or "//" in rel or "/./" in f"/{rel}/" or rel.endswith("/"):
            return os.fspath(self.root / rel)
        return os.path.join(self._base, rel)

    def resolve(self, rel: str) -> str | None:
        if "\0" in rel:
            return None  # no file name holds a NUL
        real = os.path.realpath(os.path.join(self._links_from, rel) if rel else self._links_from)
        if real == self._real:
            return ""
        if real.startswith(self._real_prefix):
            return real[len(self._real_prefix) :].replace(os.sep, "/")
        return None

    def is_dir(self, rel: str) -> bool:
        return stat.S_ISDIR(_mode(self._str(rel)))

    def is_file(self, rel: str) -> bool:
        return stat.S_ISREG(_mode(self._str(rel)))

    def list_dir(self, rel: str) -> list[Entry]:
        with os.scandir(self._str(rel)) as entries:
            found = [Entry(e.name, _kind(e)) for e in entries]
        return sorted(found)

    def read_bytes(self, rel: str, limit: int) -> bytes:
        with open(self._str(rel), "rb") as handle:
            return _read(handle, limit)

    def read_regular(self, rel: str, limit: int = -1) -> bytes | None:
        return read_regular(self._str(rel), limit)


def _read(handle: BinaryIO, limit: int) -> bytes:
    """``handle.read(limit)``, without first setting aside ``limit`` bytes (the limit is
    megabytes, an input file a few hundred bytes): read the file's size and one byte more, and
    only if that byte came (it grew, or has no size), the rest up to the limit."""
    size = os.fstat(handle.fileno()).st_size
    data = handle.read(min(limit, size + 1))
    if len(data) > size:
        data += handle.read(limit - len(data))
    return data


# The errors after which pathlib's is_dir() and is_file() answer False (any other is raised).
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


def _loops(path: str) -> bool:
    """Whether resolving ``path`` runs into a loop of links."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _mode(path: str) -> int:
    """The mode of what ``path`` leads to, links followed; 0 when there is nothing there,
    as pathlib (3.10 to 3.12) tells."""
    try:
        return os.stat(path).st_mode
    except OSError as exc:
        if exc.errno not in _ABSENT:
            raise
        return 0
    except ValueError:  # a NUL byte in the path
        return 0


def _kind(entry: os.DirEntry) -> str:
    try:
        if entry.is_symlink():
            return LINK
        if entry.is_dir(follow_symlinks=False):
            return FOLDER
        if entry.is_file(follow_symlinks=False):
            return FILE
    except OSError:
        pass
    return OTHER


def read_regular(path: Path | str, limit: int = -1) -> bytes | None:
    """The bytes of ``path`` if it is a regular file; None for a symbolic link or an error.

    Opened without following a link and without blocking on a pipe, then checked, so a file
    swapped for a link after it was listed is refused, not followed.
    """
    read = read_with_inode(path, limit)
    return None if read is None else read[0]


def read_with_inode(path: Path | str, limit: int = -1) -> tuple[bytes, int] | None:
    """``read_regular``, with the inode of the very file read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        return handle.read(limit), info.st_ino


class MemorySource:
    """Files held in memory: relative path -> bytes, written with ``/``.

    Folders are implied by the files below them. There are no links, so every path that
    stays below the root resolves to itself; a path that climbs out of it (``..``, an absolute
    path) resolves to None, as it would on disk. Used by stage tests that need no folder.
    """

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = {""}
        for rel, data in files.items():
            path = _normal(rel)
            if path is None or path == "":
                raise ValueError(f"not a path inside the root: {rel!r}")
            self.files[path] = bytes(data)
            parts = path.split("/")
            for end in range(1, len(parts)):
                self.dirs.add("/".join(parts[:end]))
        clash = self.dirs & self.files.keys()
        if clash:
            raise ValueError(f"both a file and a folder: {sorted(clash)[0]!r}")

    def resolve(self, rel: str) -> str | None:
        return _normal(rel)

    def is_dir(self, rel: str) -> bool:
        return _normal(rel) in self.dirs

    def is_file(self, rel: str) -> bool:
        return _normal(rel) in self.files

    def list_dir(self, rel: str) -> list[Entry]:
        folder = _normal(rel)
        if folder not in self.dirs:
            raise FileNotFoundError(2, "No such file or directory", rel)
        prefix = f"{folder}/" if folder else ""
        names = {
            path[len(prefix) :].split("/", 1)[0]
            for path in (*self.files, *self.dirs)
            if path and path.startswith(prefix)
        }
        return [
            Entry(name, FOLDER if f"{prefix}{name}" in self.dirs else FILE)
            for name in sorted(names)
        ]

    def read_bytes(self, rel: str, limit: int) -> bytes:
        path = _normal(rel)
        if path in self.dirs:
            raise IsADirectoryError(21, "Is a directory", rel)
        if path not in self.files:
            raise FileNotFoundError(2, "No such file or directory", rel)
        return self.files[path][:limit]

    def read_regular(self, rel: str, limit: int = -1) -> bytes | None:
        path = _normal(rel)
        if path not in self.files:
            return None
        data = self.files[path]
        return data if limit < 0 else data[:limit]


def _normal(rel: str) -> str | None:
    """``rel`` with ``.`` and ``..`` folded, or None when it leaves the root."""
    if rel.startswith("/"):
        return None
    parts: list[str] = []
    for part in rel.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)
