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
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from .writer import scratch_dir

# Regular files only: links (120000) and submodules (160000) are never output files.
_REGULAR_MODES = ("100644", "100755")


def blob_id(data: bytes) -> str:
    """The id git gives a blob of ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


_ATTRIBUTES = ("text", "eol", "filter", "ident", "working-tree-encoding")


class IndexQuery:
    """git's answers about every tracked file below a folder, asked for when this is made and
    read by ``clean_blobs``: made before the compile, git works on the other core meanwhile.

    Three questions, each answered by git into a temporary file: the index's entries
    (``ls-files -s``), the files whose working copy no longer matches them (``diff-files``,
    which stats every file and writes nothing), and each file's conversion attributes
    (``check-attr``, fed by ``ls-files``). Every path is relative to the folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(os.path.realpath(folder))
        self._procs: list[subprocess.Popen[bytes]] = []
        self._files = ExitStack()  # git's answers, temporary files
        self._answers: tuple[IO[bytes], ...] = ()
        self._read_answers: tuple[bytes, bytes, bytes] | None = None
        self._failed = scratch_dir(self.folder) == self.folder  # not in a git repository
        if not self._failed:
            try:
                self._ask()
            except OSError:
                self._failed = True

    def _ask(self) -> None:
        staged = self._start(["ls-files", "-s", "-z", "--", "."])
        dirty = self._start(["diff-files", "--name-only", "-z", "--relative", "--", "."])
        names = subprocess.Popen(
            ["git", "ls-files", "-z", "--", "."],
            cwd=self.folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        self._procs.append(names)
        attributes = self._start(["check-attr", "-z", "--stdin", *_ATTRIBUTES], stdin=names.stdout)
        assert names.stdout is not None
        names.stdout.close()  # check-attr holds the pipe's reading end now
        self._answers = (staged, dirty, attributes)

    def _start(self, args: list[str], stdin: IO[bytes] | None = None) -> IO[bytes]:
        # Outlives this call (git writes it while the fleet compiles): ``_files`` closes it.
        answer = self._files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        self._procs.append(
            subprocess.Popen(
                ["git", *args],
                cwd=self.folder,
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=answer,
                stderr=subprocess.DEVNULL,
                env=_env(),
            )
        )
        return answer

    def close(self) -> None:
        """Wait for git (a few seconds at most, at any fleet size)."""
        for proc in self._procs:
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._failed = True
            if proc.returncode != 0:
                self._failed = True
        self._procs = []

    def clean_blobs(self, output: Path) -> dict[str, str]:
        """Relative path below ``output`` -> blob id, for every tracked file there whose
        working copy git vouches for; empty when git failed. An ``output`` outside the folder
        is asked about afresh."""
        output = Path(os.path.realpath(output))
        prefix = os.path.relpath(output, self.folder).replace(os.sep, "/")
        if prefix == ".." or prefix.startswith("../"):
            return IndexQuery(output).clean_blobs(output)
        prefix = "" if prefix == "." else prefix + "/"
        self.close()
        if self._failed or not output.is_dir():
            return {}
        if self._read_answers is None:
            staged, dirty, attributes = (self._read(answer) for answer in self._answers)
            self._read_answers = (staged, dirty, attributes)
            self._files.close()
        staged, dirty, attributes = self._read_answers
        if _git_config(self.folder, "core.autocrlf") == b"true":
            return {}
        modified = set(dirty.split(b"\0"))
        converted = _converted(attributes)
        encoded = prefix.encode("utf-8", "surrogateescape")
        found: dict[str, str] = {}
        for entry in staged.split(b"\0"):
            meta, _, path = entry.partition(b"\t")
            if not path.startswith(encoded) or path in modified or path in converted:
                continue
            parts = meta.split(b" ")
            # Stage 0 only: a file in a merge conflict is read.
            if len(parts) != 3 or parts[2] != b"0" or parts[0].decode() not in _REGULAR_MODES:
                continue
            found[path[len(encoded) :].decode("utf-8", "surrogateescape")] = parts[1].decode()
        return found

    @staticmethod
    def _read(answer: IO[bytes]) -> bytes:
        answer.seek(0)
        return answer.read()


def _converted(answer: bytes) -> set[bytes]:
    """The paths ``check-attr`` says checkout may convert: any attribute of ``_ATTRIBUTES``
    set, unset or given a value (its answer: path, attribute, value, NUL-separated)."""
    fields = answer.split(b"\0")
    return {fields[i] for i in range(0, len(fields) - 2, 3) if fields[i + 2] != b"unspecified"}


def _git_config(cwd: Path, name: str) -> bytes:
    proc = subprocess.run(["git", "config", "--get", name], cwd=cwd, capture_output=True)
    return proc.stdout.strip().lower()


def _env() -> dict[str, str]:
    return {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
