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

from .diagnostics import Diagnostics, Position, field_path
from .model import Fleet, HubObject, ObjectKey
from .placed import ClusterObjects

ALLOW_ANNOTATION = "fleetc.io/allow-plain-secret"
PAYLOAD_FIELDS = ("data", "stringData")
# A value encrypted by SOPS: ENC[AES256_GCM,data:...,iv:...,tag:...,type:str].
HINT = (
    "encrypt it with SOPS (Flux decrypts it on the cluster), or add the "
    f'annotation {ALLOW_ANNOTATION}: "true" to commit it as it is'
)
_SOPS_VALUE = re.compile(r"^ENC\[[A-Z0-9_]+,data:[^\]]*\]$")


def check(fleet: Fleet, diags: Diagnostics) -> None:
    """One error per payload field of every plain Secret among the hub manifests."""
    for obj in fleet.objects.values():
        check_object(obj, diags)


def check_object(obj: HubObject, diags: Diagnostics) -> None:
    """One error per payload field of ``obj`` if it is a plain Secret (or a List holding one).
    Also run on what templates render and envelopes wrap, which the hub check cannot see."""
    for path, body in _secrets(obj.key.kind, obj.body):
        for name in plain_fields(body):
            diags.error(
                f"Secret {_name(body)!r} holds {name} in clear text; it would be committed "
                "to the folder of every cluster it is placed on",
                obj.pos(*path, name),
                field_path((*obj.doc.prefix, *path, name)),
                hint=HINT,
            )


def plain_fields(body: dict[str, Any]) -> list[str]:
    """The payload fields of a Secret ``body`` that would be committed in clear text."""
    if is_sops_encrypted(body) or allows_plain(body):
        return []
    return [name for name in PAYLOAD_FIELDS if body.get(name)]


def plain_paths(kind: str, body: dict[str, Any]) -> list[str]:
    """Where ``body`` (of ``kind``) holds Secret payload in clear text, as field paths."""
    return [
        field_path((*path, name))
        for path, secret in _secrets(kind, body)
        for name in plain_fields(secret)
    ]


def has_sops_metadata(body: Any) -> bool:
    """Encrypted by SOPS (any kind): its MAC covers every value, so no one may change one."""
    sops = body.get("sops") if isinstance(body, dict) else None
    return isinstance(sops, dict) and bool(sops.get("mac"))


def check_rendered(clusters: ClusterObjects, diags: Diagnostics) -> None:
    """The last line of defence: no object about to be written is a plain Secret.

    Runs only on an otherwise clean compilation (an error already stops the write), so a
    Secret reported by an earlier stage is not reported twice."""
    if diags.has_errors:
        return
    reported: set[tuple[ObjectKey, str]] = set()
    for cluster, placed in clusters.items():
        # Only a Secret or a List can hold one: the others are not sorted, nor looked into.
        suspects = [k for k in placed if k.kind.endswith("List") or is_secret(placed[k].body)]
        for key in sorted(suspects):
            obj = placed[key]
            for path, body in _secrets(key.kind, obj.body):
                fields = plain_fields(body)
                if not fields or (key, obj.source) in reported:
                    continue
                reported.add((key, obj.source))
                via = f" after overrides {', '.join(obj.overrides)}" if obj.overrides else ""
                diags_path = field_path((*path, fields[0]))
                diags.error(
                    f"{key} on cluster {cluster!r}{via} is a Secret with {' and '.join(fields)} "
                    "in clear text; it would be committed to the rendered output",
                    Position(obj.source.split("#")[0], 1),  # generators add "#field"
                    diags_path,
                    hint=HINT,
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


def _secrets(
    kind: str, body: dict[str, Any], at: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """The object itself if it is a Secret, and the Secrets among a List's ``items``, in Lists
    inside Lists too (the stages refuse those; this guards what they did not read, such as a
    rendered tree of a base commit)."""
    if is_secret(body):
        yield at, body
    items = body.get("items")
    if kind.endswith("List") and isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield from _secrets(str(item.get("kind", "")), item, (*at, "items", index))


def _name(body: dict[str, Any]) -> str:
    metadata = body.get("metadata")
    return str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
