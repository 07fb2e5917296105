"""Generators: stages that derive objects from the compiled fleet (services, load balancers,
Flux wiring, DNS). Each is a module with ``generate(comp)``; the order here is the order they
run in, and a generator that wires bundles together (Flux) runs last."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fleetc.sections.flux import section as flux
from fleetc.sections.metallb import section as metallb
from fleetc.sections.services import section as services

if TYPE_CHECKING:
    from fleetc.pipeline import Compilation

Generator = Callable[["Compilation"], None]

GENERATORS: list[Generator] = [
    services.generate,
    metallb.generate,
    flux.generate,  # last: wires the bundles the generators above create
]
