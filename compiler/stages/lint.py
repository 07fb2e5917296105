"""The lint stage: valid input that probably is not what its author meant. Pure.

Runs on the compiled fleet, after the sections, and reports warnings with stable codes
(``core.lints``): selector labels no cluster has, objects no placement selects, overrides,
envelopes and templates that change nothing, Services that select no pod placed with them, and
selections kept only by fleet.lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..core import lints
from ..core.diagnostics import Diagnostics, Position, did_you_mean, field_path
from ..core.model import Fleet, HubObject, Located, ObjectKey
from ..core.placed import ClusterObjects
from .envelopes import is_envelope
from .override import Overridden
from .schedule import Outcome
from .select import is_excluded
from .templates import Expanded

# Subtrees whose labelSelectors select hub objects, not clusters.
_OBJECT_SELECTORS = frozenset({"resourceSelectors", "clusterResourceSelectors"})
WORKLOAD_TEMPLATES = {
    ("", "Pod"): (),
    ("apps", "Deployment"): ("spec", "template"),
    ("apps", "StatefulSet"): ("spec", "template"),
    ("apps", "DaemonSet"): ("spec", "template"),
    ("apps", "ReplicaSet"): ("spec", "template"),
    ("batch", "Job"): ("spec", "template"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template"),
}


@dataclass(frozen=True)
class LintInput:
    """What the lints read: the stages' results."""

    expanded: Expanded
    selections: Mapping[str, tuple[HubObject, ...]]
    outcomes: Mapping[str, Outcome]
    overridden: Overridden
    clusters: ClusterObjects


def lint(given: LintInput, diags: Diagnostics) -> None:
    fleet = given.expanded.fleet
    linter = lints.Linter(diags, _ignores(fleet))
    _selector_labels(fleet, linter, given)
    _unselected(given, linter)
    _ineffective_overrides(given.overridden, linter)
    _services(given, linter)
    _kept_by_lock(fleet, given.outcomes, linter)


def _ignores(fleet: Fleet) -> list[lints.Ignore]:
    settings = fleet.spec.get("lints")
    entries = settings.get("ignore") if isinstance(settings, dict) else None
    return [
        lints.Ignore(str(e["code"]), tuple(e.get("files") or ()))
        for e in entries or []
        if isinstance(e, dict) and "code" in e
    ]


# -- FLEET001: selector labels -------------------------------------------------------------


def _cluster_selectors(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple, dict]]:
    """Every cluster ``labelSelector`` below ``node`` with its path (object selectors left out)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _OBJECT_SELECTORS:
                continue
            if key == "labelSelector" and isinstance(value, dict):
                yield (*path, key), value
            else:
                yield from _cluster_selectors(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _cluster_selectors(value, (*path, index))


def _topology_keys(policy: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple, str]]:
    constraints = policy.get("topologySpreadConstraints") if isinstance(policy, dict) else None
    for index, constraint in enumerate(constraints if isinstance(constraints, list) else []):
        if isinstance(constraint, dict) and isinstance(constraint.get("topologyKey"), str):
            yield (
                (*path, "topologySpreadConstraints", index, "topologyKey"),
                constraint["topologyKey"],
            )


def _selector_labels(fleet: Fleet, linter: lints.Linter, given: LintInput) -> None:
    values: dict[str, set[str]] = {}
    for cluster in fleet.clusters.values():
        for key, value in cluster.labels.items():
            values.setdefault(key, set()).add(value)
    if not fleet.clusters:
        return
    where: list[tuple[Located, Any]] = [(p, p.spec) for p in fleet.placements]
    where += [(ov, ov.spec) for ov in given.overridden.overrides]
    for section in ("services", "loadBalancers"):
        if isinstance(fleet.spec.get(section), dict):
            where.append((Located(fleet.doc, ("spec", section)), fleet.spec[section]))
    for located, spec in where:
        for path, selector in _cluster_selectors(spec, ()):
            for key, wanted, at in _requirements(selector):
                _check_label(linter, located, (*path, *at), key, wanted, values)
    for placement in fleet.placements:
        for path, key in _topology_keys(placement.policy, ("policy",)):
            _check_label(linter, placement, path, key, [], values)


def _requirements(selector: dict[str, Any]) -> Iterator[tuple[str, list[str], tuple]]:
    """(key, values that must be present, path) of each requirement that names a label."""
    match_labels = selector.get("matchLabels")
    for key, value in (match_labels if isinstance(match_labels, dict) else {}).items():
        yield str(key), [str(value)], ("matchLabels", key)
    expressions = selector.get("matchExpressions")
    for index, expr in enumerate(expressions if isinstance(expressions, list) else []):
        if not isinstance(expr, dict) or not isinstance(expr.get("key"), str):
            continue
        wanted = [str(v) for v in expr.get("values") or []] if expr.get("operator") == "In" else []
        yield expr["key"], wanted, ("matchExpressions", index, "key")


def _check_label(
    linter: lints.Linter,
    where: Located,
    path: tuple[str | int, ...],
    key: str,
    wanted: list[str],
    values: dict[str, set[str]],
) -> None:
    full = field_path((*where.base, *path))
    if key not in values:
        linter.warn(
            lints.SELECTOR_LABEL,
            f"no inventory cluster has the label {key!r}",
            where.pos(*path),
            full,
            hint=did_you_mean(key, values) or f"known label keys: {', '.join(sorted(values))}",
        )
        return
    missing = [v for v in wanted if v not in values[key]]
    if missing and len(missing) == len(wanted):
        known = sorted(values[key])
        linter.warn(
            lints.SELECTOR_LABEL,
            f"no inventory cluster has {key}={missing[0]!r}"
            + (f" (nor {', '.join(repr(v) for v in missing[1:])})" if missing[1:] else ""),
            where.pos(*path),
            full,
            hint=did_you_mean(missing[0], known) or f"values of {key!r}: {', '.join(known)}",
        )


# -- FLEET002 / FLEET004: objects, envelopes and templates no placement selects ------------


def _unselected(given: LintInput, linter: lints.Linter) -> None:
    fleet = given.expanded.fleet
    selected = {obj.key for objects in given.selections.values() for obj in objects}
    if not fleet.placements:
        return
    namespaces = sorted(
        {k.name for k in selected if k.kind == "Namespace" and not k.group}
        | {k.namespace for k in selected if k.namespace}
    )
    unselected = [
        (key, obj)
        for key, obj in fleet.objects.items()
        if key not in selected and not is_excluded(obj, fleet)
    ]
    # An unselected hub Namespace speaks for the objects in it.
    quiet = {key.name for key, _ in unselected if key.kind == "Namespace" and not key.group}
    inside = {name: sum(1 for k, _ in unselected if k.namespace == name) for name in quiet}
    for key, obj in unselected:
        if key.namespace in quiet:
            continue
        silenced = lints.ignored_codes((obj.body.get("metadata") or {}).get("annotations"))
        template = given.expanded.origin.get(key)
        hint = None
        if key.namespace and namespaces and key.namespace not in namespaces:
            close = did_you_mean(key.namespace, namespaces)
            hint = f"its namespace {key.namespace!r} is not placed; {close}" if close else None
        if template is not None:
            linter.warn(
                lints.INEFFECTIVE_ENVELOPE_OR_TEMPLATE,
                f"template {template} renders {key}, which no placement selects",
                Position(template),
                hint=hint or "select it (or its namespace) in a placement, or remove it",
                silenced_by=silenced,
            )
            continue
        code = lints.INEFFECTIVE_ENVELOPE_OR_TEMPLATE if is_envelope(key) else None
        held = inside.get(key.name, 0) if key.kind == "Namespace" and not key.group else 0
        linter.warn(
            code or lints.UNSELECTED_OBJECT,
            f"{key} is selected by no placement: it reaches no cluster"
            + (f" (nor do the {held} object(s) in it)" if held else ""),
            obj.pos("metadata", "name"),
            "metadata.name",
            hint=hint or "select it (or its namespace) in a placement, or remove it",
            silenced_by=silenced,
        )


# -- FLEET003: overrides that change nothing -----------------------------------------------


def _ineffective_overrides(overridden: Overridden, linter: lints.Linter) -> None:
    for ov in overridden.overrides:
        used = [i for i in range(len(ov.rules)) if (ov.label, i) in overridden.rules_used]
        if not used:
            linter.warn(
                lints.INEFFECTIVE_OVERRIDE,
                f"{ov.title} changes nothing: no rule applies to a placed object on any cluster",
                ov.where,
                hint="check its selectors (group, version, kind, name) and the rules' "
                "clusterSelector against the clusters its objects are placed on",
            )
            continue
        for index in range(len(ov.rules)):
            if index not in used:
                linter.warn(
                    lints.INEFFECTIVE_OVERRIDE,
                    f"{ov.title} rule {index} applies on no cluster where its objects are placed",
                    ov.pos("policy", "overrideRules", index),
                    field_path((*ov.base, "policy", "overrideRules", index)),
                    hint="its clusterSelector matches none of those clusters (no selector "
                    "matches no cluster; clusterSelectorTerms: [] matches all)",
                )


# -- FLEET005 / FLEET006: Services without pods --------------------------------------------


def _pod_templates(objects: Mapping[ObjectKey, Any]) -> dict[str, list[dict[str, Any]]]:
    """The pod templates of the workloads among ``objects``, by namespace."""
    found: dict[str, list[dict[str, Any]]] = {}
    for key, obj in objects.items():
        path = WORKLOAD_TEMPLATES.get((key.group, key.kind))
        if path is None:
            continue
        node: Any = obj.body
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            found.setdefault(key.namespace, []).append(node)
    return found


def _labels(template: dict[str, Any]) -> dict[str, Any]:
    metadata = template.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    return labels if isinstance(labels, dict) else {}


def _items(node: Any, key: str) -> list[Any]:
    """``node[key]`` when it is a list (hub manifests are not schema-checked here)."""
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, list) else []


def _port_names(template: dict[str, Any]) -> set[str]:
    spec = template.get("spec")
    return {
        port["name"]
        for group in ("containers", "initContainers")
        for container in _items(spec, group)
        for port in _items(container, "ports")
        if isinstance(port, dict) and isinstance(port.get("name"), str)
    }


def _unmatched(
    spec: dict[str, Any], selector: dict[str, Any], templates: list[dict[str, Any]]
) -> list[str] | None:
    """The named target ports of a Service that no pod it selects names, in port order; None
    when it selects no pod of ``templates``."""
    pods = [t for t in templates if all(_labels(t).get(k) == v for k, v in selector.items())]
    if not pods:
        return None
    names = set().union(*(_port_names(t) for t in pods))
    missing = []
    for port in _items(spec, "ports"):
        target = port.get("targetPort") if isinstance(port, dict) else None
        if isinstance(target, str) and target not in names:
            missing.append(target)
    return missing


def _services(given: LintInput, linter: lints.Linter) -> None:
    fleet = given.expanded.fleet
    lonely: dict[ObjectKey, list[str]] = {}
    unnamed: dict[tuple[ObjectKey, str], list[str]] = {}
    bodies: dict[ObjectKey, Any] = {}
    # Clusters share bodies: (id of a Service's body, ids of its namespace's pod templates)
    # -> (them, kept so that the ids stay theirs; the verdict).
    verdicts: dict[tuple[int, tuple[int, ...]], tuple[Any, list[str] | None]] = {}
    for cluster, objects in given.clusters.items():
        templates: dict[str, list[dict[str, Any]]] | None = None
        for key, obj in objects.items():
            if key.group or key.kind != "Service" or not isinstance(obj.body.get("spec"), dict):
                continue
            selector = obj.body["spec"].get("selector")
            if not isinstance(selector, dict) or not selector:
                continue
            bodies.setdefault(key, obj)
            if templates is None:
                templates = _pod_templates(objects)
            near = templates.get(key.namespace, [])
            seen = (id(obj.body), tuple(map(id, near)))
            if seen not in verdicts:
                verdicts[seen] = ((obj.body, near), _unmatched(obj.body["spec"], selector, near))
            missing = verdicts[seen][1]
            if missing is None:
                lonely.setdefault(key, []).append(cluster)
                continue
            for target in missing:
                unnamed.setdefault((key, target), []).append(cluster)
    for key, clusters in sorted(lonely.items()):
        obj = bodies[key]
        silenced = lints.ignored_codes((obj.body.get("metadata") or {}).get("annotations"))
        linter.warn(
            lints.SERVICE_SELECTS_NO_POD,
            f"Service {key.namespace}/{key.name} selects no pod template placed with it on "
            f"cluster(s) {', '.join(clusters)}: it has no endpoints there",
            _position(fleet, key, obj.source, ("spec", "selector")),
            "spec.selector",
            hint="match the labels of the workload's pod template, or place the workload on "
            "the same clusters",
            silenced_by=silenced,
        )
    for (key, target), clusters in sorted(unnamed.items()):
        obj = bodies[key]
        silenced = lints.ignored_codes((obj.body.get("metadata") or {}).get("annotations"))
        linter.warn(
            lints.UNKNOWN_TARGET_PORT,
            f"Service {key.namespace}/{key.name} targets port {target!r}, which no container "
            f"it selects names on cluster(s) {', '.join(clusters)}",
            _position(fleet, key, obj.source, ("spec", "ports")),
            "spec.ports",
            hint="name the container port, or use its number",
            silenced_by=silenced,
        )


def _position(fleet: Fleet, key: ObjectKey, source: str, path: tuple[str, ...]) -> Position:
    hub = fleet.objects.get(key)
    return hub.pos(*path) if hub is not None else Position(source.split("#", 1)[0])


# -- FLEET007: selections kept only by fleet.lock ------------------------------------------


def _kept_by_lock(fleet: Fleet, outcomes: Mapping[str, Outcome], linter: lints.Linter) -> None:
    for placement in fleet.placements:
        outcome = outcomes.get(placement.name)
        kept = [d.cluster for d in outcome.decisions if d.kept_by_lock] if outcome else []
        if kept:
            linter.warn(
                lints.KEPT_BY_LOCK,
                f"placement {placement.name!r} keeps cluster(s) {', '.join(kept)} only because "
                "fleet.lock remembers them: they no longer pass its filters (KubeFleet keeps a "
                "selection once made)",
                placement.pos(),
                hint=f"'fleetc render --reschedule {placement.name}' drops them; "
                "'fleetc explain' shows why each no longer matches",
            )
