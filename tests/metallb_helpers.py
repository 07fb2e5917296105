"""Helpers for the MetalLB tests: small fleets written as YAML."""

from __future__ import annotations

import textwrap

from conftest import FleetDir
from fleetc.pipeline import Result


def indent(text: str, spaces: int) -> str:
    return textwrap.indent(textwrap.dedent(text).strip("\n"), " " * spaces)


def write_fleet(fleet_dir: FleetDir, section: str, *, install_provided: bool = True) -> None:
    """fleet.yaml with ``spec.loadBalancers`` = ``section`` (YAML), and a placeholder hub.

    ``install_provided`` declares the MetalLB install Kustomization as applied outside the
    fleet (the tests of that rule turn it off)."""
    provided = "\ninstallProvided: true" if install_provided else ""
    fleet_dir.write(
        "fleet.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Fleet\nmetadata:\n  name: lb\nspec:\n"
        "  loadBalancers:\n" + indent(textwrap.dedent(section).strip("\n") + provided, 4) + "\n",
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
