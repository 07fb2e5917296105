"""Shared fixtures: fleets built in temporary folders, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest
from builder import FleetBuilder, cluster_text
from click.testing import CliRunner
from fleetc.cli import main
from fleetc.pipeline import Options, Result
from fleetc.shell.compile import compile_file

REPO = Path(__file__).resolve().parent.parent


def find_crds() -> tuple[Path | None, str]:
    """The upstream CRD folder, and where it was looked for.

    ``FLEETC_CRDS`` names it when set (and then only it counts); otherwise ``shared/crds``
    beside the checkout or beside any folder above it (the main checkout and its worktrees).
    """
    named = os.environ.get("FLEETC_CRDS")
    if named:
        folder = Path(named)
        return (folder if folder.is_dir() else None), f"FLEETC_CRDS={named}"
    for folder in REPO.parents:
        if (folder / "shared" / "crds").is_dir():
            return folder / "shared" / "crds", ""
    return None, f"shared/crds beside {REPO} or any folder above it"


SHARED_CRDS, _CRDS_LOOKED_FOR = find_crds()
CRDS_MISSING = (
    "the upstream CRDs are not available (looked for "
    f"{_CRDS_LOOKED_FOR}); set FLEETC_CRDS to the folder holding them"
)


def require_crds() -> Path:
    """The upstream CRD folder; skips the calling test when it is absent."""
    if SHARED_CRDS is None:
        pytest.skip(CRDS_MISSING)
    return SHARED_CRDS


needs_crds = pytest.mark.skipif(SHARED_CRDS is None, reason=CRDS_MISSING)


class FleetDir:
    """A fleet repository in a temporary folder, written file by file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def remove(self, folder: str) -> None:
        """Delete ``folder`` and everything below it."""
        shutil.rmtree(self.root / folder, ignore_errors=True)

    def write_bytes(self, rel: str, data: bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def cluster(self, name: str, labels: dict[str, str] | None = None, **extra: str) -> Path:
        """A minimal Cluster file; ``extra`` values are appended as raw YAML (spec:, status:)."""
        return self.write_bytes(
            f"clusters/{name}.yaml", cluster_text(name, labels, **extra).encode()
        )

    def compile(self, **options: bool) -> Result:
        return compile_file(self.root / "fleet.yaml", Options(**options)).result

    def files(self, folder: str = "rendered") -> dict[str, bytes]:
        base = self.root / folder
        return {
            p.relative_to(base).as_posix(): p.read_bytes()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }


@pytest.fixture
def fleet_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FleetDir:
    # Diagnostics print paths relative to the current folder: work from the fleet's.
    monkeypatch.chdir(tmp_path)
    return FleetDir(tmp_path)


@pytest.fixture
def memory_fleet() -> FleetBuilder:
    """A fleet held in memory (the API of ``fleet_dir``, no folder): for stage tests."""
    return FleetBuilder()


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FleetDir:
    """A copy of the repository's own example fleet (the current folder while a test runs)."""
    monkeypatch.chdir(tmp_path)
    for name in ("fleet.yaml", "fleet.lock"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, tmp_path / name)
    for name in ("clusters", "hub", "rendered"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, tmp_path / name)
    return FleetDir(tmp_path)


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def run(cli: CliRunner, *args: str):
    return cli.invoke(main, list(args), catch_exceptions=False)
