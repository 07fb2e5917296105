"""What git already knows about the output folder's files, so that comparing it with a new
output need not read them.

In a fresh clone (CI) every output file was written by the checkout, and git's index records
each one's blob id and status; ``git diff-files`` (which writes nothing) lists the tracked
files whose working copy no longer matches the index. Every other tracked file holds exactly
its blob, so a new output file is unchanged when git's blob id of its bytes is the recorded
one. That holds only where checkout writes a blob's bytes as they are: a file with a
conversion attribute (text, eol, filter, ident, working-tree-encoding) or a repository with
``core.autocrlf=true`` is left out. Files git does not track are not listed: the caller reads
them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from .writer import scratch_dir

# Regular files only: links (120000) and submodules (160000) are never output files.
_REGULAR_MODES = ("100644", "100755")


def blob_id(data: bytes) -> str:
    """The id git gives a blob of ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def clean_blobs(root: Path, output: Path) -> dict[str, str]:
    """Relative path below ``output`` -> blob id, for every tracked file there whose working
    copy git vouches for; empty outside a git repository or when git fails."""
    if scratch_dir(root) == root:  # not in a git repository
        return {}
    output = Path(os.path.realpath(output))
    try:
        # diff-files stats every file: it runs while the index is listed and checked.
        dirty_proc = _start(output, "diff-files", "--name-only", "-z", "--", ".")
        top = _git(output, "rev-parse", "--show-toplevel").strip()
        staged = _git(output, "ls-files", "-s", "-z", "--full-name", "--", ".")
        dirty, _ = dirty_proc.communicate(timeout=120)
        if dirty_proc.returncode != 0:
            return {}
    except (OSError, subprocess.SubprocessError):
        return {}
    prefix = os.path.relpath(output, os.path.realpath(top.decode())).replace(os.sep, "/") + "/"
    if prefix.startswith("../"):
        return {}
    if _git_config(output, "core.autocrlf") == b"true":
        return {}
    modified = set(dirty.split(b"\0"))
    found: dict[str, str] = {}
    for entry in staged.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        parts = meta.split(b" ")
        # Stage 0 only: a file in a merge conflict is read.
        if len(parts) != 3 or parts[2] != b"0" or parts[0].decode() not in _REGULAR_MODES:
            continue
        if path in modified:
            continue
        name = path.decode("utf-8", "surrogateescape")
        if name.startswith(prefix):
            found[name[len(prefix) :]] = parts[1].decode()
    try:
        converted = _converted(output, [prefix + rel for rel in found], top)
    except (OSError, subprocess.SubprocessError):
        return {}
    for path in converted:
        found.pop(path[len(prefix) :], None)
    return found


_ATTRIBUTES = ("text", "eol", "filter", "ident", "working-tree-encoding")


def _converted(cwd: Path, paths: list[str], top: bytes) -> set[str]:
    """The paths (relative to the top) checkout may convert: any attribute of
    ``_ATTRIBUTES`` set, unset or given a value."""
    if not paths:
        return set()
    proc = subprocess.run(
        ["git", "check-attr", "-z", "--stdin", *_ATTRIBUTES],
        cwd=top.decode(),
        input=b"\0".join(p.encode("utf-8", "surrogateescape") for p in paths) + b"\0",
        capture_output=True,
        check=True,
        timeout=120,
    )
    fields = proc.stdout.split(b"\0")
    return {
        fields[i].decode("utf-8", "surrogateescape")
        for i in range(0, len(fields) - 2, 3)
        if fields[i + 2] != b"unspecified"
    }


def _git_config(cwd: Path, name: str) -> bytes:
    proc = subprocess.run(["git", "config", "--get", name], cwd=cwd, capture_output=True)
    return proc.stdout.strip().lower()


def _start(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["git", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env()
    )


def _env() -> dict[str, str]:
    return {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}


def _git(cwd: Path, *args: str) -> bytes:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        check=True,
        timeout=120,
        env=_env(),
    )
    return proc.stdout
