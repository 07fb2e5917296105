"""Will it apply? The changes from the previous output to the new one that the API server
refuses, or that delete and recreate an object. Pure: the shell reads the two output trees.

Checked per cluster, for every object present in both outputs (same group, kind, namespace and
name) whose body changed:

- the immutable fields of built-in kinds (``IMMUTABLE``; the README's table names each rule's
  source in Kubernetes' API validation);
- the CEL transition rules (``x-kubernetes-validations`` that reference ``oldSelf``) of the
  object's CRD, from the cluster's new output or the ``--crds`` folders; a rule cel-python
  cannot evaluate is reported "not checked" (a warning), never as passed;

and, across objects: an object that moves namespace under the same kind and name (Flux prunes
the old one and creates a new one: its data and status are lost), a CRD removed from a cluster
while its custom resources are still rendered there (deleting a CRD deletes every resource of
it), and a Namespace removed while objects are still rendered in it.

Values are never quoted: a Secret's data must not reach a CI log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from ..core import crd_rules, quantity
from ..core.model import ObjectKey, split_api_version
from ..core.output_layout import KUSTOMIZATION

ERROR = "error"
NOT_CHECKED = "not checked"
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path = tuple[str | int, ...]

RECREATE = (
    "rename the object (Flux creates the new one and prunes the old), or delete it and let Flux "
    "recreate it in two commits; Flux's Kustomization 'force: true' also recreates it"
)


@dataclass(frozen=True)
class Obj:
    path: str  # relative to the output folder: <cluster>/...
    body: dict[str, Any]

    @property
    def key(self) -> ObjectKey:
        group, _ = split_api_version(str(self.body.get("apiVersion", "")))
        metadata = self.body.get("metadata") if isinstance(self.body.get("metadata"), dict) else {}
        return ObjectKey(
            group,
            str(self.body.get("kind", "")),
            str(metadata.get("namespace") or ""),
            str(metadata.get("name") or ""),
        )


@dataclass(frozen=True)
class Finding:
    cluster: str
    key: str  # Kind[.group]/[namespace/]name
    file: str  # the new object's file (the old one's when it is gone), relative to the output
    field: Path  # where in that object
    message: str
    hint: str
    severity: str = ERROR  # ERROR | NOT_CHECKED

    @property
    def field_text(self) -> str:
        return ".".join(str(p) for p in self.field) or "(object)"

    def summary(self) -> str:
        """One line without the field path (a diagnostic carries it separately)."""
        what = "CEL rule not checked" if self.severity == NOT_CHECKED else "will not apply"
        return f"{self.cluster}: {self.key}: {what}: {self.message}"

    def text(self) -> str:
        what = "CEL rule not checked" if self.severity == NOT_CHECKED else "will not apply"
        return f"{self.cluster}: {self.key}: {self.field_text}: {what}: {self.message}"


def parse(path: str, raw: bytes) -> list[Obj]:
    """The objects of one output file. The files are fleetc's own output; one that does not
    parse is left out (``fleetc check`` reports it as stale)."""
    try:
        docs = list(yaml.load_all(raw, Loader=_SafeLoader))
    except yaml.YAMLError:
        return []
    return [Obj(path, doc) for doc in docs if isinstance(doc, dict)]


def _by_cluster(files: dict[str, bytes]) -> dict[str, dict[str, bytes]]:
    found: dict[str, dict[str, bytes]] = {}
    for path, raw in files.items():
        cluster, _, rest = path.partition("/")
        if rest and path.rsplit("/", 1)[-1] != KUSTOMIZATION:
            found.setdefault(cluster, {})[path] = raw
    return found


CrdSchemas = dict[tuple[str, str, str], dict[str, Any]]  # (group, version, kind) -> schema
# fleetc names a CRD's file after its kind (output_layout.object_path).
_CRD_FILE = "customresourcedefinition.apiextensions.k8s.io_"


def check(
    old: dict[str, bytes], new: dict[str, bytes], crds: CrdSchemas | None = None
) -> list[Finding]:
    """Every finding between two output trees (paths relative to the output folder), per
    cluster present in both, sorted. Only the files that differ are parsed (plus, when a CRD or
    Namespace is removed or a custom resource changed, the cluster's new files that tell)."""
    findings: list[Finding] = []
    before_all, after_all = _by_cluster(old), _by_cluster(new)
    for cluster in sorted(set(before_all) & set(after_all)):
        findings.extend(_cluster(cluster, before_all[cluster], after_all[cluster], crds or {}))
    return findings


class _Side:
    """One cluster's new output, parsed only as far as needed."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self._all: list[Obj] | None = None
        self._crds: CrdSchemas | None = None

    def all(self) -> list[Obj]:
        if self._all is None:
            self._all = [o for path in sorted(self.files) for o in parse(path, self.files[path])]
        return self._all

    def crds(self) -> CrdSchemas:
        if self._crds is None:
            paths = [p for p in sorted(self.files) if p.rsplit("/", 1)[-1].startswith(_CRD_FILE)]
            self._crds = _own_crds([o for p in paths for o in parse(p, self.files[p])])
        return self._crds


def _cluster(
    cluster: str, old: dict[str, bytes], new: dict[str, bytes], external: CrdSchemas
) -> list[Finding]:
    differ = sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p))
    before = {o.key: o for p in differ if p in old for o in parse(p, old[p])}
    after = {o.key: o for p in differ if p in new for o in parse(p, new[p])}
    side = _Side(new)
    findings: list[Finding] = []
    for key in sorted(set(before) & set(after), key=str):
        a, b = before[key], after[key]
        if a.body == b.body:
            continue
        for rule in IMMUTABLE:
            if (rule.group, rule.kind) == (key.group, key.kind):
                for path, message in rule.check(a.body, b.body):
                    hint = rule.hint or RECREATE
                    findings.append(Finding(cluster, str(key), b.path, path, message, hint))
        if "." in key.group:  # built-in groups without a dot (apps, batch) have no CRD
            findings.extend(_cel(cluster, key, a, b, {**external, **side.crds()}))
    findings.extend(_moves(cluster, before, after))
    findings.extend(_removed_crds(cluster, list(before.values()), after, side))
    findings.extend(_removed_namespaces(cluster, before, after, side))
    return sorted(findings, key=lambda f: (f.cluster, f.key, f.field_text, f.message))


# --- CRDs and their CEL transition rules -------------------------------------------------


def _crd_names(body: dict[str, Any]) -> tuple[str, str] | None:
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    group, kind = spec.get("group"), names.get("kind")
    return (group, kind) if isinstance(group, str) and isinstance(kind, str) else None


def _is_crd(obj: Obj) -> bool:
    return (obj.key.group, obj.key.kind) == ("apiextensions.k8s.io", "CustomResourceDefinition")


def _own_crds(objects: list[Obj]) -> CrdSchemas:
    schemas: CrdSchemas = {}
    for obj in objects:
        names = _crd_names(obj.body) if _is_crd(obj) else None
        if names is None:
            continue
        for version in obj.body["spec"].get("versions") or []:
            name = version.get("name") if isinstance(version, dict) else None
            schema = crd_rules.served_schema(obj.body, name) if isinstance(name, str) else None
            if schema is not None:
                schemas[(names[0], name, names[1])] = schema
    return schemas


def _cel(cluster: str, key: ObjectKey, a: Obj, b: Obj, schemas: CrdSchemas) -> list[Finding]:
    _, version = split_api_version(str(b.body.get("apiVersion", "")))
    schema = schemas.get((key.group, version, key.kind))
    if schema is None:
        return []
    found: list[Finding] = []
    for result in crd_rules.check(schema, b.body, a.body, transitions=True):
        if result.outcome == crd_rules.VIOLATED:
            message = f"{result.message} (CRD transition rule: {result.rule})"
            hint = f"keep the old value, or {RECREATE}"
            found.append(Finding(cluster, str(key), b.path, result.path, message, hint))
        else:
            message = f"{result.rule} ({result.reason})"
            hint = "check this change by hand, or with a server-side dry run against a cluster"
            found.append(
                Finding(cluster, str(key), b.path, result.path, message, hint, NOT_CHECKED)
            )
    return found


def _removed_crds(
    cluster: str, old: list[Obj], after: dict[ObjectKey, Obj], side: _Side
) -> list[Finding]:
    found: list[Finding] = []
    for crd in (o for o in old if _is_crd(o) and o.key not in after):
        names = _crd_names(crd.body)
        if names is None or any(_is_crd(o) and _crd_names(o.body) == names for o in side.all()):
            continue
        users = sorted(str(o.key) for o in side.all() if (o.key.group, o.key.kind) == names)
        if not users:
            continue
        shown = ", ".join(users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
        message = (
            f"the CRD of {names[1]}.{names[0]} is removed from the cluster while {len(users)} of "
            f"its resources stay rendered ({shown}); deleting a CRD deletes all its resources"
        )
        hint = (
            "keep rendering the CRD while its resources are placed on this cluster, or remove "
            "the resources first and the CRD in a later commit"
        )
        found.append(Finding(cluster, str(crd.key), crd.path, (), message, hint))
    return found


def _removed_namespaces(
    cluster: str, before: dict[ObjectKey, Obj], after: dict[ObjectKey, Obj], side: _Side
) -> list[Finding]:
    found: list[Finding] = []
    for key in sorted(before, key=str):
        if (key.group, key.kind) != ("", "Namespace") or key in after:
            continue
        if any(o.key == key for o in side.all()):
            continue  # still rendered (unchanged, so not among the differing files)
        users = sorted(str(o.key) for o in side.all() if o.key.namespace == key.name)
        if users:
            shown = ", ".join(users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
            message = (
                f"Namespace {key.name} is removed (Flux prunes it, and with it every object in "
                f"it) while {len(users)} object(s) stay rendered in it ({shown})"
            )
            hint = "keep rendering the Namespace while objects are placed in it"
            found.append(Finding(cluster, str(key), before[key].path, (), message, hint))
    return found


def _moves(
    cluster: str, before: dict[ObjectKey, Obj], after: dict[ObjectKey, Obj]
) -> list[Finding]:
    gone = [k for k in before if k not in after and k.namespace]
    arrived: dict[tuple[str, str, str], list[ObjectKey]] = {}
    for key in after:
        if key not in before and key.namespace:
            arrived.setdefault((key.group, key.kind, key.name), []).append(key)
    found: list[Finding] = []
    for key in sorted(gone, key=str):
        for target in sorted(arrived.get((key.group, key.kind, key.name), []), key=str):
            message = (
                f"moves from namespace {key.namespace} to {target.namespace}: Flux prunes the "
                "old object and creates a new one (its data, volumes and status do not move)"
            )
            hint = (
                "if the object holds state, migrate it first; otherwise confirm the recreate "
                "(the old one is deleted when Flux prunes)"
            )
            field = ("metadata", "namespace")
            found.append(Finding(cluster, str(target), after[target].path, field, message, hint))
    return found


# --- immutable fields of built-in kinds ---------------------------------------------------

_ABSENT = object()


def _get(body: Any, path: Path, default: Any = _ABSENT) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(body, list) or part >= len(body):
                return default
            body = body[part]
        elif isinstance(body, dict) and part in body:
            body = body[part]
        else:
            return default
    return body


def _changed(
    old: dict[str, Any], new: dict[str, Any], path: Path, default: Any = _ABSENT
) -> list[tuple[Path, str]]:
    if _get(old, path, default) == _get(new, path, default):
        return []
    return [(path, "field is immutable")]


def _fields(*paths: Path, defaults: dict[Path, Any] | None = None) -> Check:
    def check(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[Path, str]]:
        found: list[tuple[Path, str]] = []
        for path in paths:
            found += _changed(old, new, path, (defaults or {}).get(path, _ABSENT))
        return found

    return check


Check = Callable[[dict[str, Any], dict[str, Any]], list[tuple[Path, str]]]

# StatefulSet: ValidateStatefulSetUpdate allows only these spec fields to change.
_STS_MUTABLE = {
    "replicas",
    "template",
    "updateStrategy",
    "minReadySeconds",
    "ordinals",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
}
_STS_DEFAULTS = {"podManagementPolicy": "OrderedReady"}


def _statefulset(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[Path, str]]:
    a, b = _get(old, ("spec",), {}), _get(new, ("spec",), {})
    a, b = (a if isinstance(a, dict) else {}), (b if isinstance(b, dict) else {})
    found: list[tuple[Path, str]] = []
    for name in sorted((set(a) | set(b)) - _STS_MUTABLE):
        default = _STS_DEFAULTS.get(name, _ABSENT)
        if a.get(name, default) != b.get(name, default):
            found.append(
                (
                    ("spec", name),
                    "a StatefulSet's spec may change only in replicas, template, updateStrategy, "
                    "minReadySeconds, ordinals, revisionHistoryLimit and "
                    "persistentVolumeClaimRetentionPolicy",
                )
            )
    return found


# A suspended Job's pod template may change in these scheduling directives only.
_JOB_SCHEDULING = (("metadata",), ("spec", "nodeSelector"), ("spec", "tolerations"))
_JOB_SCHEDULING += (("spec", "affinity"), ("spec", "schedulingGates"))


def _without(body: Any, paths: tuple[Path, ...]) -> Any:
    if not isinstance(body, dict):
        return body
    out = {k: v for k, v in body.items()}
    for path in paths:
        target = out
        for part in path[:-1]:
            nested = target.get(part)
            if not isinstance(nested, dict):
                break
            target[part] = dict(nested)
            target = target[part]
        else:
            target.pop(path[-1], None)
    return out


def _job(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[Path, str]]:
    found = _fields(
        ("spec", "selector"),
        ("spec", "completionMode"),
        ("spec", "podFailurePolicy"),
        ("spec", "backoffLimitPerIndex"),
        ("spec", "successPolicy"),
        ("spec", "managedBy"),
        defaults={("spec", "completionMode"): "NonIndexed"},
    )(old, new)
    a, b = _get(old, ("spec", "template")), _get(new, ("spec", "template"))
    suspended = _get(old, ("spec", "suspend")) is True and _get(new, ("spec", "suspend")) is True
    if suspended:
        a, b = _without(a, _JOB_SCHEDULING), _without(b, _JOB_SCHEDULING)
    if a != b:
        found.append((("spec", "template"), "field is immutable"))
    # Elastic Indexed Jobs may change completions together with parallelism.
    elastic = _get(new, ("spec", "completionMode")) == "Indexed" and _get(
        new, ("spec", "completions")
    ) == _get(new, ("spec", "parallelism"))
    if not elastic:
        found += _changed(old, new, ("spec", "completions"))
    return sorted(found)


def _service(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[Path, str]]:
    kinds = (_get(old, ("spec", "type"), "ClusterIP"), _get(new, ("spec", "type"), "ClusterIP"))
    if "ExternalName" in kinds:
        return []  # the API server clears or allocates the address on these transitions
    found: list[tuple[Path, str]] = []
    for field in ("clusterIP", "clusterIPs"):
        before, after = _get(old, ("spec", field), None), _get(new, ("spec", field), None)
        if after in (None, "", []) or before == after:
            continue  # left out: the server keeps the allocated address
        found.append(
            (
                ("spec", field),
                "field is immutable: the address is allocated when the Service is created"
                + ("" if before not in (None, "", []) else " (the previous output left it out)"),
            )
        )
    headless = _get(old, ("spec", "clusterIP")) == "None" or _get(old, ("spec", "clusterIPs")) == [
        "None"
    ]
    if headless and kinds[1] in ("NodePort", "LoadBalancer"):
        found.append(
            (
                ("spec", "type"),
                f"a headless Service (clusterIP None) cannot become type {kinds[1]}",
            )
        )
    if kinds == ("LoadBalancer", "LoadBalancer"):
        before = _get(old, ("spec", "loadBalancerClass"), None)
        if before is not None and before != _get(new, ("spec", "loadBalancerClass"), None):
            found.append((("spec", "loadBalancerClass"), "may not change once set"))
    families = (
        _get(old, ("spec", "ipFamilies", 0), None),
        _get(new, ("spec", "ipFamilies", 0), None),
    )
    if None not in families and families[0] != families[1]:
        found.append((("spec", "ipFamilies", 0), "the primary IP family is immutable"))
    return found


def _pvc(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for field in ("storageClassName", "volumeName"):
        before = _get(old, ("spec", field), None)
        if before is not None and before != _get(new, ("spec", field), None):
            found.append((("spec", field), "field is immutable once set"))
    storage = ("spec", "resources", "requests", "storage")
    before, after = (
        quantity.parse(_get(old, storage, None)),
        quantity.parse(_get(new, storage, None)),
    )
    if before is not None and after is not None and after < before:
        found.append((storage, "a claim's storage request cannot shrink"))
    free = (("resources", "requests", "storage"), ("volumeAttributesClassName",))
    free += (("storageClassName",), ("volumeName",))
    a = _without(_get(old, ("spec",), {}), free)
    b = _without(_get(new, ("spec",), {}), free)
    if isinstance(a, dict) and isinstance(b, dict):
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name) and not (name == "resources" and _empty(a, b, name)):
                found.append(
                    (
                        ("spec", name),
                        "a claim's spec is immutable after creation except "
                        "resources.requests.storage (growing) and volumeAttributesClassName",
                    )
                )
    return found


def _empty(a: dict[str, Any], b: dict[str, Any], name: str) -> bool:
    """resources left with nothing but an emptied ``requests`` on both sides."""

    def bare(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: bare(v) for k, v in value.items() if bare(v) not in ({}, None)}
        return value

    return bare(a.get(name)) in ({}, None) and bare(b.get(name)) in ({}, None)


def _immutable_data(fields: tuple[str, ...]) -> Check:
    def check(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[Path, str]]:
        if _get(old, ("immutable",), None) is not True:
            return []
        found: list[tuple[Path, str]] = []
        if _get(new, ("immutable",), None) is not True:
            found.append((("immutable",), "an immutable object cannot be made mutable"))
        for field in fields:
            if _get(old, (field,), None) != _get(new, (field,), None):
                found.append(((field,), "field is immutable when `immutable` is true"))
        return found

    return check


def _secret(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[Path, str]]:
    found = _changed(old, new, ("type",), "Opaque")
    return found + _immutable_data(("data", "stringData"))(old, new)


@dataclass(frozen=True)
class Immutable:
    group: str
    kind: str
    fields: str  # for the README table
    source: str  # the Kubernetes API validation function that refuses the change
    check: Check
    hint: str = ""


VALIDATION = "k8s.io/kubernetes pkg/apis/{}/validation"
IMMUTABLE: tuple[Immutable, ...] = (
    Immutable(
        "apps",
        "Deployment",
        "spec.selector",
        "ValidateDeploymentUpdate (" + VALIDATION.format("apps") + ")",
        _fields(("spec", "selector")),
    ),
    Immutable(
        "apps",
        "ReplicaSet",
        "spec.selector",
        "ValidateReplicaSetUpdate (" + VALIDATION.format("apps") + ")",
        _fields(("spec", "selector")),
    ),
    Immutable(
        "apps",
        "DaemonSet",
        "spec.selector",
        "ValidateDaemonSetUpdate (" + VALIDATION.format("apps") + ")",
        _fields(("spec", "selector")),
    ),
    Immutable(
        "apps",
        "StatefulSet",
        "spec.* except replicas, template, updateStrategy, minReadySeconds, ordinals, "
        "revisionHistoryLimit, persistentVolumeClaimRetentionPolicy (so selector, serviceName, "
        "volumeClaimTemplates, podManagementPolicy)",
        "ValidateStatefulSetUpdate (" + VALIDATION.format("apps") + ")",
        _statefulset,
    ),
    Immutable(
        "batch",
        "Job",
        "spec.selector, spec.template (a suspended Job: except its scheduling directives), "
        "spec.completions (except elastic Indexed Jobs), spec.completionMode, "
        "spec.podFailurePolicy, spec.backoffLimitPerIndex, spec.successPolicy, spec.managedBy",
        "ValidateJobSpecUpdate (" + VALIDATION.format("batch") + ")",
        _job,
        "a Job's pod template cannot change: rename the Job (a new Job runs) or delete the old "
        "one first; Flux's Kustomization 'force: true' recreates it",
    ),
    Immutable(
        "",
        "Service",
        "spec.clusterIP, spec.clusterIPs (once allocated), type NodePort/LoadBalancer from "
        "headless, spec.loadBalancerClass (once set), spec.ipFamilies[0]",
        "ValidateServiceUpdate (" + VALIDATION.format("core") + ")",
        _service,
        "leave spec.clusterIP out (the cluster allocates it and keeps it), or rename the "
        "Service / delete and recreate it in two commits",
    ),
    Immutable(
        "",
        "PersistentVolumeClaim",
        "spec.* except resources.requests.storage (growing only) and volumeAttributesClassName; "
        "storageClassName and volumeName once set",
        "ValidatePersistentVolumeClaimUpdate (" + VALIDATION.format("core") + ")",
        _pvc,
        "a claim cannot be changed in place: create a new claim (new name) and migrate the data",
    ),
    Immutable(
        "",
        "ConfigMap",
        "data, binaryData and immutable, when immutable is true",
        "ValidateConfigMapUpdate (" + VALIDATION.format("core") + ")",
        _immutable_data(("data", "binaryData")),
        "an immutable ConfigMap is replaced, not updated: render it under a new name (for example "
        "with a content hash suffix) and point the workloads to it",
    ),
    Immutable(
        "",
        "Secret",
        "type; data, stringData and immutable when immutable is true",
        "ValidateSecretUpdate (" + VALIDATION.format("core") + ")",
        _secret,
        "render the Secret under a new name and point the workloads to it",
    ),
    Immutable(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        "roleRef",
        "ValidateRoleBindingUpdate (" + VALIDATION.format("rbac") + ")",
        _fields(("roleRef",)),
    ),
    Immutable(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        "roleRef",
        "ValidateClusterRoleBindingUpdate (" + VALIDATION.format("rbac") + ")",
        _fields(("roleRef",)),
    ),
    Immutable(
        "storage.k8s.io",
        "StorageClass",
        "provisioner, parameters, reclaimPolicy, volumeBindingMode",
        "ValidateStorageClassUpdate (" + VALIDATION.format("storage") + ")",
        _fields(
            ("provisioner",),
            ("parameters",),
            ("reclaimPolicy",),
            ("volumeBindingMode",),
            defaults={("reclaimPolicy",): "Delete", ("volumeBindingMode",): "Immediate"},
        ),
    ),
    Immutable(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "spec.scope",
        "ValidateCustomResourceDefinitionUpdate (k8s.io/apiextensions-apiserver "
        "pkg/apis/apiextensions/validation)",
        _fields(("spec", "scope")),
    ),
)
