"""Serialise plain data to readable, byte-stable Kubernetes YAML.

Conventional key order at the top (apiVersion, kind, metadata, spec), source order below it,
block style, no aliases, strings quoted only where YAML needs it, multi-line strings as
literal blocks. libyaml's emitter is used when present, with identical output either way.

``dump_with_pyyaml`` defines the output. With libyaml, ``dump`` writes the plain data
Kubernetes objects are with a small emitter of its own, over ten times faster than PyYAML's
representer, which gives the same text; it hands anything it is not sure of to
``dump_with_pyyaml``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml

_WITH_LIBYAML = hasattr(yaml, "CSafeDumper")
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_TOP_ORDER = ("apiVersion", "kind", "metadata", "spec")
_METADATA_ORDER = ("name", "namespace", "labels", "annotations")


class _Dumper(_Dumper):  # type: ignore[misc,valid-type]
    def ignore_aliases(self, data: Any) -> bool:
        return True


# Plain scalars that some reader of the output takes for something other than a string. The
# emitter already quotes what its own (YAML 1.1) resolver would read otherwise; these are the
# rest: YAML 1.1 words PyYAML leaves out (y, n), YAML 1.2 numbers (0o17, 1e3, .inf), and Go's
# number syntax (strconv.ParseInt base 0 and ParseFloat, as in go-yaml, which sigs.k8s.io/yaml
# and kustomize use): 08, 1_000, 0x1F, 1234e5, inf, nan, +1. Quoting is always safe, so the
# test is deliberately broad: anything shaped like a number in any of them.
_WORDS = frozenset(
    {"y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", "", "=", "<<"}
)
_SPECIAL_FLOATS = frozenset({"inf", "infinity", "nan", ".inf", ".nan"})
_NUMBER_START = re.compile(r"[-+]?\.?[0-9_]")
_NUMBER_SHAPES = re.compile(
    r"""[-+]?(?:
        [0-9]+                                      # decimal, or a leading-zero octal / 08
      | 0x[0-9a-f]+ | 0o[0-7]+ | 0b[01]+             # Go and YAML 1.2 prefixes
      | 0x[0-9a-f]*\.?[0-9a-f]*p[-+]?[0-9]+          # Go hexadecimal floats
      | [0-9]+(?::[0-5]?[0-9])+(?:\.[0-9]*)?         # YAML 1.1 sexagesimal
    )""",
    re.VERBOSE,
)


def needs_quotes(value: str) -> bool:
    """Whether a YAML 1.1, YAML 1.2 or Go reader could read plain ``value`` as a non-string."""
    lowered = value.lower()
    if lowered in _WORDS or lowered.lstrip("+-") in _SPECIAL_FLOATS:
        return True
    if not _NUMBER_START.match(lowered):
        return False
    digits = lowered.replace("_", "")
    if digits.lstrip("+-") in ("", ".") or _NUMBER_SHAPES.fullmatch(digits):
        return True  # YAML 1.2 readers take '_' and '-_' for (broken) numbers too
    try:
        float(digits)  # 1e3, .5, 5., 1234e5 (Python's syntax covers Go's and YAML's)
    except ValueError:
        return False
    return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and _literal_safe(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if needs_quotes(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _literal_safe(value: str) -> bool:
    """Literal blocks cannot carry trailing spaces on a line or most control characters."""
    return not any(line.endswith((" ", "\t")) for line in value.split("\n")) and all(
        ch in "\n\t" or ch >= " " for ch in value
    )


_Dumper.add_representer(str, _represent_str)


def ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """A Kubernetes object with its top-level and metadata keys in conventional order."""
    out = {k: obj[k] for k in _TOP_ORDER if k in obj}
    out.update(obj)  # the keys already there keep their place
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        meta = {k: metadata[k] for k in _METADATA_ORDER if k in metadata}
        meta.update(metadata)
        out["metadata"] = meta
    return out


def dump(data: Any) -> str:
    """One YAML document, without a leading '---'."""
    text = _fast_dump(data) if _WITH_LIBYAML else None
    return dump_with_pyyaml(data) if text is None else text


def dump_with_pyyaml(data: Any) -> str:
    """What ``dump`` gives, written by PyYAML's representer and emitter."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=1_000_000,
        indent=2,
    )


def dump_object(obj: dict[str, Any]) -> bytes:
    return dump(ordered(obj)).encode("utf-8")


# The fast emitter. It writes what libyaml's emitter writes for block-style plain data, in the
# same layout: two-space mappings, sequences not indented inside a mapping, "{}" and "[]" for
# empty collections. Every string is written by ``_inline`` or ``_literal`` below, or the whole
# document goes to PyYAML.


class _Unsure(Exception):
    """The fast emitter does not know for certain what PyYAML would write."""


_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
# Plain for libyaml in block context: no indicator at the start, no ': ' or ' #', no leading
# or trailing space, nothing it escapes; whether a reader takes it for a string is decided
# after this, by the resolver and ``needs_quotes``.
_PLAIN_CHAR = "[A-Za-z0-9_./=+@%,-]"
_PLAIN = re.compile(
    rf"(?:[A-Za-z0-9_/]|-(?!--)(?={_PLAIN_CHAR})|\.(?!\.\.)(?={_PLAIN_CHAR}))"
    rf"(?:{_PLAIN_CHAR}|:(?={_PLAIN_CHAR})| (?=[A-Za-z0-9_/]))*"
)
# Characters libyaml writes as they are (printable, and not a line break): the rest are escaped.
_PRINTABLE = re.compile("[\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]*")
_BREAK_OR_SURROGATE = re.compile("[\n\r\x85\u2028\u2029\ud800-\udfff]")
# libyaml folds a line at a space past the width (1,000,000 columns); an escape takes at most
# ten columns per character, so strings up to this length are never folded.
_MAX_INLINE = 50_000
# libyaml writes a key of more bytes than this as a complex key ("? key").
_MAX_SIMPLE_KEY = 128


def _fast_dump(data: Any) -> str | None:
    """``data`` as ``dump_with_pyyaml`` writes it, or None when that is not certain."""
    if type(data) is not dict or not data:
        return None
    out: list[str] = []
    try:
        _mapping(data, "", "", out)
    except _Unsure:
        return None
    return "".join(out)


def _mapping(data: dict[Any, Any], first: str, indent: str, out: list[str]) -> None:
    """A non-empty mapping; its first line starts with ``first``, the others with ``indent``."""
    prefix = first
    for key, value in data.items():
        kind = type(value)
        if kind is dict and value:
            out.append(f"{prefix}{_key(key)}:\n")
            _mapping(value, indent + "  ", indent + "  ", out)
        elif kind is list and value:
            out.append(f"{prefix}{_key(key)}:\n")
            _sequence(value, indent, indent, out)
        else:
            out.append(f"{prefix}{_key(key)}:{_scalar(value, indent)}")
        prefix = indent


def _sequence(data: list[Any], first: str, indent: str, out: list[str]) -> None:
    """A non-empty sequence, its dashes at ``indent`` (the first at the end of ``first``)."""
    prefix = first
    for item in data:
        kind = type(item)
        if kind is dict and item:
            _mapping(item, prefix + "- ", indent + "  ", out)
        elif kind is list and item:
            _sequence(item, prefix + "- ", indent + "  ", out)
        else:
            out.append(f"{prefix}-{_scalar(item, indent)}")
        prefix = indent


def _scalar(value: Any, indent: str) -> str:
    """A scalar or empty collection after its key or dash: a space, the value, the line end."""
    kind = type(value)
    if kind is str:
        text = _inline(value) if "\n" not in value else _literal(value, indent)
    elif kind is bool:
        text = "true" if value else "false"
    elif kind is int:
        text = str(value)
    elif value is None:
        text = "null"
    elif kind is float:
        text = _float(repr(value))
    elif kind is dict:
        text = "{}"
    elif kind is list:
        text = "[]"
    else:
        raise _Unsure
    if text is None:
        raise _Unsure
    return f" {text}\n"


@functools.lru_cache(maxsize=1 << 16, typed=True)
def _key(key: Any) -> str:
    if type(key) is not str or len(key.encode("utf-8")) > _MAX_SIMPLE_KEY:
        raise _Unsure
    text = _inline(key)
    if text is None:
        raise _Unsure
    return text


@functools.lru_cache(maxsize=1 << 16)
def _inline(value: str) -> str | None:
    """A string without a line break, as one line, or None if it is not certain.

    Plain when libyaml would write it plain and a reader takes it for a string (the
    resolver and ``needs_quotes``); any other string is written once by PyYAML, which writes
    a string that holds no line break the same way wherever it stands."""
    if len(value) > _MAX_INLINE or _BREAK_OR_SURROGATE.search(value):
        return None
    if _PLAIN.fullmatch(value):
        resolved = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
        return f"'{value}'" if resolved != _STR_TAG or needs_quotes(value) else value
    text = dump_with_pyyaml({"k": value})
    return text[3:-1] if text.startswith("k: ") and text.count("\n") == 1 else None


def _literal(value: str, indent: str) -> str | None:
    """A string with a line break as a literal block, or None if PyYAML would not write one.

    Not certain, and left to PyYAML: a lone line break, and strings ending in two (keep
    chomping, after which libyaml may end the document with '...')."""
    if value == "\n" or value.endswith("\n\n"):
        return None
    if not (_literal_safe(value) and _PRINTABLE.fullmatch(value)):
        return None
    header = "|2" if value[0] in " \n" else "|"
    if value.endswith("\n"):
        value = value[:-1]
    else:
        header += "-"
    pad = indent + "  "
    lines = "".join(f"\n{pad}{line}" if line else "\n" for line in value.split("\n"))
    return header + lines


@functools.lru_cache(maxsize=1 << 12)
def _float(text: str) -> str | None:
    """A float given by its ``repr``, as PyYAML writes it (-0.0 == 0.0, but not in YAML)."""
    written = dump_with_pyyaml({"k": float(text)})
    return written[3:-1] if written.count("\n") == 1 else None
