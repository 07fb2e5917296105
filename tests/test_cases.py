"""Data-driven fleets: every folder under tests/cases/ is compiled in memory and compared.

A case holds its inputs (fleet.yaml, clusters/, hub/, optional fleet.lock) and its expectations:
``expected/`` (the exact output tree), ``expected-fleet.lock`` (the exact new fleet.lock) and
``expected-diagnostics.txt`` (the exact diagnostics, as the CLI prints them). A missing
expectation means "nothing": no output, no lock, no diagnostics. An optional ``flags`` file
lists compile options, one a line (``strict``, ``reschedule=<placement>``).

``FLEETC_UPDATE_CASES=1 pytest tests/test_cases.py`` rewrites the expectations from the
compiler's current behaviour; review the diff before committing it (tests/cases/README.md).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from builder import FleetBuilder, messages

CASES = Path(__file__).parent / "cases"
EXPECTED = "expected"
EXPECTED_LOCK = "expected-fleet.lock"
EXPECTED_DIAGNOSTICS = "expected-diagnostics.txt"
FLAGS = "flags"
NOT_INPUTS = (EXPECTED, EXPECTED_LOCK, EXPECTED_DIAGNOSTICS, FLAGS, "README.md")
UPDATE = os.environ.get("FLEETC_UPDATE_CASES") == "1"


def _options(case: Path) -> dict:
    options: dict = {}
    flags = case / FLAGS
    lines = flags.read_text(encoding="utf-8").split() if flags.is_file() else []
    for line in lines:
        name, _, value = line.partition("=")
        if name == "strict" and not value:
            options["strict"] = True
        elif name == "reschedule" and value:
            options["reschedule"] = options.get("reschedule", frozenset()) | {value}
        else:
            raise ValueError(f"{flags}: unknown flag {line!r}")
    return options


def _tree(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.is_file() else b""


def _write(path: Path, data: bytes) -> None:
    if data:
        path.write_bytes(data)
    elif path.exists():
        path.unlink()


def _update(case: Path, files: dict[str, bytes], lock: bytes, diagnostics: bytes) -> None:
    shutil.rmtree(case / EXPECTED, ignore_errors=True)
    for rel, data in files.items():
        (case / EXPECTED / rel).parent.mkdir(parents=True, exist_ok=True)
        (case / EXPECTED / rel).write_bytes(data)
    _write(case / EXPECTED_LOCK, lock)
    _write(case / EXPECTED_DIAGNOSTICS, diagnostics)


def compile_case(case: Path) -> tuple[dict[str, bytes], bytes, bytes]:
    """The output tree, the new lock and the formatted diagnostics of one case."""
    fleet = FleetBuilder.from_folder(case, skip=NOT_INPUTS)
    result = fleet.compile(**_options(case))
    text = "".join(f"{line}\n" for line in messages(result))
    return result.files, result.lock, text.encode("utf-8")


@pytest.mark.parametrize(
    "case", sorted(p for p in CASES.iterdir() if p.is_dir()), ids=lambda p: p.name
)
def test_case(case: Path) -> None:
    files, lock, diagnostics = compile_case(case)
    if UPDATE:
        _update(case, files, lock, diagnostics)
    assert diagnostics.decode() == _read(case / EXPECTED_DIAGNOSTICS).decode()
    assert sorted(files) == sorted(_tree(case / EXPECTED))
    for rel, data in files.items():
        assert data.decode() == (case / EXPECTED / rel).read_text(encoding="utf-8"), rel
    assert lock.decode() == _read(case / EXPECTED_LOCK).decode()
