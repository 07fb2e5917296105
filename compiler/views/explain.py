"""Explain one object on one cluster: hub source, placements, overrides and final manifest. Pure.

Read from the decisions the stages recorded (``Compilation.overridden``); nothing is re-derived.

This is the offline answer to kubefleet#611 ("show the final per-cluster manifest after
overrides") and #151 ("which placement put this here?"); ``fleetc explain --cluster C
--object REF`` prints it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from ..core import yamlout
from ..core.diagnostics import suggest
from ..core.escape import printable
from ..core.model import ObjectKey
from ..core.placed import RenderedObject
from ..pipeline import Compilation
from ..stages import emit as layout
from . import diff, rollout

_REF = re.compile(r"^(?P<kind>[A-Za-z][A-Za-z0-9]*)(\.(?P<group>[a-z0-9.-]+))?/(?P<rest>.+)$")


@dataclass(frozen=True)
class Trace:
    cluster: str
    key: ObjectKey
    source: str
    placements: tuple[str, ...]
    # (override as provenance names it, where it is defined), in the order applied.
    overrides: tuple[tuple[str, str], ...]
    hub_manifest: str
    # The manifest after overrides, without fleetc's annotations (for the diff).
    overridden_manifest: str
    final_manifest: str
    # For objects of staged placements: the snapshot the cluster runs, and why.
    snapshots: tuple[str, ...] = ()


def parse_object(text: str) -> ObjectKey | None:
    """``KIND[.GROUP]/NAMESPACE/NAME`` or ``KIND[.GROUP]/NAME`` (cluster-scoped)."""
    match = _REF.match(text)
    if not match:
        return None
    parts = match["rest"].split("/")
    if len(parts) > 2 or not all(parts):
        return None
    namespace, name = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
    return ObjectKey(match["group"] or "", match["kind"], namespace, name)


def trace(comp: Compilation, cluster: str, key: ObjectKey) -> Trace | str:
    """The trace of ``key`` on ``cluster``, or a message saying why there is none."""
    if cluster not in comp.clusters:
        hint = suggest(cluster, comp.clusters, "clusters")
        return f"no cluster {cluster!r} in the inventory ({hint})"
    placed = comp.clusters[cluster]
    obj = placed.get(key)
    if obj is None:
        message = f"{key} is not rendered on cluster {cluster!r}"
        deleted_by = _deleted_by(comp, cluster, key)
        if deleted_by:
            return f"{message}: {deleted_by} deletes it there"
        if not placed:
            return f"{message}: nothing is rendered there"
        return f"{message} ({suggest(str(key), [str(k) for k in placed], 'rendered there')})"
    where = {**comp.rollout.definitions, **comp.overridden.definitions}
    original = obj.original if obj.original is not None else obj.body
    source = source_of(comp, obj)
    # Secret values never reach the terminal (or a CI log): only whether an override changed one.
    shown_original, shown_body = diff.redact_pair(original, obj.body)
    assert shown_original is not None and shown_body is not None
    return Trace(
        cluster=cluster,
        key=key,
        source=source,
        placements=obj.placements,
        overrides=tuple((label, str(where[label])) for label in obj.overrides),
        hub_manifest=_text(shown_original),
        overridden_manifest=_text(shown_body),
        final_manifest=_text(layout.annotated(shown_body, obj.provenance)),
        snapshots=tuple(rollout.object_snapshots(comp, cluster, obj.placements)),
    )


def source_of(comp: Compilation, obj: RenderedObject) -> str:
    """Where ``obj`` comes from: its hub document's file:line when it is that document's
    object, else the source the stage that made it recorded."""
    original = obj.original if obj.original is not None else obj.body
    hub = comp.fleet.objects.get(obj.key)
    return str(hub.pos()) if hub is not None and hub.body is original else obj.source


def _deleted_by(comp: Compilation, cluster: str, key: ObjectKey) -> str | None:
    """The Delete rule that dropped ``key`` on ``cluster``, as the override stage recorded it."""
    rule = comp.overridden.deleted.get((cluster, key))
    return rule.describe() if rule is not None else None


def _text(body: dict[str, Any]) -> str:
    return yamlout.dump_object(body).decode("utf-8")


def format_trace(t: Trace) -> str:
    """The trace as text: a header, the hub manifest, the change, the final manifest."""
    lines = [
        f"object:     {t.key}",
        f"cluster:    {t.cluster}",
        f"source:     {t.source}",
        f"placements: {', '.join(t.placements) or '-'}",
        "overrides:  " + (", ".join(f"{label} ({pos})" for label, pos in t.overrides) or "-"),
        *(f"snapshot:   {line}" for line in t.snapshots),
        "",
        "# hub manifest",
        t.hub_manifest.rstrip("\n"),
    ]
    if t.overrides:
        hub, final = t.hub_manifest.splitlines(), t.overridden_manifest.splitlines()
        diff = difflib.unified_diff(hub, final, "hub", t.cluster, lineterm="", n=2)
        lines += ["", "# overrides applied (diff)", *diff]
    lines += ["", f"# final manifest on {t.cluster}", t.final_manifest.rstrip("\n")]
    return printable("\n".join(lines) + "\n")
