"""Hub MetalLB objects placed next to fleetc's pools are untrusted: whatever their spec holds,
the overlap check answers with a diagnostic at the hub file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO

from compiler.diagnostics import Diagnostics
from compiler.load import load
from compiler.pipeline import compile_fleet

PLACEMENT = """\
  placements:
    - name: pools
      resourceSelectors: [{group: "", version: v1, kind: Namespace, name: metallb-system}]
      policy: {placementType: PickAll}
"""
POOL = """\
apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: extra, namespace: metallb-system}
"""


@pytest.mark.parametrize("spec", ['spec: "x"', "spec: [1]", "spec: {addresses: 5}"])
def test_a_placed_pool_with_a_malformed_spec_is_an_error_at_its_file(tmp_path: Path, spec: str):
    root = tmp_path / "fleet"
    shutil.copytree(REPO / "examples" / "arc-metallb", root)
    with (root / "fleet.yaml").open("a") as fleet:
        fleet.write(PLACEMENT)
    (root / "hub" / "pool.yaml").write_text(POOL + spec + "\n")
    diags = Diagnostics()
    result = compile_fleet(load(root / "fleet.yaml", diags))
    errors = [d.format() for d in result.diagnostics.errors]
    assert errors[-1:] == [
        "hub/pool.yaml:5:1: error: IPAddressPool 'extra': spec.addresses must be a list of "
        "addresses"
    ]
