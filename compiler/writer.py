"""Write the output tree atomically, and compare it with what is committed.

The new tree is staged next to the output folder (unchanged files are hard-linked, not
rewritten) and swapped in with one ``renameat2(RENAME_EXCHANGE)``, so a reader or a kill at any
moment sees the old tree or the new one, never a mixture. ``<cluster>/flux-system/`` folders,
written by ``flux bootstrap``, are carried over untouched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .layout import FLUX_SYSTEM

STAGING_PREFIX = ".fleetc-staging-"
LOCK_FILE = ".fleetc-lock"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class WriteError(Exception):
    """Writing failed; the previous output is intact. The message says what failed."""


class Busy(WriteError):
    """Another fleetc holds the repository's lock."""


@dataclass
class Changes:
    """How the committed tree differs from the one a render produces."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def clean(self) -> bool:
        return not (self.added or self.changed or self.removed)


def existing_files(output: Path) -> dict[str, Path]:
    """Files fleetc owns in ``output`` (everything but ``<cluster>/flux-system/``)."""
    found: dict[str, Path] = {}
    if not output.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(output):
        rel_dir = Path(dirpath).relative_to(output)
        if len(rel_dir.parts) == 1:
            dirnames[:] = [d for d in dirnames if d != FLUX_SYSTEM]
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            found[rel] = Path(dirpath, name)
    return found


def compare(output: Path, files: dict[str, bytes]) -> Changes:
    changes = Changes()
    existing = existing_files(output)
    for rel, data in files.items():
        path = existing.pop(rel, None)
        if path is None:
            changes.added.append(rel)
        elif read_bytes(path) != data:
            changes.changed.append(rel)
        else:
            changes.unchanged += 1
    changes.removed = sorted(existing)
    return changes


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


@contextmanager
def repository_lock(root: Path) -> Iterator[None]:
    """One render at a time per repository; a second one is refused, not interleaved."""
    path = root / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WriteError(f"cannot create lock file {path}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise Busy(
                "another fleetc render is running in this repository; try again when it finishes"
            ) from exc
        yield
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> bool:
    """Replace one file atomically (temp file and rename); False when it already held ``data``."""
    if read_bytes(path) == data:
        return False
    temp = path.with_name(f"{STAGING_PREFIX}{path.name}-{os.getpid()}")
    try:
        temp.write_bytes(data)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise WriteError(f"writing {path} failed: {exc.strerror or exc}; it is unchanged") from exc
    return True


def write(output: Path, files: dict[str, bytes]) -> Changes:
    """Make ``output`` hold exactly ``files`` (plus flux-system folders), atomically."""
    changes = compare(output, files)
    if changes.clean:
        return changes
    parent = output.parent
    for stale in parent.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = parent / f"{STAGING_PREFIX}{output.name}-{os.getpid()}"
    try:
        _stage(output, staging, files)
        _swap(staging, output)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        where = f" ({exc.filename})" if exc.filename else ""
        raise WriteError(
            f"writing {output} failed: {exc.strerror or exc}{where}; the previous output is intact"
        ) from exc
    shutil.rmtree(staging, ignore_errors=True)
    return changes


def _stage(output: Path, staging: Path, files: dict[str, bytes]) -> None:
    staging.mkdir(parents=True)
    made: set[Path] = {staging}
    for rel, data in files.items():
        target = staging / rel
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        current = output / rel
        if read_bytes(current) == data:
            os.link(current, target)
        else:
            target.write_bytes(data)
    clusters = {rel.split("/", 1)[0] for rel in files}
    for cluster in sorted(clusters):
        flux = output / cluster / FLUX_SYSTEM
        if flux.is_dir() and not flux.is_symlink():
            shutil.copytree(
                flux, staging / cluster / FLUX_SYSTEM, copy_function=os.link, symlinks=True
            )


def _swap(staging: Path, output: Path) -> None:
    """Put ``staging`` at ``output``; afterwards the old tree (if any) is at ``staging``."""
    if not output.exists():
        os.rename(staging, output)
        staging.mkdir()
        return
    if _exchange(staging, output):
        return
    # No atomic exchange on this system: two renames, the second completing the swap.
    backup = staging.with_name(staging.name + "-old")
    os.rename(output, backup)
    os.rename(staging, output)
    os.rename(backup, staging)


def _exchange(a: Path, b: Path) -> bool:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))
