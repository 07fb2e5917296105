"""``strategy`` of a placement: KubeFleet's rules, and what Flux can and cannot honour. Pure.

fleetc hands the rendered objects to Flux's kustomize-controller, which always applies
server-side with forced ownership, re-applies every interval (reverting drift) and adopts
existing objects. Settings that ask for exactly that are honoured as they are; every other
setting is a warning that names the field and says why it has no effect, so nothing is accepted
silently. Rules KubeFleet's API server enforces are errors (the placement is not scheduled).
"""

from __future__ import annotations

from typing import Any

from ...core.diagnostics import Diagnostics, field_path
from ...core.model import Placement

# KubeFleet's RollingUpdate defaults (pkg/utils/defaulter): 25%, 25%, 60 seconds.
ROLLING_DEFAULTS = {"maxUnavailable": "25%", "maxSurge": "25%", "unavailablePeriodSeconds": 60}

FLUX_APPLIES = "Flux's kustomize-controller always applies server-side with forced ownership"

# (field, value) -> why Flux cannot honour it. A value of None matches any value.
_NOT_HONOURED: dict[tuple[str, Any], str] = {
    ("type", "ClientSideApply"): f"{FLUX_APPLIES}; the objects are the same, the apply "
    "semantics are server-side (KubeFleet too falls back to server-side apply for big objects)",
    ("comparisonOption", "FullComparison"): "Flux detects drift only on the fields it "
    "applies (a server-side dry run), like PartialComparison",
    ("whenToApply", "IfNotDrifted"): "Flux re-applies every interval and reverts drift; it "
    "has no way to stop applying to a drifted object",
    ("whenToTakeOver", "IfNoDiff"): "Flux adopts existing objects unconditionally",
    ("whenToTakeOver", "Never"): "Flux adopts existing objects unconditionally",
    ("allowCoOwnership", False): "Flux ignores ownerReferences, so it applies to objects "
    "owned by others as if allowCoOwnership were true",
}


class _Checker:
    def __init__(self, placement: Placement, diags: Diagnostics) -> None:
        self.placement = placement
        self.diags = diags
        self.ok = True

    def _where(self, path: tuple[str, ...]) -> tuple[Any, str]:
        full = ("strategy", *path)
        return self.placement.pos(*full), field_path((*self.placement.base, *full))

    def error(self, message: str, *path: str, hint: str | None = None) -> None:
        pos, where = self._where(path)
        self.diags.error(message, pos, where, hint=hint)
        self.ok = False

    def warning(self, message: str, *path: str, hint: str | None = None) -> None:
        pos, where = self._where(path)
        self.diags.warning(message, pos, where, hint=hint)


def _inert(placement: Placement, diags: Diagnostics) -> None:
    """Spec fields KubeFleet reads for its own bookkeeping, which have no offline effect."""
    spec = placement.spec
    if "revisionHistoryLimit" in spec:
        diags.warning(
            f"placement {placement.name!r}: revisionHistoryLimit has no effect: fleetc keeps no "
            "resource or policy snapshots (git history is the revision history)",
            placement.pos("revisionHistoryLimit"),
            field_path((*placement.base, "revisionHistoryLimit")),
        )
    if "statusReportingScope" in spec and not placement.namespace:
        diags.warning(
            f"placement {placement.name!r}: statusReportingScope has no effect: it chooses "
            "where KubeFleet writes placement status, and fleetc writes none (see 'fleetc "
            "status')",
            placement.pos("statusReportingScope"),
            field_path((*placement.base, "statusReportingScope")),
        )


def check(placement: Placement, diags: Diagnostics) -> bool:
    """Report the strategy's rule breaks (False: not to be scheduled) and unhonoured settings."""
    _inert(placement, diags)
    strategy = placement.spec.get("strategy")
    if not isinstance(strategy, dict):
        return True
    checker = _Checker(placement, diags)
    name = placement.name
    apply = strategy.get("applyStrategy")
    if isinstance(apply, dict):
        _check_apply(checker, name, apply)
    delete = strategy.get("deleteStrategy")
    if isinstance(delete, dict) and delete.get("propagationPolicy") == "Abandon":
        checker.warning(
            f"placement {name!r}: strategy.deleteStrategy.propagationPolicy Abandon has no "
            "effect: no KubeFleet controller reads deleteStrategy (it always deletes what a "
            "deleted placement placed), and fleetc renders as KubeFleet behaves, so Flux prunes "
            "the objects once their files are gone",
            "deleteStrategy",
            "propagationPolicy",
            hint="to keep an object on the clusters, annotate it with "
            "kustomize.toolkit.fluxcd.io/prune: disabled",
        )
    report = strategy.get("reportBackStrategy")
    if isinstance(report, dict):
        if report.get("type") == "Mirror" and not report.get("destination"):
            checker.error(
                "when reportBackStrategy.type is 'Mirror', a destination must be specified",
                "reportBackStrategy",
                "type",
            )
        elif report.get("type") == "Mirror":
            checker.warning(
                f"placement {name!r}: strategy.reportBackStrategy Mirror has no effect: fleetc "
                "renders offline and Flux reports status on its Kustomizations only",
                "reportBackStrategy",
                "type",
            )
    rolling = strategy.get("rollingUpdate")
    # Spelling out a default changes nothing; any other value is a promise fleetc cannot keep.
    changed = [
        key
        for key, default in ROLLING_DEFAULTS.items()
        if isinstance(rolling, dict) and key in rolling and rolling[key] != default
    ]
    if changed and strategy.get("type") != "External":
        checker.warning(
            f"placement {name!r}: strategy.rollingUpdate ({', '.join(changed)}) has no effect: "
            "every selected cluster gets a change when rendered/ merges (each cluster's Flux "
            "reconciles its files on its own), so there is no fleet-wide rollout to pace",
            "rollingUpdate",
            hint="stage a rollout with strategy.type External and a ClusterStagedUpdateRun "
            "(README: Staged rollouts)",
        )
    return checker.ok


def _check_apply(checker: _Checker, name: str, apply: dict[str, Any]) -> None:
    kind = apply.get("type", "ClientSideApply")
    ssa = apply.get("serverSideApplyConfig")
    if ssa is not None and kind != "ServerSideApply":
        # KubeFleet's webhook (pkg/utils/validator/clusterresourceplacement.go).
        checker.error(
            "serverSideApplyConfig is only valid for ServerSideApply strategy type",
            "applyStrategy",
            "serverSideApplyConfig",
        )
    if kind == "ReportDiff":
        checker.error(
            f"placement {name!r}: applyStrategy.type ReportDiff cannot be honoured: "
            f"{FLUX_APPLIES} and has no report-only mode, so the clusters would get the "
            "objects KubeFleet would only compare",
            "applyStrategy",
            "type",
            hint="leave the objects out of the placement, or compare with 'fleetc diff'",
        )
    for (field, value), why in _NOT_HONOURED.items():
        if field in apply and apply[field] == value:
            checker.warning(
                f"placement {name!r}: strategy.applyStrategy.{field} {_show(value)} has no "
                f"effect: {why}",
                "applyStrategy",
                field,
            )
    if kind == "ServerSideApply" and not (ssa or {}).get("force", False):
        where = (
            ("applyStrategy", "serverSideApplyConfig", "force")
            if ssa
            else ("applyStrategy", "type")
        )
        checker.warning(
            f"placement {name!r}: server-side apply without force (fail on conflicts) cannot "
            f"be honoured: {FLUX_APPLIES}, so conflicting field managers are overridden",
            *where,
            hint="set serverSideApplyConfig.force: true to say so",
        )


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
