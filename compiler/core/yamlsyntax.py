"""YAML syntax errors in plain words: the likely cause, and the fix. Pure.

The parser's own words (``expected <block end>, but found '<block mapping start>'``) describe
its state, not the author's mistake. The common mistakes are few: a tab used to indent, a line
indented out of step with its siblings, a missing space after ``:``, an unclosed quote or
bracket. ``explain`` recognises them from the parser's problem and the lines around it.
"""

from __future__ import annotations

import re

from ruamel.yaml.error import MarkedYAMLError

_KEY_WITHOUT_SPACE = re.compile(r"^\s*(-\s+)?[^\s:#'\"][^\s:]*:[^\s:/]")


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _previous(lines: list[str], index: int) -> int | None:
    """The index of the nearest non-blank, non-comment line before ``index``."""
    for i in range(index - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            return i
    return None


def explain(exc: MarkedYAMLError, text: str) -> tuple[str, str | None, tuple[int, int] | None]:
    """The message, a hint, and a better position (1-based line, column) when the cause sits
    elsewhere than where the parser stopped (None: keep the parser's)."""
    problem = str(exc.problem or exc.context or "invalid YAML")
    context = str(exc.context or "")
    mark = exc.problem_mark or exc.context_mark
    lines = _lines(text)
    row = mark.line if mark else 0
    line = lines[row] if row < len(lines) else ""

    if "'\\t'" in problem or "\t" in problem:
        return (
            "YAML syntax error: a tab indents this line; YAML indents with spaces only",
            "replace the tab with spaces (two per level, as the lines around it)",
            None,
        )
    if "quoted scalar" in context and exc.context_mark is not None:
        start = exc.context_mark
        return (
            "YAML syntax error: a quoted string is not closed",
            f"add the closing quote to the string that starts at line {start.line + 1}, "
            f"column {start.column + 1}",
            (start.line + 1, start.column + 1),
        )
    if ("flow sequence" in context or "flow mapping" in context) and exc.context_mark:
        start = exc.context_mark
        bracket = "]" if "sequence" in context else "}"
        return (
            f"YAML syntax error: a {'[' if bracket == ']' else '{'} ... {bracket} that starts at "
            f"line {start.line + 1} is not closed, or an item in it is not separated by ','",
            f"close it with {bracket!r} on the same logical value, or quote an item holding ': '",
            (start.line + 1, start.column + 1),
        )
    before = _previous(lines, row)
    if before is not None and _KEY_WITHOUT_SPACE.match(lines[before]):
        key = lines[before].strip().split(":", 1)[0].lstrip("- ")
        return (
            f"YAML syntax error: '{key}:' has no space after the colon, so YAML reads "
            f"{lines[before].strip()!r} as one plain string",
            f"write '{key}: ...' with a space after the colon",
            (before + 1, _indent(lines[before]) + 1),
        )
    if problem.startswith("mapping values are not allowed"):
        if before is not None and _indent(line) > _indent(lines[before]):
            return (
                "YAML syntax error: this line is indented further than the line above it, "
                "which already has a value",
                "line it up with its siblings above; only the value of a key that has none "
                "on its own line goes further in",
                (row + 1, _indent(line) + 1),
            )
        return (
            "YAML syntax error: ': ' inside a value starts a mapping where none may start",
            "quote the value ('a: b' in quotes) if the colon belongs to it",
            None,
        )
    if problem.startswith("expected <block end>") or "block mapping" in context:
        return (
            "YAML syntax error: this line's indentation does not match the lines above it",
            "indent it exactly as far as the sibling keys it belongs with (children go further "
            "in, siblings line up)",
            (row + 1, _indent(line) + 1),
        )
    return f"YAML syntax error: {problem}", None, None
