"""Exported Services are untrusted hub objects: a port fleetc cannot merge is a diagnostic at
the Service, never a traceback (found by tests/test_fuzz.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO
from fleetc.core.diagnostics import Diagnostics
from fleetc.pipeline import compile_fleet
from fleetc.sections.services.rules import problem
from fleetc.shell.load import load


@pytest.mark.parametrize("target", [[], {}, True, 1.5])
def test_a_target_port_that_is_neither_number_nor_name_is_a_problem(target):
    service = {"spec": {"ports": [{"port": 80, "targetPort": target}]}}
    assert problem(service) == "spec.ports[0].targetPort is not a port number or name"


@pytest.mark.parametrize("target", [8080, "http", None])
def test_a_target_port_number_or_name_is_fine(target):
    assert problem({"spec": {"ports": [{"port": 80, "targetPort": target}]}}) is None


def test_an_exported_service_with_a_list_target_port_is_an_error_not_a_crash(tmp_path: Path):
    root = tmp_path / "fleet"
    shutil.copytree(REPO / "examples" / "azure-fleet-l4", root)
    hub = root / "hub" / "kuard-demo.yaml"
    text = hub.read_text()
    assert text.count("targetPort: 8080") == 2
    hub.write_text(text.replace("targetPort: 8080", "targetPort: []"))
    diags = Diagnostics()
    result = compile_fleet(load(root / "fleet.yaml", diags))
    errors = [d.format() for d in result.diagnostics.errors]
    assert errors and all("targetPort is not a port number or name" in e for e in errors), errors
    assert all(e.startswith("hub/kuard-demo.yaml:") for e in errors), errors
