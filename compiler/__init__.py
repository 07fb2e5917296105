"""fleetc: an offline GitOps compiler for Kubernetes fleets."""

# The one place the version is written: pyproject.toml reads it (``dynamic``), ``fleetc
# --version`` prints it, CHANGELOG.md has a section for it, and releases are tagged v<it>.
__version__ = "0.2.0"

from fleetc.core.diagnostics import Diagnostic, Diagnostics, Position, Severity
from fleetc.core.inputs import Inputs
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
