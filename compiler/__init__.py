"""fleetc: an offline GitOps compiler for Kubernetes fleets."""

from fleetc.core.diagnostics import Diagnostic, Diagnostics, Position, Severity
from fleetc.core.inputs import Inputs
from fleetc.core.version import __version__
from fleetc.pipeline import Options, Result, compile_fleet
from fleetc.shell.load import load

__all__ = [
    "Diagnostic",
    "Diagnostics",
    "Inputs",
    "Options",
    "Position",
    "Result",
    "Severity",
    "__version__",
    "compile_fleet",
    "load",
]
