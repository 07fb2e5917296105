"""Diagnostics for people, tools, code scanning and GitHub: text, json, sarif and github. Pure.

Positions are recorded relative to the fleet's folder (the one holding fleet.yaml); ``Where``
turns them into the paths a reader can open: relative to the current folder (clickable in a
terminal) or to the top of the git repository (what SARIF uploads and GitHub annotations need).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .diagnostics import Diagnostic, Position, Severity
from .escape import printable

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
JSON_VERSION = 1
INFORMATION_URI = "https://github.com/fleetc/fleetc"


@dataclass(frozen=True)
class Where:
    """How to write an input file's path: ``prefix`` joined to the fleet-relative path
    (``""`` leaves it as it is; ``"../fleet"`` or ``"fleets/prod"`` as computed by the shell)."""

    prefix: str = ""

    def path(self, file: str) -> str:
        file = file.split("#", 1)[0]  # generated objects name their source as file#field
        return posixpath.normpath(posixpath.join(self.prefix, file)) if self.prefix else file

    def position(self, pos: Position | None) -> Position | None:
        return None if pos is None else Position(self.path(pos.file), pos.line, pos.column)


def _severity(diag: Diagnostic, as_errors: bool) -> Severity:
    return Severity.ERROR if as_errors else diag.severity


def _placed(diag: Diagnostic, where: Where, as_errors: bool) -> Diagnostic:
    return Diagnostic(
        _severity(diag, as_errors),
        diag.message,
        where.position(diag.position),
        diag.path,
        diag.hint,
        diag.code,
    )


def text(diags: list[Diagnostic], where: Where, as_errors: bool = False) -> str:
    """``FILE:LINE:COL: error[CODE]: MESSAGE [at PATH]`` and an indented hint, then a count."""
    lines = [_placed(d, where, as_errors).format() for d in diags]
    errors = sum(1 for d in diags if _severity(d, as_errors) is Severity.ERROR)
    warnings = len(diags) - errors
    if diags:
        lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "".join(line + "\n" for line in lines)


def as_json(diags: list[Diagnostic], where: Where, as_errors: bool = False) -> str:
    items = []
    for diag in diags:
        pos = where.position(diag.position)
        items.append(
            {
                "severity": _severity(diag, as_errors).value,
                "code": diag.code or None,
                "message": diag.message,
                "file": pos.file if pos else None,
                "line": pos.line if pos and pos.line else None,
                "column": (pos.column or 1) if pos and pos.line else None,
                "path": diag.path or None,
                "hint": diag.hint,
            }
        )
    errors = sum(1 for i in items if i["severity"] == "error")
    document = {
        "version": JSON_VERSION,
        "errors": errors,
        "warnings": len(items) - errors,
        "diagnostics": items,
    }
    return json.dumps(document, indent=2) + "\n"


def sarif(
    diags: list[Diagnostic],
    where: Where,
    as_errors: bool = False,
    version: str = "",
    rules: dict[str, str] | None = None,
) -> str:
    """A SARIF 2.1.0 log with one run; lints are rules (``ruleId`` is their code)."""
    rules = rules or {}
    used = sorted({d.code for d in diags if d.code})
    driver: dict[str, Any] = {"name": "fleetc", "informationUri": INFORMATION_URI}
    if version:
        driver["version"] = version
    driver["rules"] = [
        {"id": code, "shortDescription": {"text": rules.get(code, code)}} for code in used
    ]
    results = []
    for diag in diags:
        text_ = diag.message + (f" (hint: {diag.hint})" if diag.hint else "")
        result: dict[str, Any] = {
            "level": _severity(diag, as_errors).value,
            "message": {"text": text_},
        }
        if diag.code:
            result["ruleId"] = diag.code
        pos = where.position(diag.position)
        if pos is not None and pos.file:
            location: dict[str, Any] = {"artifactLocation": {"uri": pos.file}}
            if pos.line:
                location["region"] = {"startLine": pos.line, "startColumn": pos.column or 1}
            results.append({**result, "locations": [{"physicalLocation": location}]})
        else:
            results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
    return json.dumps(log, indent=2) + "\n"


def _escape_data(value: str) -> str:
    value = printable(value)  # no raw ANSI or other control characters in the job log
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(diags: list[Diagnostic], where: Where, as_errors: bool = False) -> str:
    """GitHub Actions workflow commands: ``::error file=F,line=L,col=C,title=T::MESSAGE``, which
    GitHub shows inline on the pull request's diff."""
    lines = []
    for diag in diags:
        level = _severity(diag, as_errors).value
        pos = where.position(diag.position)
        props = []
        if pos is not None and pos.file:
            props.append(f"file={_escape_property(pos.file)}")
            if pos.line:
                props += [f"line={pos.line}", f"col={pos.column or 1}"]
        title = f"fleetc {diag.code}" if diag.code else "fleetc"
        props.append(f"title={_escape_property(title)}")
        message = diag.message
        if diag.path:
            message += f" [at {diag.path}]"
        if diag.hint:
            message += f"\nhint: {diag.hint}"
        lines.append(f"::{level} {','.join(props)}::{_escape_data(message)}")
    return "".join(line + "\n" for line in lines)


FORMATS = ("text", "json", "sarif", "github")


def render(
    form: str,
    diags: list[Diagnostic],
    where: Where,
    *,
    as_errors: bool = False,
    version: str = "",
    rules: dict[str, str] | None = None,
) -> str:
    """``diags`` in one of ``FORMATS``; ``as_errors`` reports warnings as errors (--strict)."""
    if form == "sarif":
        return sarif(diags, where, as_errors, version, rules)
    formatter: Callable[[list[Diagnostic], Where, bool], str] = {
        "text": text,
        "json": as_json,
        "github": github,
    }[form]
    return formatter(diags, where, as_errors)
