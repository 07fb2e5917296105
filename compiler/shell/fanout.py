"""The shadow tree's bulk work (folders to create, files to link or write), shared with a
second process when there is a lot of it.

Creating files and folders costs the kernel far more than it costs Python (on ext4 about
50 µs a file, 60 µs a folder), so a render that writes tens of thousands of files runs that
work on both cores: the clusters' folders are split between this process and a forked child.
The child writes only below the shadow, dies with its parent (``PR_SET_PDEATHSIG``), never
runs the parent's clean-up code (it leaves by ``os._exit``), and reports a failure back as the
``OSError`` it hit (with the file's name), which the parent raises as its own. Small amounts of
work stay in this process, one operation after another (the crash tests count them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

# Below this many operations everything is done in this process.
PARALLEL_MIN = 4000
_PR_SET_PDEATHSIG = 1
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Work:
    """What the shadow (``base``) lacks; paths relative to it. Every link and write is made
    at a path that is absent once ``removals`` are removed."""

    removals: list[str] = field(default_factory=list)  # wrong files, removed first
    folders: list[str] = field(default_factory=list)  # sorted: parents first
    links: list[str] = field(default_factory=list)  # hard links to the live file
    writes: list[str] = field(default_factory=list)

    def size(self) -> int:
        return len(self.removals) + len(self.folders) + len(self.links) + len(self.writes)


def run(
    base: str,
    live: str,
    files: dict[str, bytes],
    work: Work,
    write: Callable[[str, bytes], None],
) -> None:
    """Do ``work`` below ``base``: each removal unlinked, each folder created, each link made
    to the same path below ``live``, each file written: with ``write(path, data)`` when the
    work is done in this process alone, else with ``os.open(O_EXCL | O_NOFOLLOW)`` in both.
    Raises the ``OSError`` of the first operation that failed in either process."""
    if work.size() < PARALLEL_MIN:
        _do(base, live, files, work, write)
        return
    mine, theirs = _split(work)

    def job() -> bytes:
        _do(base, live, files, theirs, _create)
        return b""

    child = Child(job)
    try:
        _do(base, live, files, mine, _create)
    except BaseException:
        child.stop()
        raise
    child.result()


class Child:
    """``job`` run in a forked child process, whose result (bytes) ``result`` returns."""

    def __init__(self, job: Callable[[], bytes]) -> None:
        libc = _libc()  # found before forking: finding it may start a process
        self._reader, writer = os.pipe()
        parent = os.getpid()
        self._pid = os.fork()
        if self._pid == 0:
            os.close(self._reader)
            _child(parent, libc, writer, job)  # never returns
        os.close(writer)

    def result(self) -> bytes:
        """Wait for the child; its failure raised as an ``OSError`` (with the file's name)."""
        try:
            chunks = []
            while chunk := os.read(self._reader, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(self._reader)
        _, status = os.waitpid(self._pid, 0)
        if os.WIFSIGNALED(status):
            raise OSError(f"the second process was killed by signal {os.WTERMSIG(status)}")
        if os.waitstatus_to_exitcode(status) != 0:
            report = json.loads(b"".join(chunks) or b"{}")
            strerror = report.get("strerror") or "the second process failed"
            raise OSError(report.get("errno"), strerror, report.get("filename"))
        return b"".join(chunks)

    def stop(self) -> None:
        """Kill the child and reap it: its work is not wanted."""
        try:
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
        finally:
            os.close(self._reader)


def _do(
    base: str, live: str, files: dict[str, bytes], work: Work, write: Callable[[str, bytes], None]
) -> None:
    unlink, mkdir, link = os.unlink, os.mkdir, os.link
    for rel in work.removals:
        unlink(f"{base}/{rel}")
    for folder in work.folders:
        mkdir(f"{base}/{folder}")
    for rel in work.links:
        link(f"{live}/{rel}", f"{base}/{rel}", follow_symlinks=False)
    for rel in work.writes:
        write(f"{base}/{rel}", files[rel])


def _create(path: str, data: bytes) -> None:
    """A new file holding ``data``; never opens an existing one (nor follows a link)."""
    fd = os.open(path, _CREATE, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _split(work: Work) -> tuple[Work, Work]:
    """Two halves by the first path component (a cluster's folder), about equal in
    operations, so that no folder is created by one process and filled by the other."""
    weight: dict[str, int] = {}
    for rels in (work.removals, work.folders, work.links, work.writes):
        for rel in rels:
            key = rel.partition("/")[0]
            weight[key] = weight.get(key, 0) + 1
    theirs: set[str] = set()
    total = 0
    for key in sorted(weight, reverse=True):
        if total < work.size() // 2:
            theirs.add(key)
            total += weight[key]
    halves = Work(), Work()
    for name in ("removals", "folders", "links", "writes"):
        for rel in getattr(work, name):
            getattr(halves[rel.partition("/")[0] in theirs], name).append(rel)
    return halves


def _child(parent: int, libc: ctypes.CDLL | None, report: int, job: Callable[[], bytes]) -> None:
    """Run ``job`` and leave by ``os._exit``, having written its result or its failure (as
    JSON) to ``report``: the child never returns into the parent's code."""
    code = 1
    try:
        if libc is not None:  # SIGKILL this process when its parent dies (Linux)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)  # it already has
        out = memoryview(job())
        while out:
            out = out[os.write(report, out) :]
        code = 0
    except OSError as exc:
        name = exc.filename2 if exc.filename2 is not None else exc.filename
        message = {"errno": exc.errno, "strerror": exc.strerror or str(exc), "filename": name}
        os.write(report, json.dumps(message, default=os.fsdecode).encode())
    except BaseException as exc:  # anything else, reported too
        os.write(report, json.dumps({"errno": None, "strerror": repr(exc)}).encode())
    finally:
        os._exit(code)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None
