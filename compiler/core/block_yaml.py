"""Plain block YAML, read quickly; other text goes to ``yamlsource.parse``.

Most template output, and most inventory and hub files, are mappings of ``key: value`` lines
nested by indentation, with block sequences, one-line flow sequences of scalars
(``[a, "b"]``), and several documents separated by ``---`` lines. That subset is read here
with a regular expression per line (each distinct line once: lines repeat from cluster to
cluster) into the Documents ``yamlsource.parse`` would make. Other text (an empty document,
flow mappings or nested flow collections, multi-line, quoted-with-escapes or tagged scalars,
anchors, comments after a value, tabs, text that is not printable ASCII, anything invalid) is
not read here: ``documents`` returns None and the caller asks ``yamlsource``. Pure.
"""

from __future__ import annotations

import functools
import re
from typing import Any, NamedTuple

from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from .yamlsource import Document, Path

MAX_CHARS = 64 * 1024  # far under yamlsource's limits on nodes and expanded size
MAX_DEPTH = 32  # under yamlsource.MAX_DEPTH
_KEY = r"[A-Za-z0-9_][A-Za-z0-9_./-]*"
# A plain scalar on one line: no indicator first, no ': ', no '#', nothing trailing.
_PLAIN = r"(?:--?|\+)?[A-Za-z0-9_./(](?:[A-Za-z0-9_./()+=@,;~^$%*&!?<>'\"-]|:(?=[^ ])| (?=[^ ]))*"
_QUOTED = r"\"[ !#-\[\]-~]*\"|'[ -&(-~]*'"
# An item of a one-line flow sequence: quoted, or plain without flow indicators or colons.
_FLOW_ITEM = rf"{_QUOTED}|[A-Za-z0-9_./][A-Za-z0-9_./+-]*"
_FLOW = rf"\[(?:{_FLOW_ITEM})(?:, (?:{_FLOW_ITEM}))*\]"
_FLOW_PAIR = rf"{_KEY}: (?:{_FLOW_ITEM})"
_FLOW_MAP = rf"\{{{_FLOW_PAIR}(?:, {_FLOW_PAIR})*\}}"
_VALUE = rf"{_QUOTED}|\{{\}}|\[\]|{_FLOW}|{_FLOW_MAP}|{_PLAIN}"
_FLOW_ITEMS = re.compile(rf"(?:\[|, )({_FLOW_ITEM})")
_FLOW_PAIRS = re.compile(rf"(?:\{{|, )({_KEY}): ({_FLOW_ITEM})")
_DOCUMENT_START = "---"
_ENTRY = re.compile(rf"( *)(- )?({_KEY}):(?: ({_VALUE}))?")
_ITEM = re.compile(rf"( *)- ({_VALUE})")
_SKIPPED = re.compile(r" *(?:#.*)?")
_OUTSIDE_SUBSET = re.compile(r"[^\n -~]")
_NULL_KEYS = frozenset({"null", "Null", "NULL"})
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"[-+]?[0-9]{1,17}\.[0-9]{1,17}")
_CORE = "tag:yaml.org,2002:"


class _NotSimple(Exception):
    """The text is outside the subset."""


class _Line(NamedTuple):
    number: int  # 1-based, as in positions
    start: int  # the column of its first character (the dash of an item)
    column: int  # where the key, or the item's value, starts
    dash: int | None  # the column of a '- ' that opens a sequence item
    key: str | None
    value: Any  # a scalar, _EMPTY_MAPPING, _EMPTY_SEQUENCE or _NESTED


class _FlowSequence(NamedTuple):
    """A one-line flow sequence: its items' values and columns (0-based, in the line)."""

    items: tuple[Any, ...]
    columns: tuple[int, ...]


class _FlowMapping(NamedTuple):
    """A one-line flow mapping of scalars: its keys, values and the keys' columns."""

    keys: tuple[str, ...]
    items: tuple[Any, ...]
    columns: tuple[int, ...]


_NESTED = object()  # the value of a key with nothing after it on its line
_EMPTY_MAPPING = object()  # {}: a new dict for each occurrence
_EMPTY_SEQUENCE = object()  # []


def documents(text: str, file: str) -> list[Document] | None:
    """What ``yamlsource.parse`` reads from ``text`` (no diagnostics, no aliases), for text in
    the subset above; None for other text."""
    if len(text) > MAX_CHARS or _OUTSIDE_SUBSET.search(text):
        return None
    parts: list[list[_Line]] = [[]]
    opened = False  # a '---' before any content opens document 0
    for number, raw in enumerate(text.split("\n"), 1):
        if raw == _DOCUMENT_START:
            if parts[-1] or opened:
                parts.append([])
            opened = True
            continue
        shape = _shape(raw)
        if shape is None:
            return None
        if shape:
            parts[-1].append(_Line(number, *shape))
    found = []
    for index, lines in enumerate(parts):
        if not lines:
            return None  # an empty document: yamlsource skips it but counts it
        reader = _BlockReader(lines)
        try:
            data = reader.mapping(0, (), 0)
        except _NotSimple:
            return None
        reader.positions[()] = (lines[0].number, 1)
        found.append(Document(data, file, index, reader.positions))
    return found


@functools.lru_cache(maxsize=8192)
def _shape(raw: str) -> tuple[Any, ...] | None:
    """A line's start, column, dash, key and value: () for a blank line or a comment, None
    for a line outside the subset. Lines repeat from cluster to cluster: each is read once."""
    try:
        if (entry := _ENTRY.fullmatch(raw)) is not None:
            indent, dash, key, value = entry.groups()
            if key in _NULL_KEYS:
                return None
            start = len(indent)
            scalar = _NESTED if value is None else _value(value, entry.start(4))
            if dash:
                return (start, start + 2, start, key, scalar)
            return (start, start, None, key, scalar)
        if (item := _ITEM.fullmatch(raw)) is not None:
            indent, value = item.groups()
            return (len(indent), len(indent) + 2, len(indent), None, _value(value, item.start(2)))
    except _NotSimple:
        return None
    return () if _SKIPPED.fullmatch(raw) else None


def _value(text: str, column: int) -> Any:
    """A value starting at ``column`` of its line: a flow sequence or a scalar."""
    if text[0] == "[" and text != "[]":
        matches = list(_FLOW_ITEMS.finditer(text))
        return _FlowSequence(
            tuple(_scalar(m.group(1)) for m in matches),
            tuple(column + m.start(1) for m in matches),
        )
    if text[0] == "{" and text != "{}":
        matches = list(_FLOW_PAIRS.finditer(text))
        keys = tuple(m.group(1) for m in matches)
        if len(set(keys)) != len(keys) or _NULL_KEYS.intersection(keys):
            raise _NotSimple  # yamlsource reports a duplicate or null key
        return _FlowMapping(
            keys,
            tuple(_scalar(m.group(2)) for m in matches),
            tuple(column + m.start(1) for m in matches),
        )
    return _scalar(text)


def _scalar(text: str) -> Any:
    """A value as ``yamlsource`` converts it (YAML 1.2 tags); other notations are not simple."""
    if text[0] in "\"'":
        return text[1:-1]
    if text == "{}":
        return _EMPTY_MAPPING
    if text == "[]":
        return _EMPTY_SEQUENCE
    tag = _plain_tag(text)
    if tag in (_CORE + "str", _CORE + "timestamp"):
        return text
    if tag == _CORE + "int" and _INT.fullmatch(text):
        return int(text)
    if tag == _CORE + "float" and _FLOAT.fullmatch(text):
        return float(text)
    if tag == _CORE + "bool":
        return text.lower() == "true"
    if tag == _CORE + "null":
        return None
    raise _NotSimple


@functools.lru_cache(maxsize=4096)
def _plain_tag(text: str) -> str:
    """The tag YAML 1.2 resolves a plain scalar to (yamlsource always reads YAML 1.2)."""
    return str(_resolver().resolve(ScalarNode, text, (True, False)))


@functools.cache
def _resolver() -> VersionedResolver:
    return VersionedResolver(version=(1, 2))


class _BlockReader:
    """Block mappings and sequences, from the columns of their lines."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.at = 0
        self.positions: dict[Path, tuple[int, int]] = {}

    def mapping(self, column: int, path: Path, depth: int, item: bool = False) -> dict[str, Any]:
        """The mapping whose keys are at ``column``; for an ``item`` its first key follows
        the item's '- '. The root mapping (column 0) takes every line."""
        result: dict[str, Any] = {}
        first = item
        while self.at < len(self.lines):
            line = self.lines[self.at]
            if first:
                first = False
            elif line.start < column:
                break
            elif line.start > column or line.dash is not None:
                raise _NotSimple  # more indented than a sibling, or a sequence at the keys
            assert line.key is not None
            if line.key in result:
                raise _NotSimple  # a duplicate key: yamlsource.parse reports it
            self.at += 1
            child = (*path, line.key)
            self.positions[child] = (line.number, column + 1)
            result[line.key] = self._value(line, child, depth + 1)
        return result

    def sequence(self, dash: int, path: Path, depth: int) -> list[Any]:
        """The sequence whose '- ' are at column ``dash``."""
        items: list[Any] = []
        while self.at < len(self.lines):
            line = self.lines[self.at]
            if line.start < dash:
                break
            if line.dash != dash:
                raise _NotSimple
            child = (*path, len(items))
            self.positions[child] = (line.number, line.column + 1)
            if line.key is None:
                self.at += 1
                items.append(self._scalar(line, child))
            else:
                items.append(self.mapping(line.column, child, depth + 1, item=True))
        return items

    def _value(self, line: _Line, path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _NotSimple
        if line.value is not _NESTED:
            return self._scalar(line, path)
        below = self.lines[self.at] if self.at < len(self.lines) else None
        if below is None or below.start <= line.column:
            if below is not None and below.dash == line.column:
                raise _NotSimple  # a sequence at its key's column
            return None
        if below.dash is not None:
            return self.sequence(below.dash, path, depth)
        return self.mapping(below.column, path, depth)

    def _scalar(self, line: _Line, path: Path) -> Any:
        """The value on ``line`` (a flow sequence's items get their positions)."""
        value = line.value
        if isinstance(value, _FlowSequence):
            for index, column in enumerate(value.columns):
                self.positions[(*path, index)] = (line.number, column + 1)
        elif isinstance(value, _FlowMapping):
            for key, column in zip(value.keys, value.columns, strict=True):
                self.positions[(*path, key)] = (line.number, column + 1)
        return _fresh(value)


def _fresh(value: Any) -> Any:
    """A line's value, with a new {} or [] for each occurrence (documents own their data)."""
    if value is _EMPTY_MAPPING:
        return {}
    if value is _EMPTY_SEQUENCE:
        return []
    if isinstance(value, _FlowSequence):
        return list(value.items)
    if isinstance(value, _FlowMapping):
        return dict(zip(value.keys, value.items, strict=True))
    return value
