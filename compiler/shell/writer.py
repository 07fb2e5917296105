"""Write the output tree atomically, touching only what changed, and compare it with what is
committed.

fleetc keeps two copies of the output: the live one (``rendered/``) and a *shadow*, the tree
the previous render replaced, kept in the repository's git directory (``<git dir>/fleetc/``,
never in ``git status``; beside the output when the fleet is not in git). A render brings the
shadow up to the new tree by writing only the files that differ from it (files that did not
change are hard links to the live ones, so they cost nothing), then swaps the two with one
``renameat2(RENAME_EXCHANGE)``: a reader or a kill at any moment sees the old tree or the new
one, never a mixture, and the old tree becomes the next render's shadow. Nothing in the shadow
is trusted: every render scans it and keeps a file only when it is the very inode of a live file
whose bytes were just compared (read, or vouched for by the caller's digests). After a render
into an absent output, the empty shadow is filled with links to the new tree, so the next
render too writes only what it changes. Large amounts of work (the scan of the shadow, creating
folders, links and files) are shared with a second process (``fanout``); a render hands in the
scan when a second process made it while the render compiled (``shell/prefetch.py``).

``fleet.lock`` is staged with the tree, and a journal (in the git directory too) records the
swap, so ``recover`` (run before every command) completes or rolls back a render killed between
the swap and the lock's rename. ``<cluster>/flux-system/`` folders, written by ``flux
bootstrap``, are carried over untouched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ..core.lock import LOCK_FILE as FLEET_LOCK
from ..stages.emit import FLUX_SYSTEM
from . import fanout
from .sources import read_regular, read_with_inode

STAGING_PREFIX = ".fleetc-staging-"
# The shadow tree's name beside the output when the fleet has no git directory to keep it in.
SHADOW_PREFIX = ".fleetc-shadow-"
# The render's mutual-exclusion lock (flock), in the fleet's root: one render at a time.
# Not fleet.lock (``core.lock.LOCK_FILE``), the scheduling memory that renders write.
RENDER_LOCK = ".fleetc-lock"
JOURNAL = ".fleetc-journal"
# fleetc's folder inside the git directory: the journal and the shadow trees.
SCRATCH_DIR = "fleetc"
_JOURNAL_VERSION = 2
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


# known(rel, data): whether the live file rel holds exactly data; None when the caller cannot
# vouch for it without reading it.
Known = Callable[[str, bytes], bool | None]


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
    # The files whose bytes are already right: the shadow links them, never rewrites them.
    kept: set[str] = field(default_factory=set, repr=False)
    # Each kept file's live inode.
    inodes: dict[str, int] = field(default_factory=dict, repr=False)
    # The clusters whose live folder holds a flux-system/ folder.
    bootstrapped: set[str] = field(default_factory=set, repr=False)

    @property
    def clean(self) -> bool:
        return not (self.added or self.changed or self.removed)


# A listed entry that is not a regular file (a link, a socket, ...): never kept.
NOT_REGULAR = -1

# vouched(rel): the entries of the live folder ``rel`` ("" for the output itself) when the
# caller vouches that it holds exactly those, by a check made in this run (say, the folder's
# status is the one recorded when it held them): (name, inode) for a file, (name, None) for a
# folder. None when it cannot: then the folder is listed.
FolderVouch = Callable[[str], list[tuple[str, int | None]] | None]


def _scan(
    output: Path | str,
    folders: set[str] | None = None,
    flux: set[str] | None = None,
    vouched: FolderVouch | None = None,
) -> dict[str, int]:
    """Every non-folder entry below ``output`` (the live tree or the shadow) but
    ``<cluster>/flux-system/``, by relative path, with its inode (``NOT_REGULAR`` for anything
    but a regular file); the folders go into ``folders`` and the clusters that have a
    ``flux-system/`` folder into ``flux``, when given. The writer's walker, by the rules of
    ``output_tree`` (the readers'), which also gives the inodes that tell which shadow files
    are the live ones. A folder ``vouched`` names is not listed.

    Symbolic links are listed but never followed, so nothing outside ``output`` is reached.
    """
    found: dict[str, int] = {}
    stack = [("", os.fspath(output))]
    while stack:
        rel_dir, folder = stack.pop()
        children = vouched(rel_dir[:-1]) if vouched is not None else None
        if children is None:
            try:
                with os.scandir(folder) as entries:
                    children = [(entry.name, _inode(entry)) for entry in entries]
            except (FileNotFoundError, NotADirectoryError):
                continue
        for name, inode in children:
            rel = rel_dir + name
            if inode is not None:
                found[rel] = inode
            elif name == FLUX_SYSTEM and rel_dir.count("/") == 1:
                # <cluster>/flux-system/ is written by 'flux bootstrap', not by fleetc.
                if flux is not None:
                    flux.add(rel_dir[:-1])
            else:
                stack.append((rel + "/", f"{folder}/{name}"))
                if folders is not None:
                    folders.add(rel)
    return found


def _inode(entry: os.DirEntry) -> int | None:
    """None for a folder, else the entry's inode (``NOT_REGULAR`` unless a regular file)."""
    if entry.is_dir(follow_symlinks=False):
        return None
    return entry.inode() if entry.is_file(follow_symlinks=False) else NOT_REGULAR


@dataclass(frozen=True)
class Listing:
    """The live tree's non-folder entries (relative path -> inode, ``NOT_REGULAR`` for
    anything but a regular file) and the clusters whose folder holds a ``flux-system/``
    folder."""

    entries: dict[str, int]
    bootstrapped: set[str]


def listing(output: Path | str, vouched: FolderVouch | None = None) -> Listing:
    """``output``'s entries (``_scan``), without listing the folders ``vouched`` names."""
    bootstrapped: set[str] = set()
    return Listing(_scan(output, flux=bootstrapped, vouched=vouched), bootstrapped)


def compare(
    output: Path,
    files: dict[str, bytes],
    known: Known | None = None,
    listed: Listing | None = None,
) -> Changes:
    """``output`` as it is (links not followed, ``<cluster>/flux-system/`` left out) against
    the files a render produces.

    ``known(rel, data)``, when given, says whether the live regular file ``output/rel`` holds
    exactly ``data`` when the caller can vouch for its bytes without reading them (True or
    False), else None: then the file is read. ``listed``, when given, is the live tree's
    entries as the caller lists them, vouching for some folders (``listing``).
    """
    changes = Changes()
    if listed is None:
        listed = listing(output)
    existing = dict(listed.entries)
    changes.bootstrapped.update(listed.bootstrapped)
    base = os.fspath(output)
    for rel, data in files.items():
        inode = existing.pop(rel, None)
        if inode is None:
            changes.added.append(rel)
            continue
        vouched = known(rel, data) if known is not None and inode != NOT_REGULAR else None
        if inode == NOT_REGULAR:
            same = False
        elif vouched is not None:
            same = vouched
        else:
            read = read_with_inode(f"{base}/{rel}")
            same = read is not None and read[0] == data
            inode = read[1] if read is not None else inode
        if same:
            changes.unchanged += 1
            changes.kept.add(rel)
            changes.inodes[rel] = inode
        else:
            changes.changed.append(rel)
    changes.removed = sorted(existing)
    return changes


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def check_relative(rel: str) -> None:
    """Refuse an output path that is absolute or could climb out of the output folder: one
    with an empty, ``.`` or ``..`` part, a backslash or a NUL."""
    wrapped = f"/{rel}/"
    if (
        not rel
        or "\\" in rel
        or "\0" in rel
        or "//" in wrapped
        or "/./" in wrapped
        or "/../" in wrapped
    ):
        raise WriteError(f"refusing to write {rel!r}: it is not a plain path inside the output")


# -- where fleetc keeps its own files -------------------------------------------------------


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
            return (target, folder) if target.is_dir() and not target.is_symlink() else None
    return None


def scratch_dir(root: Path) -> Path:
    """The folder of the journal and the shadow trees of the fleet at ``root``:
    ``<git dir>/fleetc/<fleet folder relative to the top, or root>``, outside the tracked tree;
    ``root`` itself when the fleet is not in a git repository."""
    found = _git_location(root)
    if found is None:
        return root
    gitdir, top = found
    rel = os.path.relpath(os.path.abspath(root), top)
    name = "root" if rel == "." else quote(rel.replace(os.sep, "/"), safe="")
    return gitdir / SCRATCH_DIR / name


def _journal_file(root: Path) -> Path:
    return scratch_dir(root) / JOURNAL


def _device(path: Path) -> int | None:
    """The device of ``path`` or of its nearest existing parent."""
    for folder in (path, *path.parents):
        with suppress(OSError):
            return os.stat(folder).st_dev
    return None


def shadow_path(root: Path, output: Path) -> Path:
    """Where the shadow of ``output`` lives: in the scratch folder when it is on the output's
    file system (a rename cannot cross file systems), else beside the output."""
    output = Path(os.path.abspath(output))
    scratch = scratch_dir(root)
    if scratch != root and _device(scratch) == _device(output.parent):
        digest = hashlib.sha256(os.fsencode(output)).hexdigest()[:16]
        return scratch / f"shadow-{output.name}-{digest}"
    return output.parent / f"{SHADOW_PREFIX}{output.name}"


def _lock_temp(root: Path, lock_path: Path) -> Path:
    """The new fleet.lock until it is renamed into place: in the scratch folder when that is on
    the lock's file system (so that nothing of fleetc's shows in `git status` even while a
    render runs), else beside the lock."""
    scratch = scratch_dir(root)
    if scratch != root and _device(scratch) == _device(lock_path.parent):
        return scratch / f"{STAGING_PREFIX}{lock_path.name}"
    return lock_path.with_name(f"{STAGING_PREFIX}{lock_path.name}")


@contextmanager
def repository_lock(root: Path) -> Iterator[None]:
    """One render at a time per repository; a second one is refused, not interleaved. The lock
    file lives in the scratch folder (in the git directory: never in `git status`)."""
    folder = scratch_dir(root)
    path = folder / RENDER_LOCK
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create {folder}: {exc.strerror}") from exc
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
        with suppress(OSError):
            temp.unlink(missing_ok=True)
        raise WriteError(f"writing {path} failed: {exc.strerror or exc}; it is unchanged") from exc
    return True


# -- the commit -----------------------------------------------------------------------------


def commit(
    root: Path,
    output: Path,
    files: dict[str, bytes],
    lock_path: Path | None = None,
    lock: bytes = b"",
    known: Known | None = None,
    listed: Listing | None = None,
    shadow_scan: bytes | None = None,
) -> Changes:
    """Replace ``output`` with ``files`` and ``lock_path`` with ``lock`` as one step.

    The caller holds ``repository_lock(root)``. Only the files that differ are written (into
    the shadow, which is then swapped in); when nothing differs nothing is written at all. A
    journal records the swap, so that ``recover`` can finish it (or undo it) if this process
    dies between the swap of ``output`` and the rename of the lock file. ``output`` alone is
    always entirely old or entirely new. Errors leave both as they were and raise
    ``WriteError`` naming the file that failed.

    ``known`` spares reading the live files the caller vouches for (see ``compare``): say,
    with the cache's manifest of ``output``, ``known(rel, data)`` compares the recorded digest
    of ``rel`` with the digest of ``data`` when the file's ``lstat`` (inode, size, times) is
    the recorded one, else returns None; or with git's index (``gitindex.IndexQuery``), it
    compares the clean file's blob id with ``blob_id(data)``. A wrong answer makes a wrong
    output, so it must come from a check made in this run; so must ``listed`` (see
    ``compare``) and ``shadow_scan`` (``encode_scan`` of the shadow, made while the caller
    held the lock).

    When ``output`` did not exist, the shadow is filled with links to the new tree afterwards,
    so that the next render writes only what it changes.
    """
    for rel in files:
        check_relative(rel)
    try:
        journal_file = _journal_file(root)
        if journal_file.exists() or journal_file.is_symlink():
            _recover_locked(root)
        _remove_leftovers(output.parent)
        _remove_leftovers(root)
        if lock_path is not None:
            _remove_leftovers(lock_path.parent)
        if scratch_dir(root) != root:
            _remove_leftovers(scratch_dir(root))
    except OSError as exc:
        raise WriteError(
            f"cleaning up after an interrupted render failed: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else "")
        ) from exc
    shadow = shadow_path(root, output)
    scan = _start_scan(shadow, len(files)) if shadow_scan is None else None
    try:
        changes = compare(output, files, known, listed)
    except BaseException:
        if scan is not None:
            scan.stop()
        raise
    if changes.clean:
        if scan is not None:
            scan.stop()
        if lock_path is not None:
            write_file(lock_path, lock)
        return changes
    lock_temp = _lock_temp(root, lock_path) if lock_path is not None else None
    journal: Journal | None = None
    existed = output.exists()
    try:
        if scan is not None:
            shadow_scan = scan.result()
        _prepare_shadow(output, shadow, files, changes, shadow_scan)
        if lock_path is not None and lock_temp is not None:
            lock_temp.parent.mkdir(parents=True, exist_ok=True)
            lock_temp.unlink(missing_ok=True)
            lock_temp.write_bytes(lock)
            journal = Journal.create(root, output, shadow, lock_path)
            if journal is not None:
                journal.save(root)
        _swap(shadow, output)
    except OSError as exc:
        _undo(root, lock_temp, journal)
        raise WriteError(
            f"writing {output} failed: {exc.strerror or exc}"
            f"{_where(exc, shadow, output, lock_temp, lock_path)}; the previous output is intact"
        ) from exc
    if lock_path is not None and lock_temp is not None:
        try:
            os.replace(lock_temp, lock_path)
        except OSError as exc:
            if existed:
                _swap(shadow, output)  # put the old tree back
            else:
                shutil.rmtree(output, ignore_errors=True)
            _undo(root, lock_temp, journal)
            raise WriteError(
                f"writing {lock_path} failed: {exc.strerror or exc}; "
                "the previous output and lock are intact"
            ) from exc
        if journal is not None:
            _journal_file(root).unlink()
    if not existed:
        _mirror(output, shadow, files)
    return changes


def _where(
    exc: OSError, shadow: Path, output: Path, lock_temp: Path | None, lock_path: Path | None
) -> str:
    """`` (file)``: the file that failed, as the user knows it (the output file a shadow file
    stands for, fleet.lock for its temporary copy)."""
    name = exc.filename2 if exc.filename2 is not None else exc.filename
    if not name:
        return ""
    name = os.fspath(name)
    prefix = os.fspath(shadow)
    if name == prefix or name.startswith(prefix + os.sep):
        name = os.fspath(output) + name[len(prefix) :]
    elif lock_temp is not None and lock_path is not None and name == os.fspath(lock_temp):
        name = os.fspath(lock_path)
    return f" ({name})"


def _undo(root: Path, lock_temp: Path | None, journal: Journal | None) -> None:
    """Forget a commit that did not happen. The shadow stays: the next render rescans it."""
    with suppress(OSError):
        if lock_temp is not None:
            lock_temp.unlink(missing_ok=True)
        if journal is not None:
            _journal_file(root).unlink(missing_ok=True)


def _prepare_shadow(
    output: Path,
    shadow: Path,
    files: dict[str, bytes],
    changes: Changes,
    scanned: bytes | None = None,
):
    """Make ``shadow`` hold exactly ``files`` (and the live ``<cluster>/flux-system/``
    folders), writing only what it lacks.

    A shadow file is kept only when it is the inode of the live file whose bytes ``compare``
    found right (``changes.inodes``); anything else in it (left by an interrupted
    render, edited, planted) is replaced, so the shadow never needs to be trusted.
    ``scanned``: the shadow's listing (``encode_scan``), when made already.
    """
    if shadow.is_symlink() or (shadow.exists() and not shadow.is_dir()):
        shadow.unlink()
    shadow.mkdir(parents=True, exist_ok=True)
    base = os.fspath(shadow)
    if scanned is not None:
        present, have_folders, flux = _decode_scan(scanned)
    else:
        have_folders, flux = set(), set()
        present = _scan(shadow, have_folders, flux)
    needed = folders_of(files)
    clusters = {rel.split("/", 1)[0] for rel in files}
    # What the new tree does not have: stale files and folders, folders where files go.
    for rel in present:
        if rel not in files:
            os.unlink(os.path.join(base, rel))
    for entry in os.scandir(base):
        if entry.name not in clusters:
            _remove(entry)
    for rel in sorted(have_folders.intersection(files)):
        shutil.rmtree(os.path.join(base, rel))
    # A file or link in a missing folder's place was unlinked above.
    work = fanout.Work(folders=sorted(needed - have_folders))
    kept = changes.inodes
    for rel in files:
        have = present.get(rel)
        inode = kept.get(rel)
        if inode is not None:
            if have == inode:
                continue
            work.links.append(rel)
        else:
            work.writes.append(rel)
        if have is not None:
            work.removals.append(rel)
    fanout.run(base, os.fspath(output), files, work, _write_new)
    for folder in sorted(have_folders - needed, reverse=True):
        with suppress(OSError):  # gone with its cluster, or not empty (a flux-system/ inside)
            os.rmdir(os.path.join(base, folder))
    for cluster in sorted(clusters & (changes.bootstrapped | flux)):
        _mirror_flux_system(output / cluster, shadow / cluster)


def _start_scan(shadow: Path, size: int) -> fanout.Child | None:
    """The shadow's listing (``_scan``), made by a second process while this one compares
    the live tree: when the tree is large and the shadow a real folder."""
    try:
        real = size >= fanout.PARALLEL_MIN and stat.S_ISDIR(os.lstat(shadow).st_mode)
    except OSError:
        real = False
    return fanout.Child(lambda: encode_scan(shadow)) if real else None


def encode_scan(shadow: Path) -> bytes:
    """``_scan``'s answer as pairs of NUL-terminated fields (no file name holds a NUL): a
    file's path and inode, a folder's path and nothing, a cluster with a flux-system/ folder
    and ``f``."""
    folders: set[str] = set()
    flux: set[str] = set()
    found = _scan(shadow, folders, flux)
    fields = [f"{rel}\0{inode}\0" for rel, inode in found.items()]
    fields.extend(f"{rel}\0\0" for rel in folders)
    fields.extend(f"{cluster}\0f\0" for cluster in flux)
    return "".join(fields).encode("utf-8", "surrogateescape")


def _decode_scan(data: bytes) -> tuple[dict[str, int], set[str], set[str]]:
    """(file -> inode, folders, clusters with flux-system/) from ``encode_scan``'s bytes."""
    fields = data.decode("utf-8", "surrogateescape").split("\0")[:-1]
    present: dict[str, int] = {}
    folders: set[str] = set()
    flux: set[str] = set()
    for rel, inode in zip(fields[::2], fields[1::2], strict=True):
        if inode == "f":
            flux.add(rel)
        elif inode:
            present[rel] = int(inode)
        else:
            folders.add(rel)
    return present, folders, flux


def _write_new(path: str, data: bytes) -> None:
    Path(path).write_bytes(data)


def folders_of(files: Iterable[str]) -> set[str]:
    """Every folder the files (relative paths) lie in (the top folder, "", left out)."""
    needed: set[str] = set()
    for rel in files:
        folder = rel.rpartition("/")[0]
        while folder and folder not in needed:
            needed.add(folder)
            folder = folder.rpartition("/")[0]
    return needed


def _mirror(output: Path, shadow: Path, files: dict[str, bytes]) -> None:
    """Fill the empty shadow with links to the files of the new tree ``output``, which
    ``_prepare_shadow`` will keep. Only to spare the next render that work: a failure leaves
    a partial shadow, which the next render completes."""
    work = fanout.Work(folders=sorted(folders_of(files)), links=list(files))
    with suppress(OSError):
        fanout.run(os.fspath(shadow), os.fspath(output), files, work, _write_new)


def _remove(entry: os.DirEntry) -> None:
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(entry.path)
    else:
        os.unlink(entry.path)


def _tree(folder: Path) -> dict[str, int]:
    """Relative path -> inode of everything below ``folder`` (links not followed)."""
    found: dict[str, int] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        rel = os.path.relpath(dirpath, folder)
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            found[os.path.normpath(os.path.join(rel, name))] = os.lstat(
                os.path.join(dirpath, name)
            ).st_ino
    return found


def _mirror_flux_system(live_cluster: Path, shadow_cluster: Path) -> None:
    """The shadow's ``<cluster>/flux-system/``: hard links to the live one's files, or none."""
    live = live_cluster / FLUX_SYSTEM
    mirror = shadow_cluster / FLUX_SYSTEM
    wanted = live.is_dir() and not live.is_symlink() and not live_cluster.is_symlink()
    if wanted and mirror.is_dir() and not mirror.is_symlink() and _tree(live) == _tree(mirror):
        return
    if mirror.is_dir() and not mirror.is_symlink():
        shutil.rmtree(mirror)
    elif os.path.lexists(mirror):
        os.unlink(mirror)
    if wanted:
        shutil.copytree(live, mirror, copy_function=os.link, symlinks=True)


# -- recovery -------------------------------------------------------------------------------


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
    lock = journal.path(root, "lock")
    shadow = shadow_path(root, output)
    backup = shadow.with_name(shadow.name + _BACKUP_SUFFIX)
    if not output.exists() and backup.is_dir() and not backup.is_symlink():
        os.rename(backup, output)  # a three-rename swap stopped after its first rename
    if journal.swapped(output):
        lock_temp = _lock_temp(root, lock)
        if lock_temp.is_file() and not lock_temp.is_symlink():
            os.replace(lock_temp, lock)
        if backup.is_dir() and not backup.is_symlink():
            if os.path.lexists(shadow):
                shutil.rmtree(backup, ignore_errors=True)
            else:
                os.rename(backup, shadow)
        _journal_file(root).unlink()
        return f"completed an interrupted render of {output}"
    _undo(root, _lock_temp(root, lock), journal)
    return f"rolled back an interrupted render of {output}; it is unchanged"


_BACKUP_SUFFIX = "-old"


@dataclass(frozen=True)
class Journal:
    """What an in-flight swap is doing.

    It names the working tree that wrote it (its absolute path, device and inode: a journal
    copied or committed from elsewhere matches none) and the output and lock as plain paths
    inside it; every other path recovery touches (the shadow, the lock's temporary copy) is
    derived from those, never read. The inode of the new tree tells which side of the swap a
    killed render stopped on.
    """

    version: int
    root: str
    root_device: int
    root_inode: int
    output: str
    lock: str
    inode: int
    device: int

    @classmethod
    def create(cls, root: Path, output: Path, shadow: Path, lock: Path) -> Journal | None:
        """None when the output or the lock lies outside ``root`` (``render --out``): such a
        render is not journaled (recovery touches nothing outside the fleet's folder)."""
        rels = []
        for path in (output, lock):
            rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
            if not _plain(rel):
                return None
            rels.append(rel)
        info = shadow.stat()
        here = os.stat(root)
        return cls(
            _JOURNAL_VERSION,
            os.path.abspath(root),
            here.st_dev,
            here.st_ino,
            rels[0],
            rels[1],
            info.st_ino,
            info.st_dev,
        )

    @classmethod
    def load(cls, root: Path) -> Journal | None:
        """The journal, or None unless fleetc wrote it in this working tree and every path it
        names is a plain path inside it."""
        data = read_regular(_journal_file(root))
        try:
            fields = json.loads(data or b"")
            journal = cls(**fields)
        except (ValueError, TypeError):
            return None
        try:
            here = os.stat(root)
        except OSError:
            return None
        if (
            journal.version != _JOURNAL_VERSION
            or journal.root != os.path.abspath(root)
            or (journal.root_device, journal.root_inode) != (here.st_dev, here.st_ino)
            or not all(isinstance(p, str) and _plain(p) for p in (journal.output, journal.lock))
            or Path(journal.lock).name != FLEET_LOCK
        ):
            return None
        real_root = os.path.realpath(root)
        for name in ("output", "lock"):
            parent = os.path.realpath(journal.path(root, name).parent)
            if parent != real_root and not parent.startswith(real_root + os.sep):
                return None  # a linked folder on the way leads outside
        return journal

    def path(self, root: Path, name: str) -> Path:
        return Path(root, getattr(self, name))

    def swapped(self, output: Path) -> bool:
        try:
            info = output.lstat()
        except OSError:
            return False
        return stat.S_ISDIR(info.st_mode) and (info.st_ino, info.st_dev) == (
            self.inode,
            self.device,
        )

    def save(self, root: Path) -> None:
        """Written whole or not at all (temp file and rename)."""
        target = _journal_file(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f"{STAGING_PREFIX}journal-{os.getpid()}")
        temp.write_text(json.dumps(dataclasses.asdict(self), sort_keys=True), encoding="utf-8")
        os.replace(temp, target)


def _plain(rel: str) -> bool:
    """A relative path without ``..``, ``.``, empty or absolute parts."""
    if not rel or rel.startswith("/") or "\\" in rel or "\0" in rel:
        return False
    return not any(part in ("", ".", "..") for part in rel.split("/"))


def _remove_leftovers(folder: Path) -> None:
    """Temp files of renders that were killed before their journal existed."""
    for stale in folder.glob(STAGING_PREFIX + "*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


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
