"""Serialise plain data to readable, byte-stable Kubernetes YAML.

Conventional key order at the top (apiVersion, kind, metadata, spec), source order below it,
block style, no aliases, strings quoted only where YAML needs it, multi-line strings as
literal blocks. libyaml's emitter is used when present, with identical output either way.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

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
    out.update((k, v) for k, v in obj.items() if k not in out)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        meta = {k: metadata[k] for k in _METADATA_ORDER if k in metadata}
        meta.update((k, v) for k, v in metadata.items() if k not in meta)
        out["metadata"] = meta
    return out


def dump(data: Any) -> str:
    """One YAML document, without a leading '---'."""
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
