"""Helpers for the MetalLB tests: small fleets, and the upstream CRD schemas (never copied)."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import REPO, SHARED_CRDS, FleetDir

from compiler.pipeline import Result


def _crd_dir() -> Path | None:
    """conftest.SHARED_CRDS, or ``shared/crds`` beside an ancestor (git worktrees nest deeper)."""
    for crds in (SHARED_CRDS, *(base / "shared" / "crds" for base in REPO.parents)):
        if (crds / "metallb").is_dir():
            return crds / "metallb"
    return None


CRD_DIR = _crd_dir()


@functools.cache
def crd_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """(apiVersion, kind) -> a validator for the CRD's openAPIV3Schema of each served version."""
    if CRD_DIR is None:
        pytest.skip(f"the upstream MetalLB CRDs are not at {SHARED_CRDS / 'metallb'}")
    validators = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = version["schema"]["openAPIV3Schema"]
                validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(
                    schema
                )
    return validators


def crd_errors(body: dict) -> list[str]:
    validator = crd_validators().get((body["apiVersion"], body["kind"]))
    if validator is None:
        return [f"no served CRD version for {body['apiVersion']} {body['kind']}"]
    return [error.message for error in validator.iter_errors(body)]


def indent(text: str, spaces: int) -> str:
    return textwrap.indent(textwrap.dedent(text).strip("\n"), " " * spaces)


def write_fleet(fleet_dir: FleetDir, section: str) -> None:
    """fleet.yaml with ``spec.loadBalancers`` = ``section`` (YAML), and a placeholder hub."""
    fleet_dir.write(
        "fleet.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Fleet\nmetadata:\n  name: lb\nspec:\n"
        "  loadBalancers:\n" + indent(section, 4) + "\n",
    )
    fleet_dir.write(
        "hub/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: placeholder\n"
    )


def write_cluster(
    fleet_dir: FleetDir, name: str, metallb: str, labels: dict[str, str] | None = None
) -> None:
    fleet_dir.cluster(name, labels, spec="spec:\n  metallb:\n" + indent(metallb, 4) + "\n")


def errors(result: Result) -> list[str]:
    return [d.format() for d in result.diagnostics.errors]


def pool_addresses(result: Result) -> dict[tuple[str, str], list[str]]:
    """(cluster, pool) -> addresses, from the compiled objects."""
    assert result.compilation is not None
    return {
        (cluster, key.name): obj.body["spec"]["addresses"]
        for cluster, objects in result.compilation.clusters.items()
        for key, obj in objects.items()
        if key.kind == "IPAddressPool"
    }
