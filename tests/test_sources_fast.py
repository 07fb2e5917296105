"""FileSource answers as its pathlib form did (kept here as the reference), on random trees
of folders, files and symbolic links (inside, outside, dangling, looping)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from fleetc.shell.sources import FileSource
from hypothesis import example, given, settings
from hypothesis import strategies as st


class PathlibSource:
    """FileSource as it was: every path a ``pathlib.Path``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))

    def _path(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    def resolve(self, rel: str) -> str | None:
        real = Path(os.path.realpath(self._path(rel)))
        if real == self.real_root:
            return ""
        if self.real_root in real.parents:
            return real.relative_to(self.real_root).as_posix()
        return None

    def is_dir(self, rel: str) -> bool:
        return self._path(rel).is_dir()

    def is_file(self, rel: str) -> bool:
        return self._path(rel).is_file()

    def read_bytes(self, rel: str, limit: int) -> bytes:
        with open(self._path(rel), "rb") as handle:
            return handle.read(limit)


NAMES = ["a", "b", "c.yaml"]
TARGETS = ["a", "b", "c.yaml", "a/b", "..", "../a", "../../outside", "/tmp", ".", "a/../b", "x"]
entries = st.lists(
    st.tuples(
        st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join),
        st.one_of(
            st.just(("folder", "")),
            st.binary(max_size=40).map(lambda data: ("file", data)),
            st.sampled_from(TARGETS).map(lambda target: ("link", target)),
        ),
    ),
    max_size=10,
)
QUERIES = (
    ["", ".", "..", "../fleet", "/tmp", "a/..", "a/../..", "x"]
    + ["/".join(parts) for parts in ((n,) for n in NAMES)]
    + [f"{a}/{b}" for a in NAMES for b in NAMES]
    + [f"{a}/{b}/{c}" for a in NAMES for b in NAMES for c in NAMES]
)


def _build(top: Path, tree: list[tuple[str, tuple[str, object]]]) -> Path:
    root = top / "fleet"
    root.mkdir()
    (top / "outside").write_bytes(b"secret")
    for rel, (kind, value) in tree:
        path = root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "folder":
                path.mkdir()
            elif kind == "file":
                path.write_bytes(value)
            else:
                path.symlink_to(value)
        except OSError:
            continue  # a name already taken, or below a file
    return root


def _answer(source: object, name: str, *args: object) -> tuple:
    try:
        return ("ok", getattr(source, name)(*args))
    except OSError as exc:
        return ("error", type(exc), exc.errno)


@settings(max_examples=150, deadline=None)
@given(entries)
@example(tree=[("a", ("link", "a/../b")), ("b/a", ("link", "b"))])  # a root that loops
def test_file_source_answers_as_pathlib_did(tree):
    top = Path(tempfile.mkdtemp())
    try:
        for root in (_build(top, tree), top / "fleet" / "a"):
            fast, reference = FileSource(root), PathlibSource(root)
            for rel in QUERIES:
                for name in ("resolve", "is_dir", "is_file"):
                    expected = _answer(reference, name, rel)
                    assert _answer(fast, name, rel) == expected, (name, rel)
                for limit in (1, 5, 40, 1 << 20):
                    expected = _answer(reference, "read_bytes", rel, limit)
                    assert _answer(fast, "read_bytes", rel, limit) == expected, (rel, limit)
    finally:
        shutil.rmtree(top)


def test_read_bytes_reads_past_the_size_a_file_had_when_opened(tmp_path, monkeypatch):
    """A file that grows while it is read (or reports no size) is still read to the limit."""
    (tmp_path / "f").write_bytes(b"0123456789")
    real_fstat = os.fstat
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((0,) * 6 + (3,) + (0,) * 3))
    assert FileSource(tmp_path).read_bytes("f", 8) == b"01234567"
    assert FileSource(tmp_path).read_bytes("f", 100) == b"0123456789"
    monkeypatch.setattr(os, "fstat", real_fstat)
