"""A cross-run cache of whole compilations, kept in the git directory (never committed, never
in ``git status``).

A compilation is a function of what the load stage looked at (every file it read, every
folder it listed, every path it resolved), of the options, and of fleetc's own code. The load
stage reads through a ``RecordingSource``, which notes each of those answers (file contents as
SHA-256 digests). An entry keeps that record with what the compile produced: the lock's bytes,
each output file's digest and the counts the commands print. The next run replays the record
against the working tree, which costs one read of the inputs and no parsing; when every
answer is the same, the compile would be the same.

What the output folder holds is checked without reading it: after each render or check that
found the output exact, a manifest records every output file's inode, size, times and digest,
and every folder's inode and times (a folder whose status is the recorded one is not listed:
adding, removing or renaming an entry changes it); a file or folder whose times are too close
to the manifest's to rule out a later change in the same clock tick is left out of it, so it
is read next time (git's "racily clean" rule).

Entries are checked, never trusted: a wrong magic line, version, digest, key or shape, a
truncated or foreign file, is a miss, and the next compile writes a fresh entry. A compilation
keeps its warnings, which a hit shows again (render and check never read the clock, so the
same inputs give the same warnings); ``--no-cache`` bypasses the cache altogether.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import sys
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import fleetc
import fleetc.schemas as fleetc_schemas

from ..core.diagnostics import Diagnostic, Position, Severity
from ..core.memo import NO_MEMO, Memo
from ..stages.emit import FLUX_SYSTEM
from . import fanout, gitindex, writer
from .sources import Entry, FileSource

MAGIC = b"fleetc-cache 1\n"
CACHE_DIR = "cache"
MEMO_FILE = "memo.json"
# A file changed less than this long before the manifest was written may have changed again
# within the same timestamp tick: it is not recorded as verified.
RACY_NS = 2_000_000_000
# The files kept per cache key, and how many keys' files are kept.
_KEYED = ("compile-", "digests-")
KEPT_KEYS = 4


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """fleetc's source files (name, size, modification time) and the interpreter and library
    versions: any change to the compiler invalidates every entry."""
    parts = [sys.version]
    for name in (
        "PyYAML",
        "ruamel.yaml",
        "ruamel.yaml.clib",
        "jsonschema",
        "Jinja2",
        "kubernetes-validate",
        "cel-python",
    ):
        try:
            parts.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name}=-")
    for package in (fleetc, fleetc_schemas):
        base = Path(package.__file__).resolve().parent
        for folder, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith((".py", ".json", ".j2", ".yaml")):
                    path = os.path.join(folder, name)
                    info = os.stat(path)
                    parts.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")
    return digest("\n".join(parts).encode())


class RecordingSource(FileSource):
    """The working tree, noting every answer the load stage gets from it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.record: list[list[Any]] = []

    def _note(self, op: str, rel: str, answer: Any) -> None:
        self.record.append([op, rel, answer])

    def resolve(self, rel: str) -> str | None:
        answer = super().resolve(rel)
        self._note("resolve", rel, answer)
        return answer

    def is_dir(self, rel: str) -> bool:
        answer = super().is_dir(rel)
        self._note("is_dir", rel, answer)
        return answer

    def is_file(self, rel: str) -> bool:
        answer = super().is_file(rel)
        self._note("is_file", rel, answer)
        return answer

    def list_dir(self, rel: str) -> list[Entry]:
        try:
            entries = super().list_dir(rel)
        except OSError as exc:
            self._note("list_dir", rel, ["error", exc.errno])
            raise
        self._note("list_dir", rel, [[e.name, e.kind] for e in entries])
        return entries

    def read_regular(self, rel: str, limit: int = -1) -> bytes | None:
        data = super().read_regular(rel, limit)
        self._note("read_regular", rel, [None if data is None else digest(data), limit])
        return data

    def read_bytes(self, rel: str, limit: int) -> bytes:
        try:
            data = super().read_bytes(rel, limit)
        except OSError as exc:
            self._note("read_bytes", rel, ["error", exc.errno, limit])
            raise
        self._note("read_bytes", rel, [digest(data), limit])
        return data


def _replays(root: Path, record: list[list[Any]]) -> bool:
    """True when the working tree gives every recorded answer again."""
    source = FileSource(root)
    for op, rel, answer in record:
        if op == "list_dir":
            try:
                now: Any = [[e.name, e.kind] for e in source.list_dir(rel)]
            except OSError as exc:
                now = ["error", exc.errno]
        elif op == "read_bytes":
            limit = answer[-1]
            try:
                now = [digest(source.read_bytes(rel, limit)), limit]
            except OSError as exc:
                now = ["error", exc.errno, limit]
        elif op == "read_regular":
            data = source.read_regular(rel, answer[-1])
            now = [None if data is None else digest(data), answer[-1]]
        elif op in ("resolve", "is_dir", "is_file"):
            now = getattr(source, op)(rel)
        else:
            return False
        if now != answer:
            return False
    return True


@dataclass(frozen=True)
class _Vouching:
    """The digests a compile stored (relative path -> digest) and the manifest recording the
    output folder as holding them: each folder's and file's status ("" when not recorded)."""

    files: dict[str, str]
    folders: dict[str, str]
    recorded: dict[str, str]


# Relative path -> (the digest the last compile stored, the status the manifest recorded) of
# the output files found as recorded (``Cache.steady``).
Steady = dict[str, tuple[str, str]]


def _steady_file(base: str, vouching: _Vouching, rel: str) -> tuple[str, str] | None:
    """(digest, status) of the file ``rel`` of the output ``base`` when its status is the
    recorded one, else None."""
    status, want = vouching.recorded.get(rel), vouching.files.get(rel)
    if not status or want is None:
        return None
    try:
        info = os.lstat(base + "/" + rel)
    except OSError:
        return None
    return (want, status) if _file_status(info) == status else None


@dataclass(frozen=True)
class Hit:
    """A compilation known without compiling: what the commands print and compare."""

    key: str
    output: str
    lock: bytes
    tree: str  # tree_digest of the output files
    count: int  # how many output files
    clusters: int
    objects: int
    # What the compile reported (warnings only: a compile with errors writes nothing), shown
    # again as if the compile had run.
    diagnostics: tuple[Diagnostic, ...] = ()


def _diagnostic_data(diag: Diagnostic) -> dict[str, Any]:
    position = diag.position
    return {
        "severity": diag.severity.value,
        "message": diag.message,
        "position": None if position is None else [position.file, position.line, position.column],
        "path": diag.path,
        "hint": diag.hint,
        "code": diag.code,
    }


def _diagnostic(data: dict[str, Any]) -> Diagnostic:
    """A diagnostic from ``_diagnostic_data``; ValueError or TypeError on any other shape."""
    position = data["position"]
    if position is not None:
        file, line, column = position
        if not (isinstance(file, str) and type(line) is int and type(column) is int):
            raise TypeError("position")
    texts = (data["message"], data["path"], data["code"])
    hint = data["hint"]
    if not all(isinstance(t, str) for t in texts) or not (hint is None or isinstance(hint, str)):
        raise TypeError("text")
    return Diagnostic(
        Severity(data["severity"]),
        data["message"],
        None if position is None else Position(*position),
        data["path"],
        hint,
        data["code"],
    )


class Cache:
    """The cache of one fleet (``root``); ``enabled`` False makes every lookup a miss and
    every store a no-op (``--no-cache``, or a fleet that is not in git)."""

    def __init__(self, root: Path, enabled: bool = True) -> None:
        self.root = Path(os.path.abspath(root))
        scratch = writer.scratch_dir(self.root)
        self.enabled = enabled and scratch != self.root
        self.folder = scratch / CACHE_DIR
        # Whether ``tree_holds`` had to read files the manifest did not vouch for.
        self.reread = False
        # Per output folder, the files ``known`` found as the manifest recorded them (relative
        # path -> that status): ``remember_tree`` records them again without a second lstat.
        self._confirmed: dict[str, dict[str, str]] = {}
        # Digests of the new output's bytes, by object identity: the emit stage shares one
        # bytes object between the clusters whose file is the same, and both the comparison
        # and the record of the output ask for them.
        self._digested: dict[int, tuple[bytes, str]] = {}
        self._vouchings: dict[tuple[str, str], _Vouching | None] = {}
        # The files ``store_digests`` wrote last and their ``tree_digest``, which the record of
        # the output and the compilation's entry ask for again.
        self._tree: tuple[dict[str, str], str] | None = None
        # The output folder (relative to ``root``) and file count the last compile under the
        # key ``lookup`` looked up recorded, hit or miss: where a render will likely write.
        self.last_output: tuple[str, int] | None = None

    def tree_of(self, files: dict[str, str]) -> str:
        """``tree_digest(files)``, computed once per dict of the files (not changed since)."""
        if self._tree is None or self._tree[0] is not files:
            self._tree = (files, tree_digest(files))
        return self._tree[1]

    def output_digest(self, data: bytes) -> str:
        """``digest(data)`` of a new output file, computed once per bytes object."""
        seen = self._digested.get(id(data))
        if seen is None or seen[0] is not data:
            seen = self._digested[id(data)] = (data, digest(data))
        return seen[1]

    def key(self, options: Any, out: Path | None, fleet_name: str) -> str:
        parts = {
            "root": os.fspath(self.root),
            "fleet": fleet_name,
            "code": code_fingerprint(),
            "strict": bool(options.strict),
            "reschedule": sorted(options.reschedule),
            "out": os.path.abspath(out) if out is not None else None,
        }
        return digest(json.dumps(parts, sort_keys=True).encode())

    def source(self) -> RecordingSource | FileSource:
        return RecordingSource(self.root) if self.enabled else FileSource(self.root)

    # -- files: a magic line, the payload's digest, the payload ---------------------------

    def _read_raw(self, name: str) -> bytes | None:
        try:
            raw = (self.folder / name).read_bytes()
        except OSError:
            return None
        if not raw.startswith(MAGIC):
            return None
        head, _, payload = raw[len(MAGIC) :].partition(b"\n")
        if head.decode("ascii", "replace") != digest(payload):
            return None  # truncated or altered
        return payload

    def _read(self, name: str) -> Any:
        payload = self._read_raw(name)
        try:
            return None if payload is None else json.loads(payload)
        except ValueError:
            return None

    def _write_raw(self, name: str, payload: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temp = self.folder / f"{writer.STAGING_PREFIX}{name}-{os.getpid()}"
            with open(temp, "wb") as handle:
                handle.write(MAGIC + digest(payload).encode() + b"\n" + payload)
            os.replace(temp, self.folder / name)
        except OSError:
            pass  # a cache that cannot be written is a slower next run, nothing else

    def _write(self, name: str, data: Any) -> None:
        self._write_raw(name, json.dumps(data, sort_keys=True, separators=(",", ":")).encode())

    # -- compilations -------------------------------------------------------------------

    def lookup(self, key: str) -> Hit | None:
        if not self.enabled:
            return None
        entry = self._read(f"compile-{key[:32]}.json")
        try:
            if entry["key"] != key:
                return None
            self.last_output = (str(entry["output"]), int(entry["count"]))
            if not _replays(self.root, entry["record"]):
                return None
            return Hit(
                key,
                str(entry["output"]),
                bytes.fromhex(entry["lock"]),
                str(entry["tree"]),
                int(entry["count"]),
                int(entry["clusters"]),
                int(entry["objects"]),
                tuple(_diagnostic(d) for d in entry["diagnostics"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def digests(self, hit: Hit) -> dict[str, str] | None:
        """Each output file's digest (relative path -> digest), or None when unreadable."""
        files = self._digests(hit.key)
        if files is None:
            return None
        return files if len(files) == hit.count and tree_digest(files) == hit.tree else None

    def _digests(self, key: str) -> dict[str, str] | None:
        payload = self._read_raw(f"digests-{key[:32]}.txt")
        if payload is None:
            return None
        try:
            return dict(line.split("\0") for line in payload.decode().splitlines())
        except ValueError:
            return None

    def _vouching(self, output: Path, key: str) -> _Vouching | None:
        """The digests the last compile under ``key`` stored and the manifest of ``output``,
        when the manifest records that compile's tree (read once per run)."""
        base = os.path.abspath(output)
        if (base, key) not in self._vouchings:
            files = self._digests(key) if self.enabled else None
            manifest = self._manifest(output, tree_digest(files)) if files is not None else None
            self._vouchings[base, key] = (
                None if files is None or manifest is None else _Vouching(files, *manifest)
            )
        return self._vouchings[base, key]

    def known(self, output: Path, key: str, steady: Steady | None = None) -> writer.Known | None:
        """What the manifest of ``output`` vouches for (``writer.Known``): a live file whose
        status is the one recorded holds the bytes whose digest the last compile under
        ``key`` stored, when that compile's tree is the one the manifest recorded. None when
        there is no such pair (the writer then reads the files). ``steady``: those files, as
        ``steady`` found them earlier in this run (``prefetch``), instead of an ``lstat`` of
        each file now."""
        if steady is None:
            vouching = self._vouching(output, key)
            if vouching is None:
                return None
            base = os.path.abspath(output)
            lookup: Callable[[str], tuple[str, str] | None] = functools.partial(
                _steady_file, base, vouching
            )
        else:
            lookup = steady.get
        confirmed = self._confirmed.setdefault(os.path.abspath(output), {})

        def known(rel: str, data: bytes) -> bool | None:
            found = lookup(rel)
            if found is None:
                return None
            want, status = found
            if self.output_digest(data) != want:
                return False
            confirmed[rel] = status
            return True

        return known

    def steady(self, output: Path, key: str) -> Steady | None:
        """Every file of ``output`` whose status is the one the manifest recorded, with the
        digest the last compile under ``key`` stored for it and that status; None when
        ``known`` has no manifest to vouch with."""
        vouching = self._vouching(output, key)
        if vouching is None:
            return None
        base = os.path.abspath(output)
        found = {}
        for rel in vouching.recorded:
            pair = _steady_file(base, vouching, rel)
            if pair is not None:
                found[rel] = pair
        return found

    def listing(self, output: Path, key: str) -> writer.Listing | None:
        """The entries of ``output`` (``writer.listing``), listing only the folders whose
        status is not the one the manifest recorded: adding, removing or renaming an entry
        changes a folder's times, so such a folder still holds the entries it held then,
        which are the manifest's. None when ``known`` has no manifest to vouch with."""
        vouching = self._vouching(output, key)
        if vouching is None:
            return None
        folders, recorded = vouching.folders, vouching.recorded
        inside: dict[str, list[tuple[str, int | None]]] = {}
        for rel, status in recorded.items():
            folder, _, name = rel.rpartition("/")
            # A file recorded without a status is read anyway: its inode is not used.
            inside.setdefault(folder, []).append((name, int(status.partition("\0")[0] or 0)))
        for rel in folders:
            if rel:
                folder, _, name = rel.rpartition("/")
                inside.setdefault(folder, []).append((name, None))
        base = os.path.abspath(output)

        def vouched(rel: str) -> list[tuple[str, int | None]] | None:
            status = folders.get(rel)
            path = f"{base}/{rel}" if rel else base
            try:
                info = os.lstat(path)
            except OSError:
                return None
            if not status or status != _folder_status(info):
                return None
            children = inside.get(rel, [])
            if rel and "/" not in rel and os.path.isdir(f"{path}/{FLUX_SYSTEM}"):
                # bootstrap's folder, which the manifest leaves out (the walker sets it aside)
                children = [*children, (FLUX_SYSTEM, None)]
            return children

        return writer.listing(output, vouched)

    def may_vouch(self, key: str) -> bool:
        """Whether ``known`` may vouch for an output under ``key`` (a compile under it stored
        its digests); when not, the caller asks git's index early (``vouched``)."""
        return self.enabled and (self.folder / f"digests-{key[:32]}.txt").is_file()

    def store_digests(self, key: str, files: dict[str, str]) -> None:
        """The digests of the output a compile under ``key`` produced, which ``known`` pairs
        with the output's manifest: written after every render or exact check, with or
        without warnings."""
        if not self.enabled:
            return
        payload = _tree_text(files).encode()
        self._tree = (files, digest(payload))
        self._write_raw(f"digests-{key[:32]}.txt", payload)
        self._prune(key[:32])

    def _prune(self, current: str) -> None:
        """Keep the compilations and digests of the ``KEPT_KEYS`` keys written last (``current``
        among them): other options, another output folder or an upgrade of fleetc make new
        keys, and the old ones' files would otherwise stay for good."""
        try:
            entries = [e for e in os.scandir(self.folder) if e.name.startswith(_KEYED)]
            written: dict[str, int] = {}
            for entry in entries:
                name = entry.name.split("-", 1)[1].split(".", 1)[0]
                written[name] = max(written.get(name, 0), entry.stat().st_mtime_ns)
            kept = sorted(written, key=lambda k: (k == current, written[k]), reverse=True)
            for entry in entries:
                if entry.name.split("-", 1)[1].split(".", 1)[0] not in kept[:KEPT_KEYS]:
                    os.unlink(entry.path)
        except OSError:
            pass  # another run pruned them first

    def store(
        self,
        key: str,
        source: Any,
        output: str,
        lock: bytes,
        files: dict[str, str],
        clusters: int,
        objects: int,
        diagnostics: list[Diagnostic],
    ) -> None:
        """``files``: relative path -> digest (``store_digests`` has written them)."""
        if not self.enabled or not isinstance(source, RecordingSource):
            return
        entry = {
            "key": key,
            "record": source.record,
            "output": output,
            "lock": lock.hex(),
            "tree": self.tree_of(files),
            "count": len(files),
            "clusters": clusters,
            "objects": objects,
            "diagnostics": [_diagnostic_data(d) for d in diagnostics],
        }
        self._write(f"compile-{key[:32]}.json", entry)

    # -- the memo of the stages' work (core.memo) ------------------------------------------

    def memo(self) -> Memo:
        """The stages' earlier results, when they were saved by this version of fleetc (the
        file records the code fingerprint); else an empty memo. ``NO_MEMO`` when disabled."""
        if not self.enabled:
            return NO_MEMO
        entry = self._read(MEMO_FILE)
        if (
            not isinstance(entry, dict)
            or entry.get("code") != code_fingerprint()
            or not isinstance(entry.get("tables"), dict)
        ):
            return Memo()
        tables = {
            name: table
            for name, table in entry["tables"].items()
            if isinstance(name, str) and isinstance(table, dict)
        }
        return Memo(tables)

    def save_memo(self, memo: Memo) -> None:
        """Keep what this run used (entries no run used are dropped, so the file stays the
        size of one fleet's work)."""
        if not self.enabled or memo is NO_MEMO:
            return
        used = memo.used()
        if used:
            self._write(MEMO_FILE, {"code": code_fingerprint(), "tables": used})

    # -- the output folder's manifest ---------------------------------------------------

    def _manifest_name(self, output: Path) -> str:
        return f"tree-{digest(os.fsencode(os.path.abspath(output)))[:32]}.txt"

    def remember_tree(self, output: Path, files: dict[str, str], started_ns: int) -> None:
        """Record ``output`` as holding exactly ``files`` (relative path -> digest), which the
        caller has just compared or written: each file's and folder's status, except those
        changed too recently to rule out a change in the same clock tick.

        A file ``known`` confirmed keeps the status it was confirmed with, unread: its inode
        is still the live file (a render links unchanged files, never rewrites them), and a
        later change, a link included, moves its ctime, so the next run reads it."""
        if not self.enabled:
            return
        limit = started_ns - RACY_NS
        base = os.path.abspath(output)
        confirmed = self._confirmed.get(base, {})
        folders = sorted(_folders(files))
        ordered = sorted(files)
        unread = [rel for rel in ordered if rel not in confirmed]
        folder_statuses, file_statuses = _statuses(base, folders, unread, limit)
        read = dict(zip(unread, file_statuses, strict=True))
        lines = [json.dumps({"output": base, "tree": self.tree_of(files)})]
        lines += [f"D\0{rel}{st}" for rel, st in zip(folders, folder_statuses, strict=True)]
        for rel in ordered:
            status = confirmed.get(rel)
            lines.append(f"F\0{rel}\0{status}" if status is not None else f"F\0{rel}{read[rel]}")
        self._write_raw(self._manifest_name(output), "\n".join(lines).encode())

    def _manifest(self, output: Path, tree: str) -> tuple[dict, dict] | None:
        """(folders, files) of the manifest, relative path -> status string ("" when not
        recorded), when it is the manifest of ``output`` holding the tree ``tree``."""
        payload = self._read_raw(self._manifest_name(output))
        if payload is None:
            return None
        try:
            header, *lines = payload.decode().split("\n")
            meta = json.loads(header)
            if meta["output"] != os.path.abspath(output) or meta["tree"] != tree:
                return None
            folders: dict[str, str] = {}
            files: dict[str, str] = {}
            for line in lines:
                kind, rel, *status = line.split("\0", 2)
                (folders if kind == "D" else files)[rel] = status[0] if status else ""
        except (ValueError, KeyError, TypeError):
            return None
        return folders, files

    def tree_holds(self, output: Path, hit: Hit) -> bool:
        """True when ``output`` holds exactly the files of ``hit`` (and
        ``<cluster>/flux-system/`` folders). A file whose status the manifest vouches for is
        not read; a folder whose status it vouches for is not listed (adding, removing or
        renaming an entry changes a folder's times). Everything else is read and listed."""
        manifest = self._manifest(output, hit.tree) if self.enabled else None
        if manifest is None:
            files = self.digests(hit)
            return files is not None and self._holds_slowly(output, files)
        folders, recorded = manifest
        base = os.path.abspath(output)
        unlisted = []
        for rel, status in folders.items():
            try:
                info = os.lstat(os.path.join(base, rel) if rel else base)
            except OSError:
                return False
            if not stat.S_ISDIR(info.st_mode):
                return False
            if status != _folder_status(info):
                unlisted.append(rel)
        unread = []
        lstat = os.lstat
        for rel, status in recorded.items():
            try:
                info = lstat(base + "/" + rel)
            except OSError:
                return False
            if status != _file_status(info):
                unread.append(rel)
        if not unlisted and not unread:
            return True
        files = self.digests(hit)
        if files is None:
            return False
        children = _children(files)
        for rel in unlisted:
            if not _lists(os.path.join(base, rel) if rel else base, rel, children[rel]):
                return False
        for rel in unread:
            data = writer.read_regular(os.path.join(base, rel))
            if data is None or digest(data) != files[rel]:
                return False
        self.reread = True
        return True

    def _holds_slowly(self, output: Path, files: dict[str, str]) -> bool:
        base = os.path.abspath(output)
        for rel, names in _children(files).items():
            if not _lists(os.path.join(base, rel) if rel else base, rel, names):
                return False
        for rel, want in files.items():
            data = writer.read_regular(os.path.join(base, rel))
            if data is None or digest(data) != want:
                return False
        self.reread = True
        return True


def _folder_status(info: os.stat_result) -> str:
    """A folder's status in the manifest: what adding, removing or renaming an entry changes."""
    return f"{info.st_ino}\0{info.st_mtime_ns}\0{info.st_ctime_ns}"


def _file_status(info: os.stat_result) -> str:
    """A file's status in the manifest: what any change to it, a new link included, changes."""
    return f"{info.st_ino}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}"


def _statuses(
    base: str, folders: list[str], files: list[str], limit: int
) -> tuple[list[str], list[str]]:
    """Each folder's and file's status, as the manifest writes it after the path: its inode
    and times (a file's size too), each after a NUL; "" when it is not a folder or a file, or
    changed after ``limit``. A large tree's second half is ``lstat``-ed by a second process
    (``fanout.Child``) meanwhile."""
    if len(folders) + len(files) < fanout.PARALLEL_MIN:
        return _lstat_statuses(base, folders, files, limit)
    half_folders, half_files = len(folders) // 2, len(files) // 2

    def theirs() -> bytes:
        found = _lstat_statuses(base, folders[half_folders:], files[half_files:], limit)
        return "\n".join([*found[0], *found[1]]).encode()

    try:
        child = fanout.Child(theirs)
    except OSError:  # no second process: all of it here
        return _lstat_statuses(base, folders, files, limit)
    try:
        mine = _lstat_statuses(base, folders[:half_folders], files[:half_files], limit)
        other = child.result().decode().split("\n")
    except BaseException:
        with suppress(OSError):
            child.stop()
        raise
    split = len(folders) - half_folders
    return mine[0] + other[:split], mine[1] + other[split:]


def _lstat_statuses(
    base: str, folders: list[str], files: list[str], limit: int
) -> tuple[list[str], list[str]]:
    return (
        _recorded(base, folders, stat.S_ISDIR, _folder_status, limit),
        _recorded(base, files, stat.S_ISREG, _file_status, limit),
    )


def _recorded(
    base: str,
    rels: list[str],
    kind: Callable[[int], bool],
    status: Callable[[os.stat_result], str],
    limit: int,
) -> list[str]:
    """Each entry's status after a NUL when it is of ``kind`` and unchanged since ``limit``,
    else ""."""
    found = []
    for rel in rels:
        try:
            info = os.lstat(f"{base}/{rel}" if rel else base)
        except OSError:
            found.append("")
            continue
        steady = kind(info.st_mode) and max(info.st_mtime_ns, info.st_ctime_ns) <= limit
        found.append("\0" + status(info) if steady else "")
    return found


def vouched(
    cache: Cache,
    key: str,
    output: Path,
    index: gitindex.IndexQuery | None = None,
    prefetched: tuple[Steady | None, writer.Listing] | None = None,
) -> tuple[writer.Known, writer.Listing | None]:
    """What ``writer.compare`` may take on trust about ``output``: ``writer.Known`` (the
    cache's manifest when it has one, else what git's index vouches for: a fresh clone;
    ``index`` when the caller asked git early; a file neither vouches for is read), and the
    listing whose unchanged folders the manifest vouches for (None without a manifest).
    ``prefetched``: the steady files (None without a manifest) and the listing, as
    ``shell.prefetch`` found them earlier in this run."""
    if prefetched is not None:
        steady, listed = prefetched
        from_cache = cache.known(output, key, steady) if steady is not None else None
    else:
        from_cache, listed = cache.known(output, key), cache.listing(output, key)
    blobs: dict[str, str] = {}
    if from_cache is None:
        blobs = (index or gitindex.IndexQuery(output)).clean_blobs(output)

    def known(rel: str, data: bytes) -> bool | None:
        if from_cache is not None:
            return from_cache(rel, data)
        blob = blobs.get(rel)
        return None if blob is None else gitindex.blob_id(data) == blob

    return known, listed


def _children(files: dict[str, str]) -> dict[str, set[str]]:
    """Folder -> the names it must hold."""
    children: dict[str, set[str]] = {"": set()}
    for rel in files:
        folder, _, name = rel.rpartition("/")
        children.setdefault(folder, set()).add(name)
        while folder:
            parent, _, name = folder.rpartition("/")
            siblings = children.setdefault(parent, set())
            if name in siblings:
                break
            siblings.add(name)
            folder = parent
    return children


def _lists(path: str, rel: str, names: set[str]) -> bool:
    """True when the folder ``path`` is a real folder holding exactly ``names`` (and, in a
    cluster's folder, a ``flux-system/`` folder)."""
    if os.path.islink(path) or not os.path.isdir(path):
        return False
    try:
        listed = set(os.listdir(path))
    except OSError:
        return False
    flux = os.path.join(path, FLUX_SYSTEM)
    if rel and "/" not in rel and os.path.isdir(flux) and not os.path.islink(flux):
        listed.discard(FLUX_SYSTEM)  # written by 'flux bootstrap', not by fleetc
    return listed == names


def tree_digest(files: dict[str, str]) -> str:
    return digest(_tree_text(files).encode())


def _tree_text(files: dict[str, str]) -> str:
    """The digests file's text: a line per file, its path and digest."""
    return "".join(f"{rel}\0{files[rel]}\n" for rel in sorted(files))


def _folders(files: dict[str, str]) -> set[str]:
    """Every folder the files lie in, the output folder itself ("") included."""
    return {"", *writer.folders_of(files)}
