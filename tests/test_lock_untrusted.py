"""fleet.lock arrives by pull request: every stage validates the section it reads back, and a
malformed one is a diagnostic at fleet.lock, never a traceback nor a silent change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from fleetc.core.diagnostics import Diagnostics
from fleetc.pipeline import compile_fleet
from fleetc.shell.load import load

EXAMPLE = REPO / "examples" / "arc-metallb"


def compile_with_lock(tmp_path: Path, addresses: object):
    root = tmp_path / "fleet"
    shutil.copytree(EXAMPLE, root)
    lock = yaml.safe_load((root / "fleet.lock").read_text())
    lock["addresses"] = addresses
    (root / "fleet.lock").write_text(yaml.safe_dump(lock))
    diags = Diagnostics()
    result = compile_fleet(load(root / "fleet.yaml", diags))
    return [d for d in [*diags, *result.diagnostics] if d.severity.value == "error"]


def test_the_example_lock_is_valid(tmp_path: Path):
    assert (
        compile_with_lock(tmp_path, {"arc-local-1": {"lb1": ["192.168.50.100-192.168.50.120"]}})
        == []
    )


@pytest.mark.parametrize(
    ("addresses", "path"),
    [
        (5, "addresses"),
        (["x"], "addresses"),
        ({"arc-local-1": ["192.168.50.100"]}, "addresses.arc-local-1"),
        ({"arc-local-1": {"lb1": ["not-an-address"]}}, "addresses.arc-local-1.lb1"),
        ({"arc-local-1": {"lb1": "192.168.50.100-192.168.50.120"}}, "addresses.arc-local-1.lb1"),
        ({"arc-local-1": {"lb1": [{"a": 1}]}}, "addresses.arc-local-1.lb1"),
        ({"arc-local-1": {"lb1": ["10.0.0.9-10.0.0.1"]}}, "addresses.arc-local-1.lb1"),
    ],
)
def test_a_malformed_addresses_section_is_an_error_at_fleet_lock(
    tmp_path: Path, addresses: object, path: str
):
    errors = compile_with_lock(tmp_path, addresses)
    assert [(d.position.file, d.path) for d in errors] == [("fleet.lock", path)], errors
    assert errors[0].position.line >= 1
    assert "delete it to allocate afresh" in (errors[0].hint or "")
