"""Serialise plain data to readable, byte-stable Kubernetes YAML.

Conventional key order at the top (apiVersion, kind, metadata, spec), source order below it,
block style, no aliases, strings quoted only where YAML needs it, multi-line strings as
literal blocks. libyaml's emitter is used when present, with identical output either way.
"""

from __future__ import annotations

from typing import Any

import yaml

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_TOP_ORDER = ("apiVersion", "kind", "metadata", "spec")
_METADATA_ORDER = ("name", "namespace", "labels", "annotations")


class _Dumper(_Dumper):  # type: ignore[misc,valid-type]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and _literal_safe(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
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
