"""Diagnostics: every user error is a value with a position, collected rather than raised."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .escape import printable


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Position:
    """A place in an input file; ``line`` and ``column`` are 1-based (0 means unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column or 1}"
        return self.file


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    message: str
    position: Position | None = None
    path: str = ""
    hint: str | None = None
    # A lint's stable code (``FLEET0xx``, see ``lints``); "" for plain errors.
    code: str = ""

    def sort_key(self) -> tuple:
        pos = self.position or Position("")
        return (pos.file, pos.line, pos.column, self.severity.value, self.message)

    def format(self) -> str:
        where = f"{self.position}: " if self.position else ""
        label = f"{self.severity.value}[{self.code}]" if self.code else self.severity.value
        text = f"{where}{label}: {self.message}"
        if self.path:
            text += f" [at {self.path}]"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return printable(text)  # names in messages may come from a pull request


@dataclass
class Diagnostics:
    """A sink that stages append to; ``has_errors`` decides whether anything may be written."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(
        self,
        message: str,
        position: Position | None = None,
        path: str = "",
        hint: str | None = None,
        code: str = "",
    ) -> None:
        self.items.append(Diagnostic(Severity.ERROR, message, position, path, hint, code))

    def warning(
        self,
        message: str,
        position: Position | None = None,
        path: str = "",
        hint: str | None = None,
        code: str = "",
    ) -> None:
        self.items.append(Diagnostic(Severity.WARNING, message, position, path, hint, code))

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.WARNING]

    def sorted(self) -> list[Diagnostic]:
        """Unique diagnostics in file/line order, so output is stable."""
        seen: set[Diagnostic] = set()
        unique = [d for d in self.items if not (d in seen or seen.add(d))]
        return sorted(unique, key=Diagnostic.sort_key)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean ...?' hint for a misspelt name, or None."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def suggest(word: str, choices: Iterable[str], what: str = "known") -> str:
    """A "did you mean" when a choice is close, else the choices themselves (a few of them)."""
    close = did_you_mean(word, choices)
    if close:
        return close
    names = sorted(choices)
    if not names:
        return f"there are none ({what})"
    shown = ", ".join(repr(n) for n in names[:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return f"{what}: {shown}{more}"


def field_path(parts: Iterable[str | int]) -> str:
    """('spec', 'placements', 0, 'name') -> 'spec.placements[0].name'."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
