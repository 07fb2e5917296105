"""The transition checks (``views/transitions``) as diagnostics: the shell side.

Reads the ``--crds`` folders and turns each finding into a diagnostic that points into the new
output (``rendered/<cluster>/...``, line and column of the field, as ``render`` writes it).
"""

from __future__ import annotations

from pathlib import Path

from ..core.diagnostics import Diagnostics, Position, field_path
from ..core.yamlsource import parse
from ..views import transitions
from . import validate_rendered


def check(
    old: dict[str, bytes],
    new: dict[str, bytes],
    crd_folders: list[Path],
    output: str,
    diags: Diagnostics,
) -> list[transitions.Finding]:
    """Findings between two output trees (relative to the output folder, shown as ``output``);
    each is also added to ``diags``: an error, or a warning for a rule not checked."""
    crds = validate_rendered.read_crds(crd_folders, diags).schemas
    findings = transitions.check(old, new, crds)
    for finding in findings:
        position = _position(finding, new, f"{output.rstrip('/')}/{finding.file}")
        message = finding.summary()
        where = field_path(finding.field)
        if finding.severity == transitions.ERROR:
            diags.error(message, position, where, hint=finding.hint)
        else:
            diags.warning(message, position, where, hint=finding.hint)
    return findings


def _position(finding: transitions.Finding, files: dict[str, bytes], shown: str) -> Position:
    raw = files.get(finding.file)
    if raw is None:
        return Position(shown)
    docs = parse(raw.decode("utf-8", errors="replace"), shown, Diagnostics())
    return docs[0].pos(finding.field) if docs else Position(shown)
