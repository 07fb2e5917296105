"""The per-cluster stage: templates, envelopes, then ClusterResourceOverride / ResourceOverride.

Overrides follow KubeFleet (``workgenerator/override.go``, ``utils/overrider``, the override
webhooks). A ClusterResourceOverride (CRO) selects cluster-scoped objects by group, version,
kind and name, and naming a Namespace covers every object in it; a ResourceOverride (RO) selects
objects of its own namespace the same way. At most one CRO and one RO may select an object.
On each cluster the matching CROs run (by name), then the ROs (by namespace/name), so the RO
wins. Each override's rules run in order: a rule whose ``clusterSelector`` matches the cluster
(absent: none; ``clusterSelectorTerms: []``: all) applies its JSON patches (RFC 6902 add, remove,
replace) or, with ``overrideType: Delete``, drops the object and ends its processing.

Overrides come from fleet.yaml ``spec.overrides`` (a list; each item has ``name``, ``kind`` and,
for an RO, ``namespace``, plus the CRO/RO spec fields inline) and from CRO/RO hub documents.
Bodies are shared between clusters: a patch produces a new body, never edits one in place.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonpatch

from ..core import kube, labels, schema, secrets
from ..core.diagnostics import Diagnostics, Position
from ..core.model import Cluster, Fleet, Located, ObjectKey, split_api_version
from ..core.placed import ClusterObjects, RenderedObject

CRO = "ClusterResourceOverride"
RO = "ResourceOverride"
OVERRIDE_VERSIONS = ("v1", "v1alpha1", "v1beta1")
DELETE = "Delete"
CLUSTER_NAME_VARIABLE = "${MEMBER-CLUSTER-NAME}"
_LABEL_VARIABLE = re.compile(r"\$\{MEMBER-CLUSTER-LABEL-KEY-([^}]*)\}")
_SPEC_POINTERS = {CRO: "/$defs/clusterResourceOverrideSpec", RO: "/$defs/resourceOverrideSpec"}


@dataclass
class Override(Located):
    name: str = ""
    kind: str = CRO
    namespace: str = ""
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How provenance names it: ``name`` for a CRO, ``namespace/name`` for an RO."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def where(self) -> Position:
        """Where it is named: its fleet.yaml item, or its hub document's metadata.name."""
        if self.base == ("spec",):
            return self.doc.pos(("metadata", "name"))
        return self.pos("name")

    @property
    def title(self) -> str:
        return f"{self.kind} {self.label!r}"

    @property
    def selectors_field(self) -> str:
        return "clusterResourceSelectors" if self.kind == CRO else "resourceSelectors"

    @property
    def selectors(self) -> list[dict[str, Any]]:
        return self.spec.get(self.selectors_field) or []

    @property
    def rules(self) -> list[dict[str, Any]]:
        return (self.spec.get("policy") or {}).get("overrideRules") or []


# -- collecting and checking ---------------------------------------------------------------


def collect(fleet: Fleet, diags: Diagnostics) -> list[Override]:
    """Every valid override, CROs by name then ROs by namespace/name."""
    found = _from_fleet_file(fleet, diags) + _from_hub(fleet, diags)
    seen: dict[tuple[str, str], Override] = {}
    valid: list[Override] = []
    for item in found:
        first = seen.setdefault((item.kind, item.label), item)
        if first is not item:
            diags.error(f"{item.title} is defined twice (first at {first.where})", item.where)
            continue
        if _check(fleet, item, diags):
            valid.append(item)
    valid.sort(key=lambda o: (o.kind != CRO, o.namespace, o.name))
    _check_one_per_object(valid, diags)
    return valid


def _from_fleet_file(fleet: Fleet, diags: Diagnostics) -> list[Override]:
    items = fleet.spec.get("overrides")
    out: list[Override] = []
    well_formed = schema.checker("overrides", "/$defs/namedOverride")
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not well_formed(item):
            continue  # the fleet schema has reported it
        base = ("spec", "overrides", index)
        spec = {k: v for k, v in item.items() if k not in ("name", "kind", "namespace")}
        ov = Override(
            fleet.doc, base, item["name"], item["kind"], item.get("namespace", ""), spec=spec
        )
        wrong = "resourceSelectors" if ov.kind == CRO else "clusterResourceSelectors"
        if wrong in item:
            diags.error(f"a {ov.kind} takes {ov.selectors_field}, not {wrong}", ov.pos(wrong))
        elif ov.selectors_field not in item:
            diags.error(f"a {ov.kind} needs {ov.selectors_field}", ov.pos())
        elif ov.kind == CRO and ov.namespace:
            diags.error("a ClusterResourceOverride is cluster-scoped: no namespace", ov.pos())
        elif ov.kind == RO and not ov.namespace:
            diags.error("a ResourceOverride needs the namespace it lives in", ov.pos())
        else:
            out.append(ov)
    return out


def _from_hub(fleet: Fleet, diags: Diagnostics) -> list[Override]:
    out: list[Override] = []
    for kind in (CRO, RO):
        for doc in fleet.control.get(kind, []):
            version = split_api_version(doc.api_version)[1]
            if version not in OVERRIDE_VERSIONS:
                diags.error(
                    f"{kind} {doc.api_version!r} is not supported; use "
                    f"{kube.PLACEMENT_GROUP}/{' or '.join(OVERRIDE_VERSIONS)}",
                    doc.pos("apiVersion"),
                )
                continue
            if kind == RO and not doc.key.namespace:
                diags.error("a ResourceOverride needs metadata.namespace", doc.pos("metadata"))
                continue
            if kind == CRO and doc.key.namespace:
                diags.error(
                    "a ClusterResourceOverride is cluster-scoped: no metadata.namespace",
                    doc.pos("metadata", "namespace"),
                )
                continue
            spec = doc.body.get("spec")
            if not isinstance(spec, dict):
                diags.error(f"{kind} needs a spec", doc.pos(), "spec")
                continue
            pointer = _SPEC_POINTERS[kind]
            base = ("spec",)
            if schema.validate(doc.doc, "overrides", diags, data=spec, base=base, pointer=pointer):
                out.append(Override(doc.doc, base, doc.key.name, kind, doc.key.namespace, spec))
    return out


def _check(fleet: Fleet, ov: Override, diags: Diagnostics) -> bool:
    """KubeFleet's webhook rules that a schema cannot say."""
    problems: list[tuple[str, tuple[str | int, ...]]] = []
    selectors_ok = True
    for index, selector in enumerate(ov.selectors):
        at = (ov.selectors_field, index)
        group, kind = selector["group"], selector["kind"]
        namespaced = kind != "Namespace" and kube.is_namespaced_kind(fleet, group, kind)
        if "labelSelector" in selector:
            problems.append(("overrides select by name only; labelSelector is not supported", at))
        if ov.kind == CRO and namespaced:
            problems.append(
                (f"{kind} is namespaced: a ClusterResourceOverride selects cluster-scoped "
                 "objects (select its Namespace, or use a ResourceOverride)", (*at, "kind"))
            )  # fmt: skip
        if ov.kind == RO and (group, kind) == ("", "Namespace"):
            problems.append(("a ResourceOverride selects namespaced objects only", (*at, "kind")))
    placement = ov.spec.get("placement")
    if placement and ov.kind == CRO and placement.get("scope") == "Namespaced":
        problems.append(
            ("a ClusterResourceOverride can only be scoped to a ClusterResourcePlacement",
             ("placement", "scope"))
        )  # fmt: skip
    for index, rule in enumerate(ov.rules):
        problems += [(m, ("policy", "overrideRules", index, *p)) for m, p in _rule_problems(rule)]
        terms = (rule.get("clusterSelector") or {}).get("clusterSelectorTerms") or []
        for number, term in enumerate(terms):
            at = ("policy", "overrideRules", index, "clusterSelector", "clusterSelectorTerms")
            at = (*at, number, "labelSelector")
            selectors_ok &= labels.check_selector(term.get("labelSelector"), ov, at, diags)
    for message, path in problems:
        diags.error(f"{ov.title}: {message}", ov.pos(*path))
    if placement and not problems:
        names = {p.name for p in fleet.placements}
        if _placement_key(ov) not in names:
            kind = (
                "ResourcePlacement in namespace " + repr(ov.namespace)
                if placement.get("scope") == "Namespaced"
                else "ClusterResourcePlacement"
            )
            diags.warning(
                f"{ov.title} is scoped to placement {placement['name']!r}, but there is no "
                f"{kind} of that name: it applies to nothing",
                ov.pos("placement", "name"),
                hint="scope Cluster names a ClusterResourcePlacement; scope Namespaced names a "
                "ResourcePlacement in the ResourceOverride's own namespace",
            )
    return not problems and selectors_ok


def _rule_problems(rule: dict[str, Any]) -> list[tuple[str, tuple[str | int, ...]]]:
    patches = rule.get("jsonPatchOverrides")
    if rule.get("overrideType") == DELETE:
        message = "a Delete rule takes no jsonPatchOverrides"
        return [(message, ("jsonPatchOverrides",))] if patches else []
    if not patches:
        return [("a JSONPatch rule needs jsonPatchOverrides", ())]
    problems: list[tuple[str, tuple[str | int, ...]]] = []
    for index, patch in enumerate(patches):
        at: tuple[str | int, ...] = ("jsonPatchOverrides", index)
        path_problem = forbidden_path(patch["path"])
        if path_problem:
            problems.append((f"path {patch['path']!r}: {path_problem}", (*at, "path")))
        if patch["op"] == "remove" and "value" in patch:
            problems.append(("a remove operation takes no value", (*at, "value")))
        if patch["op"] != "remove" and "value" not in patch:
            problems.append((f"an {patch['op']} operation needs a value", at))
    return problems


def forbidden_path(path: str) -> str | None:
    """Why KubeFleet refuses a patch path, or None when it is allowed."""
    if not path.startswith("/"):
        return "a path must be a JSON pointer starting with '/'"
    parts = path.split("/")[1:]
    if "" in parts:
        return "empty path segments are not allowed"
    if parts[0] in ("kind", "apiVersion"):
        return "kind and apiVersion cannot be overridden"
    if parts[0] == "status":
        return "status cannot be overridden"
    if parts[0] == "metadata" and (len(parts) == 1 or parts[1] not in ("labels", "annotations")):
        return "only metadata/labels and metadata/annotations can be overridden"
    return None


def _check_one_per_object(overrides: list[Override], diags: Diagnostics) -> None:
    owner: dict[tuple[str, ...], Override] = {}
    for ov in overrides:
        for index, sel in enumerate(ov.selectors):
            key = (ov.kind, ov.namespace, sel["group"], sel["version"], sel["kind"], sel["name"])
            first = owner.setdefault(key, ov)
            if first is not ov:
                diags.error(
                    f"{ov.title} selects {sel['kind']} {sel['name']!r}, which {first.title} "
                    f"already selects: KubeFleet allows one {ov.kind} per resource",
                    ov.pos(ov.selectors_field, index),
                )


# -- applying -------------------------------------------------------------------------------


Index = dict[tuple[str, ...], list[Override]]


@dataclass(frozen=True)
class Applied:
    """One rule that applies to an object on a cluster: the override, the rule's number, and the
    rule (its cluster selector matches the cluster)."""

    override: Override
    index: int
    rule: dict[str, Any]

    @property
    def deletes(self) -> bool:
        return self.rule.get("overrideType") == DELETE

    def describe(self) -> str:
        return f"{self.override.title} rule {self.index} ({self.override.where})"


@dataclass(frozen=True)
class Overridden:
    """The override stage's result: every cluster's objects after overrides, and the decisions
    behind them for ``explain``: where each override is defined, and the rule that deleted an
    object on a cluster."""

    clusters: ClusterObjects
    # override label (as provenance names it) -> where it is defined.
    definitions: dict[str, Position] = field(default_factory=dict)
    # (cluster, object key) -> the Delete rule that dropped the object there.
    deleted: dict[tuple[str, ObjectKey], Applied] = field(default_factory=dict)
    # Every valid override, in the order they apply, and the (label, rule number) of each rule
    # that applied to some object on some cluster (the lints report the rest).
    overrides: tuple[Override, ...] = ()
    rules_used: frozenset[tuple[str, int]] = frozenset()


def override(fleet: Fleet, placed: ClusterObjects, diags: Diagnostics) -> Overridden:
    """Every placed object after the overrides that select it, per cluster."""
    return apply(fleet, collect(fleet, diags), placed, diags)


def apply(
    fleet: Fleet, overrides: list[Override], placed: ClusterObjects, diags: Diagnostics
) -> Overridden:
    """``placed`` after ``overrides`` (valid, in application order), per cluster. Staged
    rollouts call this with the overrides a resource snapshot recorded."""
    if not overrides:
        return Overridden(placed)
    run = _Run(index_by_resource(overrides), diags)
    clusters: ClusterObjects = {
        name: run.cluster(fleet.clusters[name], objects) for name, objects in placed.items()
    }
    definitions = {ov.label: ov.where for ov in overrides}
    return Overridden(clusters, definitions, run.deleted, tuple(overrides), frozenset(run.used))


def index_by_resource(overrides: list[Override]) -> Index:
    """Overrides by the resource identifiers they select, keeping their application order."""
    found: Index = {}
    for ov in overrides:
        for sel in ov.selectors:
            key = (ov.kind, ov.namespace, sel["group"], sel["version"], sel["kind"], sel["name"])
            if ov not in found.setdefault(key, []):
                found[key].append(ov)
    return found


def applicable(by_resource: Index, obj: RenderedObject) -> list[Override]:
    """The CROs, then the ROs, that apply to ``obj`` (KubeFleet's ResourceIdentifier lookups,
    then placement scoping)."""
    key = obj.key
    version = split_api_version(str(obj.body.get("apiVersion", "")))[1]
    if key.namespace:
        cro_key = (CRO, "", "", "v1", "Namespace", key.namespace)
        ro_key = (RO, key.namespace, key.group, version, key.kind, key.name)
        found = by_resource.get(cro_key, []) + by_resource.get(ro_key, [])
    else:
        found = by_resource.get((CRO, "", key.group, version, key.kind, key.name), [])
    return [ov for ov in found if _in_scope(ov, obj)]


def _placement_key(ov: Override) -> str:
    """The key of the placement an override refers to, as KubeFleet's overrider compares it:
    a CRP's name, or ``<ro namespace>/<name>`` for scope Namespaced (a ResourcePlacement)."""
    placement = ov.spec["placement"]
    if placement.get("scope", "Cluster") == "Namespaced":
        return f"{ov.namespace}/{placement['name']}"
    return placement["name"]


def _in_scope(ov: Override, obj: RenderedObject) -> bool:
    placement = ov.spec.get("placement")
    return not placement or (_placement_key(ov) in obj.placements)


def cluster_matches(rule: dict[str, Any], cluster_labels: dict[str, str]) -> bool:
    """nil selector: no cluster; no terms: every cluster; terms are ORed (labelSelector only)."""
    selector = rule.get("clusterSelector")
    if selector is None:
        return False
    terms = selector.get("clusterSelectorTerms") or []
    if not terms:
        return True
    return any(
        term.get("labelSelector") is not None
        and labels.matches(term["labelSelector"], cluster_labels)
        for term in terms
    )


def _rules_on(matching: list[Override], cluster: Cluster) -> list[Applied]:
    """The rules of ``matching`` whose cluster selector matches ``cluster``, in the order they
    run; a Delete rule ends the list (it ends the object's processing)."""
    rules: list[Applied] = []
    for ov in matching:
        for index, rule in enumerate(ov.rules):
            if cluster_matches(rule, cluster.labels):
                rules.append(Applied(ov, index, rule))
                if rules[-1].deletes:
                    return rules
    return rules


def _labels_applied(rules: list[Applied]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a.override.label for a in rules))


# -- sharing the work between clusters ------------------------------------------------------
#
# What overrides do to an object on a cluster depends on the object and on the few cluster
# labels their rules read (in cluster selectors and ${MEMBER-CLUSTER-LABEL-KEY-...} values).
# ``_Run`` decides the rules once per object and per combination of those labels' values, and
# patches once per object and operations; clusters alike then share one overridden object
# (serialised once). No stage after this one changes a body or an object in place.

# The value of a label a cluster does not have, in a ``_Plan``'s key.
_ABSENT = object()


@dataclass(frozen=True, eq=False)
class _Selecting:
    """The overrides that select an object (``applicable``), and the cluster labels their rules
    read; ``reads`` is None when they read the cluster's name (then no two clusters are alike)."""

    overrides: list[Override]
    reads: tuple[str, ...] | None


@dataclass(frozen=True, eq=False)
class _Plan:
    """What ``_Selecting``'s overrides do on clusters whose labels agree on its ``reads``: the
    rules that apply, and their operations as JSON (None when a rule deletes or a label that a
    variable names is missing; then each cluster patches, and reports, on its own)."""

    rules: list[Applied]
    labels: tuple[str, ...]
    operations: str | None


class _Run:
    """One ``apply``: per-cluster results, with the work shared between clusters alike."""

    def __init__(self, by_resource: Index, diags: Diagnostics) -> None:
        self.by_resource = by_resource
        self.diags = diags
        self.deleted: dict[tuple[str, ObjectKey], Applied] = {}
        self.used: set[tuple[str, int]] = set()
        self._selecting: dict[tuple[ObjectKey, str, tuple[str, ...]], _Selecting | None] = {}
        # id of an object -> (the object, kept so that its id stays its own; its _Selecting).
        self._seen: dict[int, tuple[RenderedObject, _Selecting | None]] = {}
        self._plans: dict[tuple[_Selecting, tuple[Any, ...]], _Plan] = {}
        # (id of the object, plan) -> (the object, kept likewise; the result).
        self._objects: dict[tuple[int, _Plan], tuple[RenderedObject, RenderedObject]] = {}
        # (id of the body, operations) -> (the body, kept likewise; the overridden body).
        self._bodies: dict[tuple[int, str], tuple[dict[str, Any], dict[str, Any]]] = {}

    def cluster(
        self, cluster: Cluster, objects: dict[ObjectKey, RenderedObject]
    ) -> dict[ObjectKey, RenderedObject]:
        """``objects`` on ``cluster`` after the overrides (in key order, as diagnostics are)."""
        result = dict(objects)
        targets = []
        for key, obj in objects.items():
            selecting = self.selecting(obj)
            if selecting is not None:
                targets.append((key, obj, selecting))
        targets.sort(key=lambda target: target[0])
        for key, obj, selecting in targets:
            plan = self.plan(selecting, cluster)
            if not plan.rules:
                continue
            if plan.rules[-1].deletes:
                # The rules before the Delete still run, as KubeFleet's would: a patch that
                # fails there is an error even though the object is then dropped.
                if len(plan.rules) > 1:
                    _apply_rules(obj, plan.rules[:-1], cluster, self.diags)
                del result[key]
                self.deleted[(cluster.name, key)] = plan.rules[-1]
                continue
            result[key] = self.overridden(obj, plan, cluster)
        return result

    def selecting(self, obj: RenderedObject) -> _Selecting | None:
        """The overrides that select ``obj``; None when none do. ``applicable`` reads the
        object's key, apiVersion and placements (an object placed on many clusters is one)."""
        seen = self._seen.get(id(obj))
        if seen is not None:
            return seen[1]
        key = (obj.key, str(obj.body.get("apiVersion", "")), obj.placements)
        if key not in self._selecting:
            found = applicable(self.by_resource, obj)
            self._selecting[key] = _Selecting(found, _reads(found)) if found else None
        self._seen[id(obj)] = (obj, self._selecting[key])
        return self._selecting[key]

    def plan(self, selecting: _Selecting, cluster: Cluster) -> _Plan:
        if selecting.reads is None:
            seen: tuple[Any, ...] = (cluster.name,)
        else:
            seen = tuple(cluster.labels.get(k, _ABSENT) for k in selecting.reads)
        plan = self._plans.get((selecting, seen))
        if plan is None:
            rules = _rules_on(selecting.overrides, cluster)
            self.used.update((a.override.label, a.index) for a in rules)
            operations = None
            if rules and not rules[-1].deletes:
                steps = [_operations(a.override, a.index, cluster) for a in rules]
                if all(missing is None for _ops, missing in steps):
                    operations = json.dumps([ops for ops, _ in steps], sort_keys=True)
            plan = self._plans[(selecting, seen)] = _Plan(rules, _labels_applied(rules), operations)
        return plan

    def overridden(self, obj: RenderedObject, plan: _Plan, cluster: Cluster) -> RenderedObject:
        """``obj`` after ``plan``'s rules (none deletes) on ``cluster``: shared with every
        cluster where the same object gets the same plan, or the same body the same operations
        (a patch that failed is tried, and reported, again on each cluster)."""
        done = self._objects.get((id(obj), plan))
        if done is not None:
            return done[1]
        if plan.operations is None:
            return _apply_rules(obj, plan.rules, cluster, self.diags)
        shared = self._bodies.get((id(obj.body), plan.operations))
        if shared is not None:
            result = dataclasses.replace(
                obj, body=shared[1], overrides=plan.labels, original=obj.body
            )
        else:
            errors = len(self.diags.errors)
            result = _apply_rules(obj, plan.rules, cluster, self.diags)
            if len(self.diags.errors) != errors:
                return result
            self._bodies[(id(obj.body), plan.operations)] = (obj.body, result.body)
        self._objects[(id(obj), plan)] = (obj, result)
        return result


def _reads(overrides: list[Override]) -> tuple[str, ...] | None:
    """The cluster labels the rules of ``overrides`` read; None when a value names the cluster
    (or a selector has a shape ``cluster_matches`` would not read by label alone)."""
    found: dict[str, None] = {}
    for ov in overrides:
        for rule in ov.rules:
            selector = rule.get("clusterSelector")
            terms = (selector.get("clusterSelectorTerms") or []) if selector is not None else []
            for term in terms:
                keys = _selector_keys(term.get("labelSelector"))
                if keys is None:
                    return None
                found.update(dict.fromkeys(keys))
            for patch in rule.get("jsonPatchOverrides") or []:
                for text in _strings(patch.get("value")):
                    if CLUSTER_NAME_VARIABLE in text:
                        return None
                    found.update(dict.fromkeys(_LABEL_VARIABLE.findall(text)))
    return tuple(found)


def _selector_keys(selector: Any) -> list[str] | None:
    """The label keys ``labels.matches`` reads; None for a shape it does not expect."""
    if not selector:
        return []
    if not isinstance(selector, dict):
        return None
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        return None
    keys = list(match_labels)
    for expr in expressions:
        if not isinstance(expr, dict) or not isinstance(expr.get("key"), str):
            return None
        keys.append(expr["key"])
    return keys


def _strings(value: Any) -> Iterator[str]:
    """Every string in a patch value, mapping keys included (``substitute`` replaces both)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)


def _operations(
    ov: Override, index: int, cluster: Cluster
) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
    """One rule's JSON patch operations with the member-cluster variables replaced, and the
    (patch number, label) of the first label the cluster lacks."""
    operations = []
    for number, patch in enumerate(ov.rules[index]["jsonPatchOverrides"]):
        operation = {"op": patch["op"], "path": patch["path"]}
        if "value" in patch:
            value, missing = substitute(patch["value"], cluster)
            if missing:
                return operations, (number, missing)
            operation["value"] = value
        operations.append(operation)
    return operations, None


def _apply_rules(
    obj: RenderedObject, rules: list[Applied], cluster: Cluster, diags: Diagnostics
) -> RenderedObject:
    body = obj.body
    for applied in rules:
        ov, index = applied.override, applied.index
        if secrets.has_sops_metadata(body):
            diags.error(
                f"{ov.title} rule {index} on cluster {cluster.name!r} would modify "
                f"{obj.key}, which is SOPS-encrypted: its MAC covers every value, so Flux "
                "could no longer decrypt it",
                ov.pos("policy", "overrideRules", index),
                hint="change the object before encrypting it, or use a Delete rule",
            )
            return obj
        before = set(secrets.plain_paths(obj.key.kind, body))
        if body is obj.body:
            # One private copy per object and cluster, which every rule then patches in
            # place: a copy per rule made large objects cost rules x clusters copies.
            body = copy.deepcopy(body)
        patched = _patch(body, ov, index, cluster, obj, diags)
        if patched is None:
            return obj
        broken = _broken_metadata(patched)
        if broken:
            diags.error(
                f"{ov.title} rule {index} on cluster {cluster.name!r} leaves {obj.key} "
                f"with metadata.{broken} that does not map strings to strings",
                ov.pos("policy", "overrideRules", index),
                hint="quote values such as 'true' or '1'",
            )
            return obj
        leaks = set(secrets.plain_paths(obj.key.kind, patched)) - before
        if leaks:
            diags.error(
                f"{ov.title} rule {index} on cluster {cluster.name!r} leaves {obj.key} "
                f"with Secret payload in clear text ({', '.join(sorted(leaks))}); it would "
                "be committed to the rendered output",
                ov.pos("policy", "overrideRules", index),
                hint=secrets.HINT,
            )
            return obj
        body = patched
    return dataclasses.replace(obj, body=body, overrides=_labels_applied(rules), original=obj.body)


def _broken_metadata(body: dict[str, Any]) -> str | None:
    """``labels`` or ``annotations`` when a patch left it other than a string -> string map
    (Kubernetes would refuse the object; the layout adds annotations to the map)."""
    metadata = body.get("metadata")
    for name in ("labels", "annotations"):
        value = metadata.get(name) if isinstance(metadata, dict) else None
        if value is not None and not (
            isinstance(value, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            return name
    return None


def _patch(
    body: dict[str, Any],
    ov: Override,
    index: int,
    cluster: Cluster,
    obj: RenderedObject,
    diags: Diagnostics,
) -> dict[str, Any] | None:
    """One rule's JSON patches applied to ``body`` in place (the caller's private copy); None
    (and a diagnostic) on failure, when the caller drops the copy."""
    where = f"{ov.title} rule {index} on cluster {cluster.name!r} for {obj.key}"
    rule_pos = ov.pos("policy", "overrideRules", index)
    operations, missing = _operations(ov, index, cluster)
    if missing is not None:
        number, label = missing
        diags.error(
            f"{where}: cluster has no label {label!r} (${{MEMBER-CLUSTER-LABEL-KEY-{label}}})",
            ov.pos("policy", "overrideRules", index, "jsonPatchOverrides", number, "value"),
        )
        return None
    try:
        return jsonpatch.JsonPatch(operations).apply(body, in_place=True)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        problem = re.split(r" in [{\[]", str(exc), maxsplit=1)[0]  # not the whole document
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        problem = repr(exc)
    diags.error(f"{where}: the patch fails: {problem}", rule_pos, hint=f"object from {obj.source}")
    return None


def substitute(value: Any, cluster: Cluster) -> tuple[Any, str | None]:
    """``value`` with the member-cluster variables replaced as strings (keys included), and the
    first label the cluster lacks (None when all are present)."""
    missing: list[str] = []

    def text(s: str) -> str:
        s = s.replace(CLUSTER_NAME_VARIABLE, cluster.name)

        def label(match: re.Match[str]) -> str:
            if match.group(1) not in cluster.labels:
                missing.append(match.group(1))
                return match.group(0)
            return cluster.labels[match.group(1)]

        return _LABEL_VARIABLE.sub(label, s)

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return text(node)
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, dict):
            return {text(k): walk(v) for k, v in node.items()}
        return node

    result = walk(value)
    return result, (missing[0] if missing else None)
