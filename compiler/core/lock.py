"""fleet.lock: decisions that must stay stable across renders, kept in git instead of etcd.

Each stage that needs memory owns one top-level section (``placements`` for the scheduler,
``addresses`` for load-balancer allocation, ...): it reads its section of the previous lock and
writes its section of the new one. Everything else about the file is handled here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import yamlout
from .diagnostics import Diagnostics
from .model import FLEET_API_VERSION
from .yamlsource import Document

LOCK_FILE = "fleet.lock"
LOCK_KIND = "FleetLock"
HEADER = "# Written by 'fleetc render'. Commit it: it keeps placements and allocations stable.\n"


@dataclass
class Lock:
    sections: dict[str, Any] = field(default_factory=dict)
    doc: Document | None = None

    def section(self, name: str) -> Any:
        return self.sections.get(name)


def read(doc: Document | None, diags: Diagnostics) -> Lock:
    """The previous lock; a missing file is an empty lock (a first render)."""
    if doc is None:
        return Lock()
    data = doc.data
    if (
        not isinstance(data, dict)
        or data.get("apiVersion") != FLEET_API_VERSION
        or data.get("kind") != LOCK_KIND
    ):
        diags.error(
            f"{LOCK_FILE} is not a {LOCK_KIND} ({FLEET_API_VERSION})",
            doc.pos(),
            hint=f"delete {LOCK_FILE} to schedule every placement afresh",
        )
        return Lock()
    sections = {k: v for k, v in data.items() if k not in ("apiVersion", "kind")}
    return Lock(sections, doc)


def dump(lock: Lock) -> bytes:
    body = {"apiVersion": FLEET_API_VERSION, "kind": LOCK_KIND}
    body.update((name, lock.sections[name]) for name in sorted(lock.sections))
    return (HEADER + yamlout.dump(body)).encode("utf-8")
