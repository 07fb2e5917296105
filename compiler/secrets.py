"""Refuse plain Secrets among the hub manifests. Pure.

A Secret with ``data`` or ``stringData`` would be committed in clear text to the folder of every
cluster it is placed on. It is accepted only when SOPS-encrypted (Flux decrypts it on the
cluster) or when the object opts out with the annotation ``fleetc.io/allow-plain-secret:
"true"``, which a reviewer sees in the pull request next to the data. Diagnostics name the
object and the field, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .diagnostics import Diagnostics, field_path
from .model import Fleet, HubObject

ALLOW_ANNOTATION = "fleetc.io/allow-plain-secret"
PAYLOAD_FIELDS = ("data", "stringData")
# A value encrypted by SOPS: ENC[AES256_GCM,data:...,iv:...,tag:...,type:str].
_SOPS_VALUE = re.compile(r"^ENC\[[A-Z0-9_]+,data:[^\]]*\]$")


def check(fleet: Fleet, diags: Diagnostics) -> None:
    """One error per payload field of every plain Secret (including those inside a List)."""
    for obj in fleet.objects.values():
        for path, body in _secrets(obj):
            for name in PAYLOAD_FIELDS:
                if not body.get(name) or is_sops_encrypted(body) or allows_plain(body):
                    continue
                diags.error(
                    f"Secret {_name(body)!r} holds {name} in clear text; it would be committed "
                    "to the folder of every cluster it is placed on",
                    obj.pos(*path, name),
                    field_path((*path, name)),
                    hint=(
                        "encrypt it with SOPS (Flux decrypts it on the cluster), or add the "
                        f'annotation {ALLOW_ANNOTATION}: "true" to commit it as it is'
                    ),
                )


def is_secret(body: Any) -> bool:
    return (
        isinstance(body, dict) and body.get("kind") == "Secret" and body.get("apiVersion") == "v1"
    )


def is_sops_encrypted(body: dict[str, Any]) -> bool:
    """A ``sops`` metadata block, and every payload value an ``ENC[...]`` string."""
    sops = body.get("sops")
    if not isinstance(sops, dict) or not sops.get("mac"):
        return False
    values = [
        value
        for name in PAYLOAD_FIELDS
        if isinstance(body.get(name), dict)
        for value in body[name].values()
    ]
    return all(isinstance(v, str) and _SOPS_VALUE.match(v) for v in values)


def allows_plain(body: dict[str, Any]) -> bool:
    metadata = body.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return isinstance(annotations, dict) and annotations.get(ALLOW_ANNOTATION) == "true"


def _secrets(obj: HubObject) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """The object itself if it is a Secret, and the Secrets among a List's ``items``."""
    if is_secret(obj.body):
        yield (), obj.body
    items = obj.body.get("items")
    if obj.key.kind.endswith("List") and isinstance(items, list):
        for index, item in enumerate(items):
            if is_secret(item):
                yield ("items", index), item


def _name(body: dict[str, Any]) -> str:
    metadata = body.get("metadata")
    return str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
