"""fleet.lock: decisions that must stay stable across renders, kept in git instead of etcd.

Each stage that needs memory owns one top-level section (``placements`` for the scheduler,
``addresses`` for load-balancer allocation, ...): it reads its section of the previous lock and
writes its section of the new one. Everything else about the file is handled here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from . import yamlout, yamlsource
from .diagnostics import Diagnostics
from .model import FLEET_API_VERSION
from .yamlsource import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES_PER_DOCUMENT, Budget, Document, Path

LOCK_FILE = "fleet.lock"
LOCK_KIND = "FleetLock"
HEADER = "# Written by 'fleetc render'. Commit it: it keeps placements and allocations stable.\n"


@dataclass
class Lock:
    sections: dict[str, Any] = field(default_factory=dict)
    doc: Document | None = None

    def section(self, name: str) -> Any:
        return self.sections.get(name)


def read(doc: Document | None, diags: Diagnostics) -> Lock:
    """The previous lock; a missing file is an empty lock (a first render)."""
    if doc is None:
        return Lock()
    data = doc.data
    if (
        not isinstance(data, dict)
        or data.get("apiVersion") != FLEET_API_VERSION
        or data.get("kind") != LOCK_KIND
    ):
        diags.error(
            f"{LOCK_FILE} is not a {LOCK_KIND} ({FLEET_API_VERSION})",
            doc.pos(),
            hint=f"delete {LOCK_FILE} to schedule every placement afresh",
        )
        return Lock()
    sections = {k: v for k, v in data.items() if k not in ("apiVersion", "kind")}
    return Lock(sections, doc)


def dump(lock: Lock) -> bytes:
    body = {"apiVersion": FLEET_API_VERSION, "kind": LOCK_KIND}
    body.update((name, lock.sections[name]) for name in sorted(lock.sections))
    return (HEADER + yamlout.dump(body)).encode("utf-8")


# -- reading --------------------------------------------------------------------------------
#
# fleet.lock arrives in pull requests, so it is read as untrusted input: through
# ``yamlsource.parse``, with its limits and positioned diagnostics. At 10,000 clusters that
# parser spends a noticeable part of a second on the file's ~100,000 lines, nearly all of them
# inside the literal blocks of picks. ``parse`` first tries a reader of exactly the YAML that
# ``dump`` writes (block mappings and sequences, plain and single-quoted scalars that can only
# be what they look like, ``{}``, ``[]``, literal blocks read whole); on the first thing it
# is not sure of, it leaves the whole file to ``yamlsource.parse``. What it accepts, it reads
# to the same data and the same positions ``yamlsource.parse`` gives, without diagnostics.

# Characters a plain scalar may consist of here: none is a YAML indicator where it can stand,
# and no ": " or " #" can form. The value must not look like anything but a string
# (``yamlout.needs_quotes``), unless it is one of the few non-strings read below.
_PLAIN = r"[A-Za-z0-9_./][A-Za-z0-9_./=+~-]*(?:[ :][A-Za-z0-9_./=+~-]+)*"
_QUOTED = r"'(?:[^'\n]|'')*'"
_LINE = re.compile(
    rf"(?P<indent> *)(?P<dash>- )?(?:(?P<key>{_PLAIN}|{_QUOTED}):(?: (?P<value>.+))?"
    rf"|(?P<item>.+))"
)
_SCALAR = re.compile(rf"(?P<plain>{_PLAIN})|(?P<quoted>{_QUOTED})|(?P<flow>\{{\}}|\[\])")
_INT = re.compile(r"0|-?[1-9][0-9]{0,17}")
_NULL_WORDS = frozenset({"null", "Null", "NULL"})
# Anything but printable characters and line feeds (tabs, carriage returns, other line breaks,
# control characters, a byte order mark) is left to the full parser.
_UNUSUAL_ASCII = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
_UNUSUAL = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


class _Unsure(Exception):
    """The fast reader met something it does not read exactly as the full parser does."""


def parse(text: str, file: str, diags: Diagnostics, budget: Budget | None = None) -> list[Document]:
    """fleet.lock's documents, as ``yamlsource.parse`` gives them (same data, positions and
    diagnostics), fast for a lock as ``dump`` writes it."""
    try:
        return [_Reader(text, file).document()]
    except _Unsure:
        return yamlsource.parse(text, file, diags, budget)


class _Reader:
    def __init__(self, text: str, file: str) -> None:
        if len(text) > MAX_FILE_BYTES or not text.endswith("\n"):
            raise _Unsure
        if (_UNUSUAL_ASCII if text.isascii() else _UNUSUAL).search(text):
            raise _Unsure
        self.text = text
        self.file = file
        self.pos = 0  # offset of the next line
        self.line = 0  # its number, from 1
        self.positions: dict[Path, tuple[int, int]] = {}
        self.nodes = 0
        self.current: re.Match[str] | None = None

    def document(self) -> Document:
        while self.text.startswith("#", self.pos):
            self._advance()
        first = self._peek()
        if first is None or first["indent"] or first["dash"] or first["key"] is None:
            raise _Unsure
        start = (self.line + 1, 1)
        data = self._mapping(0, (), 1)
        if self._peek() is not None:
            raise _Unsure
        self.positions[()] = start
        return Document(data, self.file, 0, self.positions)

    # Lines

    def _advance(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = end + 1
        self.line += 1
        self.current = None

    def _peek(self) -> re.Match[str] | None:
        """The next structural line, matched; None at the end of the text."""
        if self.current is None:
            if self.pos >= len(self.text):
                return None
            end = self.text.index("\n", self.pos)
            line = self.text[self.pos : end]
            if line.startswith(("---", "...")):
                raise _Unsure
            match = _LINE.fullmatch(line)
            if match is None:
                raise _Unsure
            self.current = match
        return self.current

    # Nodes

    def _count(self, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES_PER_DOCUMENT or depth > MAX_DEPTH:
            raise _Unsure

    def _mapping(self, indent: int, path: Path, depth: int, dashed: bool = False) -> dict:
        """A block mapping whose keys stand at column ``indent`` (the first after a "- " when
        ``dashed``)."""
        self._count(depth)
        result: dict[str, Any] = {}
        while True:
            match = self._peek()
            if match is None:
                break
            width = len(match["indent"]) + (2 if dashed and match["dash"] else 0)
            if dashed:
                if not match["dash"] or width != indent or match["key"] is None:
                    raise _Unsure
                dashed = False
            elif width != indent or match["dash"] or match["key"] is None:
                if width < indent or (width == indent and match["dash"]):
                    break
                raise _Unsure
            key = _key(match["key"])
            if key in result:
                raise _Unsure
            child = (*path, key)
            self.positions[child] = (self.line + 1, indent + 1)
            result[key] = self._value(match["value"], indent, child, depth + 1)
        return result

    def _value(self, text: str | None, indent: int, path: Path, depth: int) -> Any:
        """The value after "key:" on the current line (None: on the lines below)."""
        self._advance()
        if text is not None:
            if text in ("|", "|-"):
                return self._literal(indent, depth, keep_break=text == "|")
            return self._scalar(text, depth)
        below = self._peek()
        if below is None:
            raise _Unsure
        width = len(below["indent"])
        if width == indent and below["dash"]:
            return self._sequence(indent, path, depth)
        if width > indent and not below["dash"] and below["key"] is not None:
            return self._mapping(width, path, depth)
        if width > indent and below["dash"]:
            return self._sequence(width, path, depth)
        raise _Unsure

    def _sequence(self, indent: int, path: Path, depth: int) -> list:
        self._count(depth)
        items: list[Any] = []
        while True:
            match = self._peek()
            if match is None or len(match["indent"]) < indent:
                break
            if len(match["indent"]) != indent or not match["dash"]:
                if not match["dash"] and len(match["indent"]) == indent:
                    break  # the next key of the mapping around an indentless sequence
                raise _Unsure
            child = (*path, len(items))
            self.positions[child] = (self.line + 1, indent + 3)
            if match["key"] is not None:
                items.append(self._mapping(indent + 2, child, depth + 1, dashed=True))
            else:
                self._advance()
                items.append(self._scalar(match["item"], depth + 1))
        return items

    def _scalar(self, text: str, depth: int) -> Any:
        self._count(depth)
        match = _SCALAR.fullmatch(text)
        if match is None:
            raise _Unsure
        if match["quoted"]:
            return match["quoted"][1:-1].replace("''", "'")
        if match["flow"]:
            return {} if text == "{}" else []
        if not yamlout.needs_quotes(text):
            return text
        if text in ("true", "false"):
            return text == "true"
        if _INT.fullmatch(text):
            return int(text)
        raise _Unsure

    def _literal(self, indent: int, depth: int, keep_break: bool) -> str:
        """A literal block (``|`` or ``|-``) below a key at column ``indent``, read whole."""
        self._count(depth)
        width = 0
        while self.text.startswith(" ", self.pos + width):
            width += 1
        if width <= indent or self.text.startswith(("\n", " "), self.pos + width):
            raise _Unsure
        block = _block(width).match(self.text, self.pos)
        assert block is not None  # the first line has the block's indentation
        lines = block[0]
        self.pos = block.end()
        self.line += lines.count("\n")
        self.current = None
        content = lines[width:].replace("\n" + " " * width, "\n")
        return content if keep_break else content[:-1]


@functools.cache
def _block(width: int) -> re.Pattern[str]:
    """The lines of a literal block indented by ``width``."""
    return re.compile(rf"(?: {{{width}}}[^\n]+\n)+")


def _key(text: str) -> str:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in _NULL_WORDS:
        raise _Unsure
    return text
