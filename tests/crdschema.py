"""Validate rendered objects against the upstream CRDs (``conftest.find_crds``; never copied).

``validate(obj)`` finds the CRD for the object's group and kind, checks that the CRD serves the
object's version, and validates the object against that version's ``openAPIV3Schema``.
Kubernetes extensions (``x-kubernetes-*``) and formats are ignored, as jsonschema does.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from conftest import require_crds


def crd_root() -> Path:
    return require_crds()


@functools.cache
def _crds() -> dict[tuple[str, str], dict[str, Any]]:
    """(group, kind) -> CRD document, for every CRD file under the shared CRD folder."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(crd_root().rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                spec = doc["spec"]
                found[(spec["group"], spec["names"]["kind"])] = doc
    return found


def served_versions(group: str, kind: str) -> list[str]:
    crd = _crds()[(group, kind)]
    return [v["name"] for v in crd["spec"]["versions"] if v.get("served")]


def schema(group: str, kind: str, version: str) -> dict[str, Any]:
    """The openAPIV3Schema of a served version; KeyError/ValueError if there is none."""
    crd = _crds()[(group, kind)]
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            if not entry.get("served"):
                raise ValueError(f"{kind}.{group} {version} is not served")
            return entry["schema"]["openAPIV3Schema"]
    raise ValueError(f"{kind}.{group} has no version {version}")


def errors(obj: dict[str, Any]) -> list[str]:
    """Every schema violation of ``obj`` (an empty list when it is valid)."""
    group, _, version = obj["apiVersion"].rpartition("/")
    validator = jsonschema.Draft7Validator(schema(group, obj["kind"], version))
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(obj)
    ]


def has_crd(obj: dict[str, Any]) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    return (group, obj.get("kind")) in _crds()
