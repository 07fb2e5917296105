"""The rules KubeFleet's webhook and CRD CEL rules enforce on a placement policy.

The schema checks shapes; these are the rules across fields, reported as diagnostics at the
offending field. A placement that breaks one is not scheduled (KubeFleet would reject it).
"""

from __future__ import annotations

from typing import Any

from ...core import labels, schema
from ...core.diagnostics import Diagnostics, field_path
from ...core.model import Placement

FORBIDDEN = {
    "PickFixed": ("affinity", "numberOfClusters", "topologySpreadConstraints", "tolerations"),
    "PickAll": ("clusterNames", "numberOfClusters", "topologySpreadConstraints"),
    "PickN": ("clusterNames",),
}


class _Checker:
    def __init__(self, placement: Placement, diags: Diagnostics) -> None:
        self.placement = placement
        self.diags = diags
        self.ok = True

    def error(self, message: str, *path: str | int, hint: str | None = None) -> None:
        full = ("policy", *path)
        where = field_path((*self.placement.base, *full))
        self.diags.error(message, self.placement.pos(*full), where, hint=hint)
        self.ok = False


def check(placement: Placement, diags: Diagnostics) -> bool:
    """Report every rule the policy breaks; False when it must not be scheduled."""
    policy = placement.spec.get("policy")
    if policy is None:
        return True
    if not schema.checker("placement", "/$defs/policy")(policy):
        return False  # the schema stage has reported it
    checker = _Checker(placement, diags)
    kind = policy.get("placementType", "PickAll")
    for name in FORBIDDEN[kind]:
        if policy.get(name) is not None:
            checker.error(f"{name} cannot be set when placementType is {kind}", name)
    if kind == "PickN" and policy.get("numberOfClusters") is None:
        checker.error(
            "numberOfClusters must be set when placementType is PickN",
            "placementType",
            hint="add numberOfClusters: <count> (0 is allowed)",
        )
    affinity = (policy.get("affinity") or {}).get("clusterAffinity") or {}
    _check_required(checker, affinity)
    _check_preferred(checker, affinity, kind)
    _check_tolerations(checker, policy.get("tolerations") or [])
    return checker.ok


AFFINITY = ("affinity", "clusterAffinity")
REQUIRED = (*AFFINITY, "requiredDuringSchedulingIgnoredDuringExecution", "clusterSelectorTerms")
PREFERRED = (*AFFINITY, "preferredDuringSchedulingIgnoredDuringExecution")


def _check_selector(checker: _Checker, selector: Any, path: tuple[str | int, ...]) -> None:
    full = ("policy", *path)
    if not labels.check_selector(selector, checker.placement, full, checker.diags):
        checker.ok = False


def _check_required(checker: _Checker, affinity: dict[str, Any]) -> None:
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for index, term in enumerate(required.get("clusterSelectorTerms") or []):
        _check_selector(checker, term.get("labelSelector"), (*REQUIRED, index, "labelSelector"))
        if term.get("propertySorter") is not None:
            checker.error(
                "propertySorter is not allowed in required cluster selector terms",
                *REQUIRED,
                index,
                "propertySorter",
                hint="sort with a preferred term (PickN only)",
            )


def _check_preferred(checker: _Checker, affinity: dict[str, Any], kind: str) -> None:
    preferred = affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
    if preferred is None:
        return
    if kind != "PickN":
        checker.error(
            f"preferred cluster affinity terms are only allowed for PickN, not {kind}",
            *PREFERRED,
        )
    for index, term in enumerate(preferred):
        preference = term.get("preference") or {}
        at = (*PREFERRED, index, "preference")
        _check_selector(checker, preference.get("labelSelector"), (*at, "labelSelector"))
        if preference.get("propertySelector") is not None:
            checker.error(
                "propertySelector is not allowed in preferred cluster selector terms",
                *at,
                "propertySelector",
                hint="use a propertySorter to prefer clusters by a property",
            )


def _check_tolerations(checker: _Checker, tolerations: list[dict[str, Any]]) -> None:
    label_key = schema.checker("common", "/$defs/labelKey")
    for index, toleration in enumerate(tolerations):
        if toleration.get("key") and not label_key(toleration["key"]):
            checker.error(
                f"toleration key {toleration['key']!r} is not a valid label key",
                "tolerations",
                index,
                "key",
            )
        exists = toleration.get("operator", "Equal") == "Exists"
        if not toleration.get("key") and not exists:
            checker.error("operator must be Exists when key is empty", "tolerations", index)
        if exists and toleration.get("value"):
            checker.error(
                "value must be empty when operator is Exists", "tolerations", index, "value"
            )
