"""``fleetc validate --rendered``: every object in the output, checked against real schemas.

Built-in kinds are checked against the Kubernetes OpenAPI schema of the cluster's
``kubernetesVersion``, as shipped (strict: unknown fields are errors) by the kubernetes-validate
package; custom resources against the ``openAPIV3Schema`` of the served version of their
CustomResourceDefinition, from the ``--crds`` folders or from the cluster's own output (a CRD
rendered for a cluster is installed there). A kind that is neither is "CRD not installed".

The files checked are the ones in the output folder, as committed: that is what Flux applies
and what CI must vouch for (``fleetc check`` separately proves they are current).
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable

from ..core import crd_rules, secrets
from ..core.diagnostics import Diagnostics, Position
from ..core.model import split_api_version
from ..core.yamlsource import Document
from . import output_tree
from .load import Reader
from .sources import FILE, LINK, FileSource

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable  # Python 3.11+; a name only here

    import jsonschema

KUSTOMIZE_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_SCHEMA_ROOT = "kubernetes-json-schema"
_VERSION_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local-strict$")
_CLUSTER_VERSION = re.compile(r"^v?(\d+)\.(\d+)")
# What a Kubernetes apiVersion and kind may look like (they also name schema files).
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")
_VERSION = re.compile(r"^[a-z0-9]{1,63}$")
_GROUP = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class CustomResourceDefinitions:
    """(group, version, kind) -> openAPIV3Schema of served versions; and what serves a kind."""

    schemas: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    served: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # CRDs whose schema refers outside itself (already reported): their objects are unchecked.
    refused: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, doc: Document, diags: Diagnostics) -> None:
        """Add the CRDs in ``doc``: a CRD, or a List of them (``kubectl get crd -o yaml``)."""
        data = doc.data
        if not isinstance(data, dict):
            return
        kind = data.get("kind")
        items = data.get("items") if isinstance(kind, str) and kind.endswith("List") else [data]
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("kind") == "CustomResourceDefinition":
                self._add_crd(item, doc, diags)

    def _add_crd(self, crd: dict[str, Any], doc: Document, diags: Diagnostics) -> None:
        spec = crd.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
        group, kind = spec.get("group"), names.get("kind")
        versions = spec.get("versions")
        if not (isinstance(group, str) and isinstance(kind, str) and isinstance(versions, list)):
            diags.warning("a CustomResourceDefinition without group, kind or versions", doc.pos())
            return
        for version in versions:
            if not isinstance(version, dict) or version.get("served") is not True:
                continue
            name = version.get("name")
            schema = version.get("schema")
            schema = schema.get("openAPIV3Schema") if isinstance(schema, dict) else None
            if not isinstance(name, str):
                continue
            if not isinstance(schema, dict):
                diags.warning(f"CRD {kind}.{group} {name} has no openAPIV3Schema", doc.pos())
                schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            outside = outside_refs(schema)
            if outside:
                diags.error(
                    f"CRD {kind.lower()}s.{group} {name}: $ref {outside[0]!r} points outside "
                    "the CRD's own schema; it is not followed (no file is read, no request "
                    "is sent)" + (f", nor are {len(outside) - 1} more" if len(outside) > 1 else ""),
                    doc.pos(),
                    hint="a CRD's schema may only refer to its own parts ('#/...'); "
                    "Kubernetes itself refuses $ref in a CRD",
                )
                self.refused.add((group, name, kind))
            self.schemas[(group, name, kind)] = schema
            self.served.setdefault((group, kind), []).append(name)

    def merged(self, other: CustomResourceDefinitions) -> CustomResourceDefinitions:
        served = {k: list(v) for k, v in self.served.items()}
        for key, versions in other.served.items():
            served.setdefault(key, []).extend(versions)
        return CustomResourceDefinitions(
            {**self.schemas, **other.schemas}, served, self.refused | other.refused
        )


@lru_cache(maxsize=1)
def kubernetes_schemas() -> Traversable:
    """kubernetes-validate's folder of OpenAPI schemas, found without running the package (its
    import loads jsonschema, which a valid fleet never needs)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if locations:
        return Path(locations[0]) / _SCHEMA_ROOT
    return resources.files("kubernetes_validate").joinpath(_SCHEMA_ROOT)


@lru_cache(maxsize=1)
def shipped_versions() -> list[tuple[int, int]]:
    """The Kubernetes minor versions whose schemas kubernetes-validate ships, ascending."""
    root = kubernetes_schemas()
    found = {
        (int(m.group(1)), int(m.group(2)))
        for entry in root.iterdir()
        if (m := _VERSION_DIR.match(entry.name))
    }
    return sorted(found)


def schema_version(kubernetes_version: str | None) -> tuple[int, int]:
    """The shipped minor version nearest to a cluster's ``kubernetesVersion``.

    The same minor when shipped; older clusters get the oldest shipped schema, newer ones and
    clusters without a version the newest.
    """
    shipped = shipped_versions()
    match = _CLUSTER_VERSION.match(kubernetes_version or "")
    if match is None:
        return shipped[-1]
    wanted = (int(match.group(1)), int(match.group(2)))
    clamped = min(max(wanted, shipped[0]), shipped[-1])
    return min(shipped, key=lambda v: (abs(v[1] - clamped[1]) if v[0] == clamped[0] else 1000, v))


@lru_cache(maxsize=8)
def _registry(version: tuple[int, int]) -> Registry:
    defs = json.loads(_schema_file(version, "_definitions.json") or "{}")
    return Resource.from_contents(defs) @ Registry()


def _schema_file(version: tuple[int, int], name: str) -> str | None:
    folder = f"v{version[0]}.{version[1]}.0-local-strict"
    path = kubernetes_schemas().joinpath(folder, name)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _file_name(group: str, version: str, kind: str) -> str:
    short = group.split(".", 1)[0]
    return f"{kind.lower()}-{short}-{version}.json" if group else f"{kind.lower()}-{version}.json"


@lru_cache(maxsize=512)
def builtin_validator(
    version: tuple[int, int], group: str, api: str, kind: str
) -> jsonschema.protocols.Validator | None:
    """The strict schema of a built-in kind, or None when this Kubernetes does not serve it."""
    text = _schema_file(version, _file_name(group, api, kind))
    if text is None:
        return None
    schema = json.loads(text)
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    if {"group": group, "version": api, "kind": kind} not in gvks:
        return None
    import jsonschema  # loaded only when something is validated

    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


@lru_cache(maxsize=256)
def builtin_versions(version: tuple[int, int], kind: str) -> tuple[str, ...]:
    """Every apiVersion under which this Kubernetes serves ``kind`` (for messages)."""
    folder = f"v{version[0]}.{version[1]}.0-local-strict"
    root = kubernetes_schemas().joinpath(folder)
    served: set[str] = set()
    for entry in root.iterdir():
        if not entry.name.startswith(kind.lower() + "-"):
            continue
        gvks = json.loads(entry.read_text(encoding="utf-8")).get("x-kubernetes-group-version-kind")
        for gvk in gvks or []:
            if gvk.get("kind") == kind:
                group = gvk.get("group", "")
                served.add(f"{group}/{gvk['version']}" if group else gvk["version"])
    return tuple(sorted(served))


def _refuse(uri: str) -> Resource:
    """A CRD's schema is untrusted: a ``$ref`` may name only a part of that schema. Anything
    else (``http://``, ``file://``, another document) is never fetched nor read."""
    raise NoSuchResource(ref=uri)


# The registry of every CRD schema: empty, and it retrieves nothing. jsonschema's default one
# would fetch http(s) URLs and read files (``file:///dev/zero`` reads until memory runs out).
_LOCAL_ONLY: Registry = Registry(retrieve=_refuse)
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")


def outside_refs(schema: Any) -> list[str]:
    """Every ``$ref`` (and dynamic ref) in ``schema`` that does not point into the schema
    itself (a ``#`` fragment), sorted; and every ref if the schema sets a base (``$id``), which
    would move even ``#`` fragments to another document."""
    refs: set[str] = set()
    based = False
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            based = based or any(isinstance(node.get(key), str) for key in ("$id", "id"))
            for keyword in _REF_KEYWORDS:
                ref = node.get(keyword)
                if keyword in node:
                    refs.add(ref if isinstance(ref, str) else repr(ref))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(refs if based else {r for r in refs if not r.startswith("#")})


# The API server always accepts these at a custom resource's root, declared or not.
_ROOT_FIELDS = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"type": "object"},
}


def crd_validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    root = structural(schema)
    if isinstance(root, dict) and isinstance(root.get("properties"), dict):
        root = {**root, "properties": {**_ROOT_FIELDS, **root["properties"]}}
    import jsonschema  # loaded only when something is validated

    return jsonschema.Draft202012Validator(root, registry=_LOCAL_ONLY)


def structural(schema: Any) -> Any:
    """An OpenAPI v3 (Kubernetes structural) schema as JSON Schema: ``nullable`` allows null,
    and objects with declared properties reject unknown fields (as strict field validation
    does) unless they preserve unknown fields."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        out["properties"] = {name: structural(sub) for name, sub in properties.items()}
        if "additionalProperties" not in schema and not schema.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            out["additionalProperties"] = False
    for keyword in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(keyword), dict):
            out[keyword] = structural(schema[keyword])
    for keyword in ("allOf", "anyOf", "oneOf"):
        if isinstance(schema.get(keyword), list):
            out[keyword] = [structural(sub) for sub in schema[keyword]]
    if schema.get("nullable") and isinstance(schema.get("type"), str):
        out["type"] = [schema["type"], "null"]
    return out


@dataclass
class ClusterOutput:
    name: str
    kubernetes_version: str | None
    # The documents of every object file in the cluster's folder (bundles included).
    documents: list[Document] = field(default_factory=list)


def validate(
    clusters: list[ClusterOutput], crds: CustomResourceDefinitions, diags: Diagnostics
) -> int:
    """Report every invalid object; returns how many objects were checked."""
    checked = 0
    for cluster in clusters:
        installed = CustomResourceDefinitions()
        for doc in cluster.documents:
            installed.add(doc, diags)
        available = crds.merged(installed)
        version = schema_version(cluster.kubernetes_version)
        for doc in cluster.documents:
            if doc.data is None:
                continue
            checked += 1
            _validate_object(cluster.name, version, doc, available, diags)
    return checked


def _validate_object(
    cluster: str,
    version: tuple[int, int],
    doc: Document,
    crds: CustomResourceDefinitions,
    diags: Diagnostics,
) -> None:
    data = doc.data
    api_version = data.get("apiVersion") if isinstance(data, dict) else None
    kind = data.get("kind") if isinstance(data, dict) else None
    if not (isinstance(api_version, str) and isinstance(kind, str)):
        diags.error(f"{cluster}: not a Kubernetes object (no apiVersion and kind)", doc.pos())
        return
    group, api = split_api_version(api_version)
    if not (_KIND.match(kind) and _VERSION.match(api) and (not group or _GROUP.match(group))):
        diags.error(
            f"{cluster}: {api_version!r} {kind!r} is not a valid apiVersion and kind", doc.pos()
        )
        return
    k8s = f"Kubernetes {version[0]}.{version[1]}"
    validator = builtin_validator(version, group, api, kind)
    what = f"{kind} ({api_version})"
    schema = None
    if validator is None:
        schema = crds.schemas.get((group, api, kind))
        if schema is None:
            diags.error(_not_served(cluster, version, group, api, kind, crds), doc.pos())
            return
        crd = f"CRD {kind.lower()}s.{group}"
        if (group, api, kind) in crds.refused:
            diags.error(
                f"{cluster}: {what}: not checked: the schema of {crd} {api} refers outside "
                "itself (see the error at the CRD)",
                doc.pos(),
            )
            return
        validator, k8s = crd_validator(schema), crd
    secret = secrets.is_secret(data)
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    except Unresolvable as exc:
        diags.error(
            f"{cluster}: {what}: not checked: {k8s} schema has a $ref that does not resolve "
            f"inside it: {str(getattr(exc, 'ref', '') or exc)[:200]!r}",
            doc.pos(),
        )
        return
    except RecursionError:
        diags.error(
            f"{cluster}: {what}: not checked: {k8s} schema refers to itself without end",
            doc.pos(),
        )
        return
    for error in errors:
        path = tuple(error.absolute_path)
        where = ".".join(str(p) for p in path) or "(object)"
        # jsonschema's messages quote the value: never a Secret's (CI logs are not private).
        message = (
            f"a value (not shown: this is a Secret) fails the {error.validator!r} check"
            if secret
            else error.message
        )
        diags.error(
            f"{cluster}: {what}: {where}: {message} ({k8s} schema)",
            doc.pos(path),
        )
    if schema is not None:
        _check_rules(cluster, what, k8s, schema, doc, diags)


def _check_rules(
    cluster: str,
    what: str,
    crd: str,
    schema: dict[str, Any],
    doc: Document,
    diags: Diagnostics,
) -> None:
    """The CRD's CEL rules that need no previous version (``oldSelf``)."""
    for found in crd_rules.check(schema, doc.data, transitions=False):
        where = ".".join(str(p) for p in found.path) or "(object)"
        if found.outcome == crd_rules.VIOLATED:
            diags.error(
                f"{cluster}: {what}: {where}: {found.message} ({crd} rule: {found.rule})",
                doc.pos(found.path),
            )
        else:
            diags.warning(
                f"{cluster}: {what}: {where}: CEL rule not checked: {found.rule} "
                f"({crd}; {found.reason})",
                doc.pos(found.path),
            )


def _not_served(
    cluster: str,
    version: tuple[int, int],
    group: str,
    api: str,
    kind: str,
    crds: CustomResourceDefinitions,
) -> str:
    api_version = f"{group}/{api}" if group else api
    builtin = builtin_versions(version, kind)
    if builtin:
        return (
            f"{cluster}: {api_version} {kind} is not served by Kubernetes "
            f"{version[0]}.{version[1]} (served: {', '.join(builtin)})"
        )
    served = crds.served.get((group, kind))
    if served:
        return (
            f"{cluster}: the CRD of {kind}.{group} does not serve {api} "
            f"(served: {', '.join(sorted(served))})"
        )
    return (
        f"CRD not installed on {cluster}: no CustomResourceDefinition serves {api_version} {kind}"
    )


def read_crds(folders: list[Path], diags: Diagnostics) -> CustomResourceDefinitions:
    """The CRDs in the YAML or JSON files below ``folders``.

    CRD files are large and come from the operator (``--crds``), not from the fleet's inputs,
    so they are parsed with libyaml's safe loader (plain data only, about 50 times faster than
    the position-keeping parser the inputs go through); positions are not needed for them.
    """
    crds = CustomResourceDefinitions()
    for folder in folders:
        reader = Reader(FileSource(folder), diags)
        files = reader.walk("", MANIFEST_SUFFIXES) if folder.is_dir() else [""]
        for rel in files:
            name = str(folder / rel) if rel else str(folder)
            text = reader.read_text(rel) if rel else _read(folder, diags)
            if text is None:
                continue
            try:
                docs = list(yaml.load_all(text, Loader=_SafeLoader))
            except yaml.YAMLError as exc:
                diags.error(f"cannot parse CRD file: {exc}", Position(name))
                continue
            for index, data in enumerate(docs):
                crds.add(Document(data, name, index), diags)
    return crds


def _read(path: Path, diags: Diagnostics) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        diags.error(f"cannot read CRD file: {exc}", Position(str(path)))
        return None


def read_output(
    root: Path, output: str, versions: dict[str, str | None], diags: Diagnostics
) -> list[ClusterOutput]:
    """The object files of every cluster folder in ``output`` (relative to the fleet's root),
    bundles and bootstrap's flux-system/ included, kustomization files and names starting
    with a dot left out. Symbolic links are not followed: each is an error, as its target
    would go unchecked."""
    reader = Reader(FileSource(root), diags)
    base = output.strip("/")

    def unlisted(path: str, exc: OSError) -> None:
        if not _hidden(path[len(base) :]):
            diags.error(f"cannot list folder: {exc.strerror}", Position(path))

    tree = output_tree.walk(reader.source, base, bootstrap=True, on_error=unlisted)
    clusters: list[ClusterOutput] = []
    if not tree.exists:
        diags.error(f"no output folder {output!r}: run 'fleetc render' first")
        return clusters
    manifests: dict[str, list[str]] = {}
    for rel, kind in sorted(tree.files.items()):
        name = rel.rsplit("/", 1)[-1]
        if _hidden(rel):
            continue
        if kind == LINK:
            diags.error(
                "symbolic link in the output: not followed, so its target is not checked",
                Position(tree.path(rel)),
                hint="fleetc never writes links: 'fleetc check' reports it, "
                "'fleetc render' removes or replaces it",
            )
        elif kind == FILE and name.endswith(MANIFEST_SUFFIXES) and name not in KUSTOMIZE_FILES:
            manifests.setdefault(rel.split("/", 1)[0], []).append(rel)
    for name in tree.folders:
        if "/" in name or _hidden(name):
            continue
        folder = tree.path(name)
        if name not in versions:
            diags.warning(
                f"{folder} is not a cluster of the inventory; checked with the newest schemas",
                Position(folder),
                hint="'fleetc check' reports it as an extra file; 'fleetc render' removes it",
            )
        cluster = ClusterOutput(name, versions.get(name))
        for rel in manifests.get(name, []):
            cluster.documents.extend(reader.read_documents(tree.path(rel)))
        clusters.append(cluster)
    return clusters


def _hidden(rel: str) -> bool:
    """A path with a name starting with a dot somewhere (not fleetc's output)."""
    return any(part.startswith(".") for part in rel.strip("/").split("/"))
