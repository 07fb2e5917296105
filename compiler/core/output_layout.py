"""Where each object of a cluster goes in the output tree: the file names every reader and
writer of ``rendered/`` agrees on.

``<cluster>/<namespace>/<kind>[.<group>]_<name>.yaml`` for namespaced objects and
``<cluster>/_cluster/...`` for cluster-scoped ones (``_`` cannot begin a namespace name; objects
in namespace flux-system go to ``_flux-system/``, as ``flux-system/`` is bootstrap's).
"""

from __future__ import annotations

import hashlib
import re

from .model import ObjectKey

CLUSTER_SCOPE_DIR = "_cluster"
KUSTOMIZATION = "kustomization.yaml"
FLUX_SYSTEM = "flux-system"
FLUX_SYSTEM_OBJECTS_DIR = "_flux-system"
_UNSAFE = re.compile(r"[^a-z0-9.-]")
MAX_FILE_NAME = 255
_TRUNCATED = 200


def _segment(text: str) -> str:
    """A file-name-safe, lower-case rendering of a name (e.g. ':' in RBAC names)."""
    return _UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", text.lower())


def object_path(key: ObjectKey) -> str:
    kind = f"{key.kind}.{key.group}" if key.group else key.kind
    folder = key.namespace or CLUSTER_SCOPE_DIR
    if folder == FLUX_SYSTEM:  # <cluster>/flux-system/ belongs to 'flux bootstrap'
        folder = FLUX_SYSTEM_OBJECTS_DIR
    stem = f"{_segment(kind)}_{_segment(key.name)}"
    if len(stem) + len(".yaml") > MAX_FILE_NAME:
        # File systems refuse longer names; escaping can triple a long Kubernetes name.
        stem = distinct(stem[:_TRUNCATED], key)
    return f"{folder}/{stem}.yaml"


def distinct(stem: str, key: ObjectKey) -> str:
    """``stem`` made unique to ``key`` ('~' never appears in an escaped name)."""
    identity = "\0".join((key.group, key.kind, key.namespace, key.name)).encode("utf-8")
    return f"{stem}~{hashlib.sha256(identity).hexdigest()[:16]}"
