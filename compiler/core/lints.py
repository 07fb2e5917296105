"""Lints: valid input that is probably not what its author meant. Each has a stable code.

A lint is a warning (an error under ``--strict``) with a "did you mean" where one exists. It can
be silenced for one object with the annotation ``fleetc.io/ignore: CODE[,CODE...]``, or in
fleet.yaml with ``spec.lints.ignore`` (a code, optionally limited to files by glob, and the
reason), so that a silenced lint is always explained where the team reviews it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from .diagnostics import Diagnostic, Diagnostics, Position, Severity

IGNORE_ANNOTATION = "fleetc.io/ignore"

SELECTOR_LABEL = "FLEET001"
UNSELECTED_OBJECT = "FLEET002"
INEFFECTIVE_OVERRIDE = "FLEET003"
INEFFECTIVE_ENVELOPE_OR_TEMPLATE = "FLEET004"
SERVICE_SELECTS_NO_POD = "FLEET005"
UNKNOWN_TARGET_PORT = "FLEET006"
KEPT_BY_LOCK = "FLEET007"

DESCRIPTIONS = {
    SELECTOR_LABEL: "a selector names a label key or value that no inventory cluster has",
    UNSELECTED_OBJECT: "a hub object is selected by no placement",
    INEFFECTIVE_OVERRIDE: "an override, or one of its rules, changes nothing on any cluster",
    INEFFECTIVE_ENVELOPE_OR_TEMPLATE: "an envelope or template delivers nothing to any cluster",
    SERVICE_SELECTS_NO_POD: (
        "a Service's selector matches no pod template placed with it on the same clusters"
    ),
    UNKNOWN_TARGET_PORT: "a Service's named targetPort is not a port of any selected container",
    KEPT_BY_LOCK: (
        "a selected cluster no longer passes the placement's filters and is kept only by "
        "fleet.lock (KubeFleet's stickiness)"
    ),
}


@dataclass(frozen=True)
class Ignore:
    """One ``spec.lints.ignore`` entry: a code, the files it covers (all when empty)."""

    code: str
    files: tuple[str, ...] = ()

    def covers(self, diag: Diagnostic) -> bool:
        if diag.code != self.code:
            return False
        if not self.files:
            return True
        file = diag.position.file.split("#", 1)[0] if diag.position else ""
        return any(fnmatch.fnmatchcase(file, pattern) for pattern in self.files)


def ignored_codes(annotations: object) -> frozenset[str]:
    """The codes an object's ``fleetc.io/ignore`` annotation silences."""
    if not isinstance(annotations, dict):
        return frozenset()
    value = annotations.get(IGNORE_ANNOTATION)
    if not isinstance(value, str):
        return frozenset()
    return frozenset(code.strip() for code in value.split(",") if code.strip())


class Linter:
    """Collects lints, dropping those that are silenced."""

    def __init__(self, diags: Diagnostics, ignores: Iterable[Ignore] = ()) -> None:
        self.diags = diags
        self.ignores = tuple(ignores)

    def warn(
        self,
        code: str,
        message: str,
        position: Position | None,
        path: str = "",
        hint: str | None = None,
        silenced_by: frozenset[str] = frozenset(),
    ) -> None:
        """Report lint ``code`` unless the object (``silenced_by``) or fleet.yaml silences it."""
        diag = Diagnostic(Severity.WARNING, message, position, path, hint, code)
        if code in silenced_by or any(i.covers(diag) for i in self.ignores):
            return
        self.diags.items.append(diag)
