"""fleetc: an offline GitOps compiler for Kubernetes fleets."""

from .diagnostics import Diagnostic, Diagnostics, Position, Severity
from .load import Inputs, load
from .pipeline import Options, Result, compile_fleet

__all__ = [
    "Diagnostic",
    "Diagnostics",
    "Inputs",
    "Options",
    "Position",
    "Result",
    "Severity",
    "compile_fleet",
    "load",
]
