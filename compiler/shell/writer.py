"""Write the output tree atomically, and compare it with what is committed.

The new tree is staged next to the output folder (unchanged files are hard-linked, not
rewritten) and swapped in with one ``renameat2(RENAME_EXCHANGE)``, so a reader or a kill at any
moment sees the old tree or the new one, never a mixture. ``fleet.lock`` is staged with it and
a journal records the swap, so ``recover`` (run before every command) completes or rolls back
a render killed between the two renames. ``<cluster>/flux-system/`` folders, written by
``flux bootstrap``, are carried over untouched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from fleetc.shell import output_tree
from fleetc.shell.sources import FileSource, read_regular
from fleetc.stages.emit import FLUX_SYSTEM

STAGING_PREFIX = ".fleetc-staging-"
# The render's mutual-exclusion lock (flock): one render at a time.
# Not fleet.lock (``core.lock.LOCK_FILE``), the scheduling memory that renders write.
RENDER_LOCK = ".fleetc-lock"
# Where the render lock and the journal live: inside the repository's git directory, so they
# never show in `git status`; outside git, the fleet's own folder.
SCRATCH_DIR = "fleetc"
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
    # The files whose bytes are already right: staged as hard links, never read twice.
    kept: set[str] = field(default_factory=set, repr=False)

    @property
    def clean(self) -> bool:
        return not (self.added or self.changed or self.removed)


def compare(output: Path, files: dict[str, bytes]) -> Changes:
    """``output`` as it is (links not followed, ``<cluster>/flux-system/`` left out) against
    the files a render produces."""
    changes = Changes()
    tree = output_tree.walk(FileSource(output), "")
    existing = dict(tree.files)
    for rel, data in files.items():
        if existing.pop(rel, None) is None:
            changes.added.append(rel)
        elif tree.read(rel) != data:
            changes.changed.append(rel)
        else:
            changes.unchanged += 1
            changes.kept.add(rel)
    changes.removed = sorted(existing)
    return changes


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def check_relative(rel: str) -> None:
    """Refuse an output path that is absolute or could climb out of the output folder."""
    parts = rel.split("/")
    if (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or "\0" in rel
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise WriteError(f"refusing to write {rel!r}: it is not a plain path inside the output")


def _git_location(root: Path) -> tuple[Path, Path] | None:
    """(git directory, top of the working tree) of the repository holding ``root``: ``.git``,
    or the folder a worktree's ``.git`` file names; None outside git."""
    start = Path(os.path.abspath(root))
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_symlink():
            return None
        if dot_git.is_dir():
            return dot_git, folder
        if dot_git.is_file():
            text = (read_regular(dot_git) or b"").decode("utf-8", "replace").strip()
            if not text.startswith("gitdir:"):
                return None
            target = Path(text[len("gitdir:") :].strip())
            target = target if target.is_absolute() else folder / target
            return (target, folder) if target.is_dir() else None
    return None


def git_dir(root: Path) -> Path | None:
    found = _git_location(root)
    return None if found is None else found[0]


def scratch_dir(root: Path) -> Path:
    """The folder of the render lock and the journal of the fleet at ``root``:
    ``<git dir>/fleetc/<fleet folder relative to the top, or root>`` (created by
    ``repository_lock``), else ``root`` when the fleet is not in a git repository."""
    found = _git_location(root)
    if found is None:
        return root
    gitdir, top = found
    rel = os.path.relpath(os.path.abspath(root), top)
    name = "root" if rel == "." else quote(rel.replace(os.sep, "/"), safe="")
    return gitdir / SCRATCH_DIR / name


EXCLUDE_PATTERN = STAGING_PREFIX + "*"


def ignore_staging(root: Path) -> None:
    """Make git ignore the staging trees a render keeps beside the output (and a killed render
    may leave until the next command): one line in the repository's ``info/exclude``, the
    local ignore file git reads from its own directory. Best effort: never fails a render."""
    found = git_dir(root)
    if found is None:
        return
    common = found
    pointer = read_regular(found / "commondir")
    if pointer:
        named = Path(pointer.decode("utf-8", "replace").strip())
        common = named if named.is_absolute() else found / named
    exclude = common / "info" / "exclude"
    try:
        text = (read_regular(exclude) or b"").decode("utf-8", "replace")
        if any(line.strip() == EXCLUDE_PATTERN for line in text.splitlines()):
            return
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with open(exclude, "a", encoding="utf-8") as handle:
            sep = "" if not text or text.endswith("\n") else "\n"
            handle.write(f"{sep}# fleetc: staging files of a running render\n{EXCLUDE_PATTERN}\n")
    except OSError:
        return


def _journal_file(root: Path) -> Path:
    return scratch_dir(root) / JOURNAL


@contextmanager
def repository_lock(root: Path) -> Iterator[None]:
    """One render at a time per repository; a second one is refused, not interleaved."""
    folder = scratch_dir(root)
    path = folder / RENDER_LOCK
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create {folder}: {exc.strerror}") from exc
    ignore_staging(root)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
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
    if read_regular(path) == data:
        return False
    temp = path.with_name(f"{STAGING_PREFIX}{path.name}-{os.getpid()}")
    try:
        temp.unlink(missing_ok=True)  # never write through a link planted under this name
        temp.write_bytes(data)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise WriteError(f"writing {path} failed: {exc.strerror or exc}; it is unchanged") from exc
    return True


def commit(
    root: Path,
    output: Path,
    files: dict[str, bytes],
    lock_path: Path | None = None,
    lock: bytes = b"",
) -> Changes:
    """Replace ``output`` with ``files`` and ``lock_path`` with ``lock`` as one step.

    The caller holds ``repository_lock(root)``. Both are staged first; a journal in ``root``
    then records the swap, so that ``recover`` can finish it (or undo it) if this process dies
    between the swap of ``output`` and the rename of the lock file. ``output`` alone is always
    entirely old or entirely new. Errors leave both as they were and raise ``WriteError``.
    """
    for rel in files:
        check_relative(rel)
    try:
        if _journal_file(root).exists():
            _recover_locked(root)
        _remove_leftovers(output.parent)
        _remove_leftovers(root)
        if scratch_dir(root) != root:
            _remove_leftovers(scratch_dir(root))
    except OSError as exc:
        raise WriteError(
            f"cleaning up after an interrupted render failed: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else "")
        ) from exc
    changes = compare(output, files)
    if changes.clean:
        if lock_path is not None:
            write_file(lock_path, lock)
        return changes
    staging = output.parent / f"{STAGING_PREFIX}{output.name}-{os.getpid()}"
    journal: Journal | None = None
    existed = output.exists()
    try:
        _stage(output, staging, files, changes.kept)
        if lock_path is not None:
            lock_temp = lock_path.with_name(f"{STAGING_PREFIX}{lock_path.name}-{os.getpid()}")
            lock_temp.write_bytes(lock)
            journal = Journal.create(root, output, staging, lock_path, lock_temp)
            journal.save(root)
        _swap(staging, output)
    except OSError as exc:
        _undo_staging(root, staging, journal)
        where = f" ({exc.filename})" if exc.filename else ""
        raise WriteError(
            f"writing {output} failed: {exc.strerror or exc}{where}; the previous output is intact"
        ) from exc
    if journal is not None:
        try:
            os.replace(journal.path(root, "lock_temp"), journal.path(root, "lock"))
        except OSError as exc:
            if existed:
                _swap(staging, output)  # put the old tree back
            else:
                shutil.rmtree(output, ignore_errors=True)
            _undo_staging(root, staging, journal)
            raise WriteError(
                f"writing {lock_path} failed: {exc.strerror or exc}; "
                "the previous output and lock are intact"
            ) from exc
        _journal_file(root).unlink()
    shutil.rmtree(staging, ignore_errors=True)
    return changes


def recover(root: Path) -> str | None:
    """Finish or undo a render that was killed mid-swap; a message saying which, or None.

    Runs before any command reads the repository. Without a journal there is nothing to do.
    """
    journal_file = _journal_file(root)
    if not journal_file.exists() and not journal_file.is_symlink():
        return None
    try:
        with repository_lock(root):
            return _recover_locked(root)
    except Busy:
        return None  # the render that owns the journal is still running


def _recover_locked(root: Path) -> str | None:
    journal = Journal.load(root)
    if journal is None:
        _journal_file(root).unlink(missing_ok=True)
        return None
    output = journal.path(root, "output")
    staging = journal.path(root, "staging")
    backup = staging.with_name(staging.name + _BACKUP_SUFFIX)
    if not output.exists() and backup.is_dir():
        os.rename(backup, output)  # a two-rename swap stopped halfway
    if journal.swapped(output):
        lock_temp = journal.path(root, "lock_temp")
        if lock_temp.is_file():
            os.replace(lock_temp, journal.path(root, "lock"))
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(backup, ignore_errors=True)
        _journal_file(root).unlink()
        return f"completed an interrupted render of {output}"
    _undo_staging(root, staging, journal)
    return f"rolled back an interrupted render of {output}; it is unchanged"


JOURNAL = ".fleetc-journal"
_BACKUP_SUFFIX = "-old"


@dataclass(frozen=True)
class Journal:
    """What an in-flight swap is doing: paths relative to the repository root.

    ``staging`` holds the new tree until the swap and the old one after it; the inode of the
    new tree tells which side of the swap a killed render stopped on.
    """

    output: str
    staging: str
    lock: str
    lock_temp: str
    inode: int
    device: int

    @classmethod
    def create(cls, root: Path, output: Path, staging: Path, lock: Path, lock_temp: Path):
        info = staging.stat()

        def rel(path: Path) -> str:
            return os.path.relpath(path, root)

        return cls(rel(output), rel(staging), rel(lock), rel(lock_temp), info.st_ino, info.st_dev)

    @classmethod
    def load(cls, root: Path) -> Journal | None:
        """The journal, or None if it is unreadable or names anything fleetc did not create."""
        data = read_regular(_journal_file(root))
        try:
            fields = json.loads(data or b"")
            journal = cls(**fields)
        except (ValueError, TypeError):
            return None
        names = (journal.path(root, "staging").name, journal.path(root, "lock_temp").name)
        if not all(name.startswith(STAGING_PREFIX) for name in names):
            return None
        if journal.path(root, "staging").parent != journal.path(root, "output").parent:
            return None
        if journal.path(root, "lock_temp").parent != journal.path(root, "lock").parent:
            return None
        return journal

    def path(self, root: Path, name: str) -> Path:
        return Path(os.path.normpath(root / getattr(self, name)))

    def swapped(self, output: Path) -> bool:
        try:
            info = output.stat()
        except OSError:
            return False
        return (info.st_ino, info.st_dev) == (self.inode, self.device)

    def save(self, root: Path) -> None:
        """Written whole or not at all (temp file and rename)."""
        target = _journal_file(root)
        temp = target.with_name(f"{STAGING_PREFIX}journal-{os.getpid()}")
        temp.write_text(json.dumps(dataclasses.asdict(self), sort_keys=True), encoding="utf-8")
        os.replace(temp, target)


def _undo_staging(root: Path, staging: Path, journal: Journal | None) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    if journal is not None:
        journal.path(root, "lock_temp").unlink(missing_ok=True)
        _journal_file(root).unlink(missing_ok=True)


def _remove_leftovers(folder: Path) -> None:
    """Staging trees and temp files of renders that were killed before their journal existed."""
    for stale in folder.glob(STAGING_PREFIX + "*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _stage(output: Path, staging: Path, files: dict[str, bytes], kept: set[str]) -> None:
    """``files`` below ``staging``: those in ``kept`` hard-linked from ``output``."""
    staging.mkdir(parents=True)
    made: set[str] = set()
    base = os.fspath(staging)
    for rel, data in files.items():
        folder = rel.rpartition("/")[0]
        if folder not in made:
            os.makedirs(os.path.join(base, folder), exist_ok=True)
            made.add(folder)
        target = os.path.join(base, rel)
        if rel in kept:
            os.link(os.path.join(output, rel), target, follow_symlinks=False)
        else:
            Path(target).write_bytes(data)
    clusters = {rel.split("/", 1)[0] for rel in files}
    for cluster in sorted(clusters):
        flux = output / cluster / FLUX_SYSTEM
        if flux.is_dir() and not flux.is_symlink() and not flux.parent.is_symlink():
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
    # No atomic exchange on this system: three renames; ``recover`` finishes a killed one.
    backup = staging.with_name(staging.name + _BACKUP_SUFFIX)
    os.rename(output, backup)
    try:
        os.rename(staging, output)
    except OSError:
        os.rename(backup, output)
        raise
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
