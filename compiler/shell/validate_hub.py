"""Hub manifests checked where they are written, against the schemas of the clusters they reach.

Built-in kinds are checked against the strict Kubernetes OpenAPI schema (kubernetes-validate) of
the lowest and the highest Kubernetes version among the clusters each object is placed on; a
custom resource against its CustomResourceDefinition, when one is known: a CRD among the hub
manifests, in ``spec.crds`` or given with ``--crds``. Each problem is reported once per object,
at the hub file, line and column, naming the versions whose schema rejects it, with a "did you
mean" for misspelt kinds and fields. Objects that templates render are checked per cluster by
``validate --rendered`` instead (their positions are in the rendered text).
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import secrets
from ..core.diagnostics import Diagnostics, did_you_mean, field_path
from ..core.memo import NO_MEMO, Memo, fingerprint
from ..core.model import Fleet, HubObject, ObjectKey, split_api_version
from ..core.yamlsource import Document
from ..pipeline import Compilation
from .load import TEMPLATE_SUFFIX
from .validate_rendered import (
    CustomResourceDefinitions,
    builtin_validator,
    crd_validator,
    kubernetes_schemas,
    schema_version,
)

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

CRD_KEY = ObjectKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "")


def spec_crds(root: Path, fleet: Fleet, diags: Diagnostics) -> list[Path]:
    """The CRD files and folders ``spec.crds`` names, each inside the fleet's folder."""
    entries = fleet.spec.get("crds")
    found = []
    real_root = Path(os.path.realpath(root))
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        path = Path(os.path.realpath(root / entry))
        where = fleet.pos("spec", "crds", index)
        if os.path.isabs(entry) or (path != real_root and real_root not in path.parents):
            diags.error(
                f"CRD path {entry!r} points outside the repository",
                where,
                f"spec.crds[{index}]",
                hint="paths are relative to fleet.yaml and stay below its folder",
            )
        elif not path.exists():
            diags.error(f"CRD path {entry!r} does not exist", where, f"spec.crds[{index}]")
        else:
            found.append(path)
    return found


def _builtin_group(group: str) -> bool:
    return group in ("", "apps", "batch", "autoscaling", "policy") or group.endswith(".k8s.io")


@functools.cache
def _kinds(version: tuple[int, int], group: str, api: str) -> dict[str, str]:
    """Lower-cased kind -> file name, of the built-in kinds this version serves in group/api."""
    folder = f"v{version[0]}.{version[1]}.0-local-strict"
    root = kubernetes_schemas().joinpath(folder)
    short = group.split(".", 1)[0]
    suffix = f"-{short}-{api}.json" if group else f"-{api}.json"
    found = {}
    for entry in root.iterdir():
        name = entry.name
        if name.endswith(suffix) and not name.startswith("_"):
            kind = name[: -len(suffix)]
            if "-" not in kind:
                found[kind] = name
    return found


def _label(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def validate_hub(
    comp: Compilation,
    crds: CustomResourceDefinitions,
    diags: Diagnostics,
    memo: Memo = NO_MEMO,
) -> int:
    """Check every placed hub object; returns how many were checked. ``memo`` keeps each
    object's problems by what the check reads (``_Recall``)."""
    fleet = comp.fleet
    known = crds.merged(_hub_crds(fleet.objects.values(), diags))
    reach: dict[ObjectKey, set[tuple[int, int]]] = {}
    for cluster, objects in comp.clusters.items():
        version = schema_version(fleet.clusters[cluster].kubernetes_version)
        for key in objects:
            reach.setdefault(key, set()).add(version)
    recall = _Recall(memo, known)
    checked = 0
    for key, versions in sorted(reach.items()):
        hub = fleet.objects.get(key)
        if hub is None or hub.source.endswith(TEMPLATE_SUFFIX):
            continue
        ordered = sorted(versions)
        checked += 1
        _report(hub, recall.check(hub, sorted({ordered[0], ordered[-1]})), diags)
    return checked


# The memo's table of hub checks: an object's problems (path, message, hint, the schemas
# that report it), by the object's body, the versions checked and the CRD schema of its kind.
MEMO_TABLE = "hub-checks"
# One problem: (field path, message, hint) -> the schemas that report it.
Problems = dict[tuple[tuple, str, str | None], list[str]]


class _Recall:
    """Each object's problems in the memo. Everything ``_problems`` reads is in the key: the
    body (kind and apiVersion included), the versions, the CRD schema of its kind and
    whether a CRD serves the kind; Kubernetes' schemas come with fleetc's code fingerprint,
    which the memo's file records."""

    def __init__(self, memo: Memo, crds: CustomResourceDefinitions) -> None:
        self.memo = memo
        self.crds = crds
        self.schemas: dict[tuple[str, str, str], str] = {}

    def key(self, hub: HubObject, versions: list[tuple[int, int]]) -> str | None:
        """None when the body is not JSON data (then the check runs)."""
        group, api = split_api_version(hub.api_version)
        kind = (group, api, hub.key.kind)
        served = (group, hub.key.kind) in self.crds.served
        try:
            if kind not in self.schemas:
                self.schemas[kind] = fingerprint(self.crds.schemas.get(kind))
            return fingerprint(hub.body, versions, self.schemas[kind], served)
        except (TypeError, ValueError):
            return None

    def check(self, hub: HubObject, versions: list[tuple[int, int]]) -> Problems:
        """``_problems``, recalled when the memo has them."""
        key = self.key(hub, versions) if self.memo is not NO_MEMO else None
        value = self.memo.recall(MEMO_TABLE, key) if key is not None else None
        if key is not None and value is not None:
            try:
                return dict(_problem(item) for item in value)
            except (TypeError, ValueError):
                self.memo.forget(MEMO_TABLE, key)
        problems = _problems(hub, versions, self.crds)
        if key is not None:
            value = [[list(path), *rest, sources] for (path, *rest), sources in problems.items()]
            self.memo.keep(MEMO_TABLE, key, value)
        return problems


def _problem(item: Any) -> tuple[tuple[tuple, str, str | None], list[str]]:
    """One remembered problem; TypeError or ValueError for any other shape."""
    path, message, hint, sources = item
    if not (
        isinstance(path, list)
        and all(isinstance(p, str | int) for p in path)
        and isinstance(message, str)
        and (hint is None or isinstance(hint, str))
        and isinstance(sources, list)
        and all(isinstance(s, str) for s in sources)
    ):
        raise TypeError("not a remembered problem")
    return (tuple(path), message, hint), sources


def _hub_crds(objects: Iterable[HubObject], diags: Diagnostics) -> CustomResourceDefinitions:
    found = CustomResourceDefinitions()
    for obj in objects:
        if (obj.key.group, obj.key.kind) == (CRD_KEY.group, CRD_KEY.kind):
            found.add(Document(obj.body, obj.source), diags)
    return found


def _problems(
    hub: HubObject, versions: list[tuple[int, int]], crds: CustomResourceDefinitions
) -> Problems:
    group, api = split_api_version(hub.api_version)
    kind = hub.key.kind
    # (path, message, hint) -> the versions whose schema reports it.
    found: Problems = {}
    for version in versions:
        validator = builtin_validator(version, group, api, kind)
        source = f"Kubernetes {_label(version)}"
        if validator is None:
            schema = crds.schemas.get((group, api, kind))
            if schema is not None:
                validator, source = crd_validator(schema), f"CRD {kind.lower()}s.{group}"
            elif _builtin_group(group) and (group, kind) not in crds.served:
                kinds = _kinds(version, group, api)
                close = difflib.get_close_matches(kind.lower(), sorted(kinds), n=1, cutoff=0.6)
                proper = _proper(version, group, api, kinds[close[0]]) if close else None
                hint = f"did you mean {proper!r}?" if proper else None
                problem = (("kind",), f"Kubernetes serves no {hub.api_version} {kind}", hint)
                found.setdefault(problem, []).append(f"Kubernetes {_label(version)}")
                continue
            else:
                continue  # a custom resource whose CRD fleetc was not given: not checked
        secret = secrets.is_secret(hub.body)
        for error in validator.iter_errors(hub.body):
            path = tuple(error.absolute_path)
            message, hint, culprit = _explain(error, secret)
            path = (*path, *culprit)
            found.setdefault((path, message, hint), []).append(source)
    return found


def _report(hub: HubObject, problems: Problems, diags: Diagnostics) -> None:
    what = f"{hub.key.kind} ({hub.api_version})"
    for (path, message, hint), sources in sorted(problems.items(), key=lambda f: str(f[0])):
        where = field_path(path) or "(object)"
        names = _sources(sources)
        diags.error(f"{what}: {where}: {message} ({names})", hub.pos(*path), where, hint=hint)


def _proper(version: tuple[int, int], group: str, api: str, file: str) -> str:
    folder = f"v{version[0]}.{version[1]}.0-local-strict"
    path = kubernetes_schemas().joinpath(folder, file)
    for gvk in (
        json.loads(path.read_text(encoding="utf-8")).get("x-kubernetes-group-version-kind") or []
    ):
        if gvk.get("group", "") == group and gvk.get("version") == api:
            return str(gvk["kind"])
    return file.split("-", 1)[0]


def _sources(sources: list[str]) -> str:
    kubernetes = [s.removeprefix("Kubernetes ") for s in sources if s.startswith("Kubernetes")]
    others = [s for s in sources if not s.startswith("Kubernetes")]
    parts = []
    if kubernetes:
        parts.append(f"Kubernetes {' and '.join(dict.fromkeys(kubernetes))} schema")
    parts += list(dict.fromkeys(others))
    return ", ".join(parts)


def _explain(error: ValidationError, secret: bool) -> tuple[str, str | None, tuple[str, ...]]:
    """A readable message, a did-you-mean for unknown fields, and the path below the error's
    to the culprit (the unknown field itself), for one schema error; a Secret's values are
    never quoted."""
    if secret and error.validator != "additionalProperties":
        message = f"a value (not shown: this is a Secret) fails the {error.validator!r} check"
        return message, None, ()
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted((error.schema.get("properties") or {}).keys())
        extras = sorted(str(k) for k in error.instance if k not in allowed)
        if extras:
            hint = did_you_mean(extras[0], allowed)
            return f"unknown field {extras[0]!r}", hint, (extras[0],)
    if error.validator == "type":
        wanted = (
            error.validator_value
            if isinstance(error.validator_value, list)
            else [error.validator_value]
        )
        types = [t for t in wanted if t != "null"] or wanted
        numeric = {"integer", "number"} & set(types)
        value = error.instance
        unquote = isinstance(value, str) and numeric and value.lstrip("-").isdigit()
        hint = f"write it without quotes: {value}" if unquote else None
        return f"expected {' or '.join(types)}, got {_short(value)}", hint, ()
    message = error.message
    return (message if len(message) < 200 else message[:197] + "..."), None, ()


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
