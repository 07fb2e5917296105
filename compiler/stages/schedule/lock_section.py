"""What the scheduler remembers in fleet.lock (section ``placements``).

KubeFleet keeps its decisions as bindings in etcd; fleetc keeps them in git. Per placement the
lock records the hash of the policy it was scheduled under (without ``numberOfClusters``, as
KubeFleet's policy snapshot) and the clusters it selected, in pick order, with the scores they
were picked with (a scale-down trims the lowest first).

The clusters are one text block, one cluster a line (``name``, then ``affinity=N`` and
``topologySpread=N`` when not 0): a pull request shows one line per changed pick, and the lock
is a handful of YAML nodes however many clusters a placement selects, so it never reaches
fleetc's own input limits and parses in milliseconds. The older form, a list of mappings with
``name``, ``affinityScore`` and ``topologySpreadScore``, is still read.

It also records what KubeFleet's update rules compare a new spec with (``update_rules``): the
``placementType``, the ``tolerations`` (one short string each, only when there are any) and
``external: true`` when the rollout strategy is External.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from ...core.diagnostics import Diagnostics
from ...core.lock import LOCK_FILE, Lock
from ...core.model import Placement
from .framework import ZERO, Score

SECTION = "placements"


def _with_defaults(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy as the API server stores it: the CRD's defaults filled in."""
    filled = {"placementType": "PickAll", **policy}
    if policy.get("tolerations"):
        filled["tolerations"] = [{"operator": "Equal", **t} for t in policy["tolerations"]]
    if policy.get("topologySpreadConstraints"):
        filled["topologySpreadConstraints"] = [
            {"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule", **c}
            for c in policy["topologySpreadConstraints"]
        ]
    return filled


def policy_hash(policy: dict[str, Any]) -> str:
    """A stable digest of the policy; changing only numberOfClusters keeps it.

    Defaults are filled in first, so spelling out a default does not reschedule.
    """
    relevant = {k: v for k, v in _with_defaults(policy).items() if k != "numberOfClusters"}
    text = json.dumps(relevant, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Pick(NamedTuple):
    cluster: str
    score: Score


@dataclass(frozen=True)
class Remembered:
    """One placement's previous scheduling: the policy it ran under and what it picked."""

    policy_hash: str
    picks: tuple[Pick, ...]
    # What the update rules compare with; None when an older lock did not record it.
    placement_type: str | None = None
    tolerations: tuple[str, ...] = ()
    external: bool = False


def toleration_text(toleration: dict[str, Any]) -> str:
    """A toleration as one short string, defaults filled in: ``Equal key=value:NoSchedule``."""
    operator = toleration.get("operator", "Equal")
    value = f"={toleration.get('value', '')}" if operator == "Equal" else ""
    effect = toleration.get("effect", "")
    return f"{operator} {toleration.get('key', '')}{value}{':' + effect if effect else ''}"


def _pick(item: Any) -> Pick | None:
    """One pick of the older list form."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    affinity = item.get("affinityScore", 0)
    topology = item.get("topologySpreadScore", 0)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (affinity, topology)):
        return None
    return Pick(item["name"], Score(topology, affinity))


_SCORE_KEYS = ("affinity", "topologySpread")


def _pick_line(line: str) -> Pick | None:
    """One line of the text form: ``name [affinity=N] [topologySpread=N]``."""
    if " " not in line:  # most lines: a name, both scores 0
        return Pick(line, ZERO) if line else None
    name, *fields = line.split(" ")
    scores = dict.fromkeys(_SCORE_KEYS, 0)
    seen = set()
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep or key not in scores or key in seen or not _is_int(value):
            return None
        seen.add(key)
        scores[key] = int(value)
    if not name:
        return None
    return Pick(name, Score(scores["topologySpread"], scores["affinity"]))


def _is_int(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return 0 < len(digits) <= 19 and digits.isascii() and digits.isdigit()


def _picks(items: Any) -> list[Pick | None]:
    if isinstance(items, str):
        lines = items.splitlines()
        if " " not in items and "" not in lines:  # names only, as most placements have
            return [Pick(line, ZERO) for line in lines]
        return [_pick_line(line) for line in lines]
    if isinstance(items, list):
        return [_pick(i) for i in items]
    return [None]


def read(lock: Lock, diags: Diagnostics) -> dict[str, Remembered]:
    """Every placement's remembered scheduling; a malformed entry is an error, not a guess."""
    section = lock.section(SECTION)
    if section is None:
        return {}
    where = lock.doc.pos((SECTION,)) if lock.doc is not None else None
    if not isinstance(section, dict):
        diags.error(f"{LOCK_FILE}: '{SECTION}' must be a mapping", where)
        return {}
    remembered: dict[str, Remembered] = {}
    for name, entry in section.items():
        at = lock.doc.pos((SECTION, name)) if lock.doc is not None else None
        items = entry.get("clusters") if isinstance(entry, dict) else None
        picks = _picks(items)
        digest = entry.get("policyHash") if isinstance(entry, dict) else None
        extra = _update_rule_fields(entry) if isinstance(entry, dict) else None
        if not isinstance(digest, str) or any(p is None for p in picks) or extra is None:
            diags.error(
                f"{LOCK_FILE}: the entry of placement {name!r} is malformed",
                at,
                f"{SECTION}.{name}",
                hint=f"render with --reschedule {name} to schedule it afresh",
            )
            continue
        kept = tuple(p for p in picks if p is not None)
        remembered[str(name)] = Remembered(digest, kept, *extra)
    return remembered


def _update_rule_fields(entry: dict[str, Any]) -> tuple[str | None, tuple[str, ...], bool] | None:
    kind = entry.get("placementType")
    tolerations = entry.get("tolerations", [])
    external = entry.get("external", False)
    if (
        (kind is not None and kind not in ("PickAll", "PickN", "PickFixed"))
        or not isinstance(tolerations, list)
        or not all(isinstance(t, str) for t in tolerations)
        or not isinstance(external, bool)
    ):
        return None
    return kind, tuple(tolerations), external


def entry(digest: str, picks: list[Pick], placement: Placement) -> dict[str, Any]:
    tolerations = placement.policy.get("tolerations") or []
    rules: dict[str, Any] = {"placementType": placement.placement_type}
    if tolerations:
        rules["tolerations"] = [toleration_text(t) for t in tolerations]
    if (placement.spec.get("strategy") or {}).get("type") == "External":
        rules["external"] = True
    return {
        **rules,
        "policyHash": digest,
        "clusters": "".join(_line(p) for p in picks),
    }


def _line(pick: Pick) -> str:
    line = pick.cluster
    if pick.score.affinity:
        line += f" affinity={pick.score.affinity}"
    if pick.score.topology_spread:
        line += f" topologySpread={pick.score.topology_spread}"
    return line + "\n"
