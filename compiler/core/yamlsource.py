"""Parse untrusted YAML into plain data, keeping the position of every node.

ruamel.yaml only *composes* the node graph here; nothing is ever constructed from a tag, so no
input can instantiate an object. Conversion to plain Python is bounded: alias expansion, node
count and nesting depth have limits, and exceeding one is a diagnostic, not a hang.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver

from . import yamlsyntax as syntax
from .diagnostics import Diagnostics, Position
from .memo import NO_MEMO, Memo, fingerprint

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_DOCUMENTS_PER_FILE = 10_000
MAX_NODES_PER_DOCUMENT = 200_000
MAX_DEPTH = 64
# Nodes reached through aliases, over a whole run: bounds the work an alias bomb can cause in
# many small files (nodes written out are already bounded by the input size limits).
MAX_ALIAS_NODES_PER_RUN = 1_000_000
# Characters of text a document stands for once aliases are expanded (keys and scalars, an
# aliased scalar counted each time it is used): a 1 MiB scalar aliased 1,500 times is 1.5 GiB
# of output although it is a few nodes. Without aliases a document is at most MAX_FILE_BYTES.
MAX_EXPANDED_CHARS_PER_DOCUMENT = 16 * 1024 * 1024
# Characters reached through aliases over a whole run (many files, or a template's output on
# every cluster, each under the per-document limit).
MAX_ALIAS_CHARS_PER_RUN = 64 * 1024 * 1024
# Python refuses to parse longer integers (CVE-2020-10735); so does fleetc, with a diagnostic.
MAX_INT_DIGITS = 4000

_CORE = "tag:yaml.org,2002:"
_STANDARD_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq")}
_STRING_TAGS = {_CORE + "timestamp", _CORE + "str"}

Path = tuple[str | int, ...]


@dataclass
class Document:
    """One YAML document: plain data plus the (line, column) of each field path."""

    data: Any
    file: str
    index: int = 0
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict, repr=False)
    # For a part of another document (a List item): its path there, for field paths in
    # diagnostics that should name where in the file the field is.
    prefix: Path = ()

    def pos(self, path: Path = ()) -> Position:
        """Position of ``path``, or of its nearest ancestor that exists."""
        while path not in self.positions and path:
            path = path[:-1]
        line, column = self.positions.get(path, (0, 0))
        return Position(self.file, line, column)

    def sub_document(self, prefix: Path) -> Document:
        """The node at ``prefix`` as a document of its own that keeps its positions in this
        document's file (a List item, an envelope entry)."""
        positions = {
            path[len(prefix) :]: mark
            for path, mark in self.positions.items()
            if path[: len(prefix)] == prefix
        }
        data: Any = self.data
        for step in prefix:
            data = data[step]
        return Document(data, self.file, self.index, positions, (*self.prefix, *prefix))


@dataclass
class Budget:
    """Work shared by every file of one run (pass the same one to each ``parse``)."""

    alias_nodes: int = 0
    alias_chars: int = 0


class _Limit(Exception):
    def __init__(self, message: str, node: Node, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.hint = hint


class _Converter:
    def __init__(self, budget: Budget) -> None:
        self.count = 0
        self.chars = 0
        self.budget = budget
        self.seen: set[int] = set()
        self.positions: dict[Path, tuple[int, int]] = {}

    def _count(self, node: Node) -> None:
        """Charge ``node`` to the budgets: its characters, and a node reached again (through
        an alias) to the run's alias budgets."""
        chars = len(node.value) if isinstance(node, ScalarNode) else 0
        self.chars += chars
        if self.chars > MAX_EXPANDED_CHARS_PER_DOCUMENT:
            raise _Limit(
                f"document expands to more than {MAX_EXPANDED_CHARS_PER_DOCUMENT} characters "
                "(aliases are expanded; is this an alias bomb?)",
                node,
            )
        if id(node) in self.seen:
            self.budget.alias_nodes += 1
            self.budget.alias_chars += chars
            if self.budget.alias_nodes > MAX_ALIAS_NODES_PER_RUN:
                raise _Limit(
                    f"aliases expand to more than {MAX_ALIAS_NODES_PER_RUN} nodes in this run "
                    "(is this an alias bomb?)",
                    node,
                )
            if self.budget.alias_chars > MAX_ALIAS_CHARS_PER_RUN:
                raise _Limit(
                    f"aliases expand to more than {MAX_ALIAS_CHARS_PER_RUN} characters in this "
                    "run (is this an alias bomb?)",
                    node,
                )
        else:
            self.seen.add(id(node))

    def convert(self, node: Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES_PER_DOCUMENT:
            raise _Limit(
                f"document expands to more than {MAX_NODES_PER_DOCUMENT} nodes "
                "(aliases are expanded; is this an alias bomb?)",
                node,
            )
        self._count(node)
        if depth > MAX_DEPTH:
            raise _Limit(f"document is nested deeper than {MAX_DEPTH} levels", node)
        if node.tag and node.tag not in _STANDARD_TAGS and node.tag not in _STRING_TAGS:
            raise _Limit(
                f"YAML tag {node.tag!r} is not allowed (only plain data is accepted)", node
            )
        if isinstance(node, MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    raise _Limit("mapping keys must be plain scalars", key_node)
                if key_node.tag == _CORE + "merge":
                    raise _Limit("YAML merge keys ('<<') are not supported", key_node)
                _check_escapes(key_node)
                self._count(key_node)
                key = str(key_node.value)
                if key_node.tag == _CORE + "null":
                    raise _Limit("mapping keys must not be null", key_node)
                child = (*path, key)
                if key in result:
                    first = self.positions.get(child, (0, 0))[0]
                    raise _Limit(
                        f"duplicate key {key!r}",
                        key_node,
                        f"a key appears once in a mapping (first at line {first}): remove one, "
                        "or merge them",
                    )
                self.positions[child] = _mark(key_node)
                result[key] = self.convert(value_node, child, depth + 1)
            return result
        if isinstance(node, SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                child = (*path, i)
                self.positions[child] = _mark(item)
                items.append(self.convert(item, child, depth + 1))
            return items
        _check_escapes(node)
        try:
            return _scalar(node)
        except ValueError:
            # Never echo the value: it may be a secret.
            short = node.tag.removeprefix(_CORE)
            raise _Limit(f"cannot read this {short} value (unsupported notation)", node) from None


def _check_escapes(node: ScalarNode) -> None:
    """A double-quoted scalar can spell a lone surrogate (\\ud800), which is not Unicode and
    could never be written out."""
    if node.style == '"' and isinstance(node.value, str):
        try:
            node.value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Limit(
                "string holds an escaped lone surrogate (\\uD800-\\uDFFF), which is not Unicode",
                node,
            ) from None


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _scalar(node: ScalarNode) -> Any:
    tag, value = node.tag, node.value
    if tag == _CORE + "null":
        return None
    if tag == _CORE + "bool":
        # 'yes' and 'on' are booleans under a '%YAML 1.1' directive.
        return value.lower() in ("true", "yes", "on")
    if tag == _CORE + "int":
        text = value.replace("_", "")
        if len(text) > MAX_INT_DIGITS:
            raise ValueError("integer too long")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        base = {"0o": 8, "0x": 16, "0b": 2}.get(digits[:2].lower())
        if base:
            return sign * int(digits[2:], base)
        return sign * int(digits)
    if tag == _CORE + "float":
        text = value.replace("_", "").lower()
        if text.endswith(".inf"):
            return -math.inf if text.startswith("-") else math.inf
        if text.endswith(".nan"):
            return math.nan
        if len(text) > MAX_INT_DIGITS:
            raise ValueError("number too long")
        number = float(text)
        return (
            int(number) if number.is_integer() and "e" not in text and "." not in text else number
        )
    return str(value)


def decode(raw: bytes, file: str, diags: Diagnostics) -> str | None:
    """Bytes to text: UTF-8 (a BOM is accepted and dropped); anything else is a diagnostic."""
    if len(raw) > MAX_FILE_BYTES:
        diags.error(
            f"file is larger than the limit of {MAX_FILE_BYTES // (1024 * 1024)} MiB",
            Position(file),
        )
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        diags.error(
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            Position(file, line, column),
            hint="save the file as UTF-8",
        )
        return None
    return text.removeprefix("\ufeff")


def parse(text: str, file: str, diags: Diagnostics, budget: Budget | None = None) -> list[Document]:
    """All documents of ``text``; empty documents are skipped, problems go to ``diags``."""
    budget = budget if budget is not None else Budget()
    documents: list[Document] = []
    try:
        for index, node in enumerate(_compose_all(text)):
            if index >= MAX_DOCUMENTS_PER_FILE:
                diags.error(
                    f"file holds more than {MAX_DOCUMENTS_PER_FILE} YAML documents",
                    Position(file, *_mark(node)),
                )
                break
            if node is None:
                continue
            converter = _Converter(budget)
            try:
                data = converter.convert(node, (), 0)
            except _Limit as exc:
                diags.error(f"YAML: {exc.message}", Position(file, *_mark(exc.node)), hint=exc.hint)
                continue
            except RecursionError:
                diags.error(
                    f"YAML: document is nested deeper than {MAX_DEPTH} levels",
                    Position(file, *_mark(node)),
                )
                continue
            if data is None:
                continue
            converter.positions[()] = _mark(node)
            documents.append(Document(data, file, index, converter.positions))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        hint = None
        if isinstance(exc, MaxDepthExceededError):
            message = f"YAML: document is nested deeper than {MAX_DEPTH} levels"
        else:
            message, hint, moved = syntax.explain(exc, text)
            if moved is not None:
                line, column = moved
        diags.error(message, Position(file, line, column), hint=hint)
    except ReaderError as exc:
        # A character YAML does not allow (a control character such as NUL).
        offset = exc.position if isinstance(exc.position, int) else 0
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        diags.error(
            f"YAML does not allow the character U+{exc.character:04X} here"
            if isinstance(exc.character, int)
            else "YAML: unreadable character",
            Position(file, line, column),
            hint="remove control characters; quote or escape them as \\uXXXX in a string",
        )
    except (YAMLError, RecursionError) as exc:
        message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        diags.error(f"YAML syntax error: {message}", Position(file, 1, 1))
    return documents


# -- parsed documents, remembered across runs (core.memo) ----------------------------------

DOCUMENT_TABLE = "document"


def parse_remembered(
    text: str, file: str, diags: Diagnostics, budget: Budget, memo: Memo = NO_MEMO
) -> list[Document]:
    """``parse``, or what it gave for the same file name and text in an earlier run.

    Only a parse without diagnostics is kept, with what it charged to the run's alias budget:
    recalled, it is charged again, and a file that would now run over the budget is parsed
    (for the diagnostic) instead. The value is a JSON text, so no later stage can change the
    remembered data through the documents handed out."""
    if memo is NO_MEMO:
        return parse(text, file, diags, budget)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    key = fingerprint(f"{DOCUMENT_TABLE}-1", file, digest, _limits())
    value = memo.recall(DOCUMENT_TABLE, key)
    if value is not None:
        recalled = _recall(value, file)
        if recalled is None:
            memo.forget(DOCUMENT_TABLE, key)
        elif _charge(budget, recalled[0], recalled[1]):
            return recalled[2]
    before = (budget.alias_nodes, budget.alias_chars, len(diags.items))
    documents = parse(text, file, diags, budget)
    if len(diags.items) == before[2]:
        charged = (budget.alias_nodes - before[0], budget.alias_chars - before[1])
        memo.keep(DOCUMENT_TABLE, key, _remember(documents, *charged))
    return documents


def _limits() -> list[int]:
    """Every limit ``parse`` reads (read at each call: tests lower them)."""
    return [
        MAX_DOCUMENTS_PER_FILE,
        MAX_NODES_PER_DOCUMENT,
        MAX_DEPTH,
        MAX_ALIAS_NODES_PER_RUN,
        MAX_EXPANDED_CHARS_PER_DOCUMENT,
        MAX_ALIAS_CHARS_PER_RUN,
        MAX_INT_DIGITS,
        C_COMPOSER_NESTING_BOUND,
    ]


def _charge(budget: Budget, nodes: int, chars: int) -> bool:
    """Charge a recalled file's alias work, unless it would run over a limit."""
    if (
        budget.alias_nodes + nodes > MAX_ALIAS_NODES_PER_RUN
        or budget.alias_chars + chars > MAX_ALIAS_CHARS_PER_RUN
    ):
        return False
    budget.alias_nodes += nodes
    budget.alias_chars += chars
    return True


def _remember(documents: list[Document], nodes: int, chars: int) -> str:
    """Documents as JSON: each one's index, data and the marks of its positions, in the
    order ``parse`` records them (every field path in document order, then the root)."""
    entries = [
        [doc.index, doc.data, [n for mark in doc.positions.values() for n in mark]]
        for doc in documents
    ]
    return json.dumps([nodes, chars, entries], separators=(",", ":"))


def _recall(value: Any, file: str) -> tuple[int, int, list[Document]] | None:
    """What ``_remember`` wrote, or None when ``value`` does not have that shape."""
    try:
        nodes, chars, entries = json.loads(value)
        documents = [_document(file, *entry) for entry in entries]
    except (TypeError, ValueError):
        return None
    if not isinstance(nodes, int) or not isinstance(chars, int) or None in documents:
        return None
    return nodes, chars, documents  # type: ignore[return-value]


def _document(file: str, index: int, data: Any, marks: list[int]) -> Document | None:
    paths = _paths(data, ())
    paths.append(())
    if (
        not isinstance(index, int)
        or len(marks) != 2 * len(paths)
        or not all(type(n) is int for n in marks)
    ):
        return None
    positions = {path: (marks[2 * i], marks[2 * i + 1]) for i, path in enumerate(paths)}
    return Document(data, file, index, positions)


def _paths(data: Any, path: Path) -> list[Path]:
    """Every field path below ``data``, in document order (the order ``parse`` met them)."""
    found: list[Path] = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for step, child in items:
        below = (*path, step)
        found.append(below)
        if isinstance(child, dict | list):
            found += _paths(child, below)
    return found


class _Yaml12Resolver(VersionedResolver):
    """YAML 1.2 always (a %YAML directive does not change it), without the per-scalar
    version lookup that dominates composing a large inventory."""

    _implicit: Any = None

    @property
    def processing_version(self) -> tuple[int, int]:
        return (1, 2)

    @property
    def versioned_resolver(self) -> Any:
        # Built once per process, not once per composed file.
        if _Yaml12Resolver._implicit is None:
            _Yaml12Resolver._implicit = VersionedResolver.versioned_resolver.fget(self)  # type: ignore[attr-defined]
        return _Yaml12Resolver._implicit


class _Composer(Composer):
    """Reusing an anchor name is valid YAML (the later one wins): no Python warning for it."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader=loader)
        self.warn_double_anchors = False


# libyaml's composer (ruamel.yaml.clib) recurses in C with no depth limit and overflows the
# stack somewhere past 20,000 levels. It is used only when a cheap upper bound of the text's
# nesting stays far below that; other text takes the pure-Python composer, which stops
# cleanly at MAX_DEPTH.
C_COMPOSER_NESTING_BOUND = 5_000


def _nesting_bound(text: str) -> int:
    """An upper bound of the nesting depth: every flow opener, plus, per line, three levels per
    column of indentation (a mapping, an indentless sequence, a compact collection) and the
    block indicators that open a collection on the line itself."""
    flow = text.count("[") + text.count("{")
    if flow >= C_COMPOSER_NESTING_BOUND:
        return flow
    block = max(
        (
            3 * (len(line) - len(line.lstrip()) + 1)
            + line.count("- ")
            + line.count(": ")
            + line.count("? ")
            for line in text.splitlines()
        ),
        default=0,
    )
    return flow + block


def _pure_composer() -> YAML:
    """A new pure-Python composer each time: after a depth error it keeps stale state."""
    yaml = YAML(typ="rt", pure=True)
    yaml.Composer = _Composer
    # ruamel's composer recurses once per level: stop it early with a clean error.
    yaml.max_depth = MAX_DEPTH + 1
    yaml.Resolver = _Yaml12Resolver
    return yaml


@functools.cache
def _fast_composer() -> YAML:
    """libyaml where installed; one instance, reused: building one costs more than composing a
    small file."""
    yaml = YAML(typ="safe")
    yaml.Resolver = _Yaml12Resolver
    return yaml


def _compose_all(text: str) -> list[Node | None]:
    if _nesting_bound(text) < C_COMPOSER_NESTING_BOUND:
        try:
            return list(_fast_composer().compose_all(io.StringIO(text)))
        except (YAMLError, UnicodeError):
            pass  # the pure-Python composer below gives the authoritative answer and message
    return list(_pure_composer().compose_all(io.StringIO(text)))
