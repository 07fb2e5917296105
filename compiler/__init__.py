"""fleetc: an offline GitOps compiler for Kubernetes fleets."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core.diagnostics import Diagnostic, Diagnostics, Position, Severity
    from .core.inputs import Inputs
    from .core.version import __version__
    from .pipeline import Options, Result, compile_fleet
    from .shell.load import load

# Imported on first use (PEP 562), so that a command answered from the cache does not import
# the whole compiler.
_EXPORTS = {
    "Diagnostic": "fleetc.core.diagnostics",
    "Diagnostics": "fleetc.core.diagnostics",
    "Inputs": "fleetc.core.inputs",
    "Options": "fleetc.pipeline",
    "Position": "fleetc.core.diagnostics",
    "Result": "fleetc.pipeline",
    "Severity": "fleetc.core.diagnostics",
    "__version__": "fleetc.core.version",
    "compile_fleet": "fleetc.pipeline",
    "load": "fleetc.shell.load",
}

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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fleetc' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
