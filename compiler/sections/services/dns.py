"""clusterset DNS: make ``<svc>.<ns>.svc.clusterset.local`` resolve on clusters that opt in.

Renders kube-system/coredns (ConfigMap, key ``Corefile``) from the user's base Corefile, plus a
ClusterRole/ClusterRoleBinding letting kube-system:coredns list and watch
serviceimports.multicluster.x-k8s.io. CoreDNS 1.12.2 and later have the ``multicluster``
plugin built in: the ``kubernetes`` block becomes authoritative for clusterset.local and gets
``multicluster clusterset.local``. Older versions need an image built with the external
coredns/multicluster plugin; its directive goes into the same server block after the
``kubernetes`` block. Generated objects are not placements, so kube-system (reserved for
placement) is fine here.
"""

from __future__ import annotations

import re
from typing import Any

from ...core.diagnostics import Diagnostic, Diagnostics, Severity, field_path
from ...core.model import Cluster
from ...core.placed import RenderedObject
from ..protocol import SectionInput, SectionOutput, object_key
from .config import MCS_API, Settings, clusterset_dns

ZONE = "clusterset.local"
BUILT_IN_SINCE = (1, 12, 2)
# The external coredns/multicluster plugin's minimum (ACK One: "later than 1.9.3").
MINIMUM = (1, 9, 3)
RBAC_NAME = "coredns-mcsapi"
_COMMENT = re.compile(r"#.*$")


class CorefileError(ValueError):
    """The base Corefile has no place for the multicluster directive."""


def _parts(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.lstrip("v").split("."))


def built_in(version: str) -> bool:
    """CoreDNS >= 1.12.2 ships the multicluster plugin."""
    return _parts(version) >= BUILT_IN_SINCE


def supported(version: str) -> bool:
    """CoreDNS >= 1.9.3 can run the multicluster plugin at all."""
    return _parts(version) >= MINIMUM


def with_multicluster(corefile: str, builtin: bool) -> str:
    """The base Corefile with clusterset.local served by the multicluster plugin.

    Built-in form: the first ``kubernetes`` block also lists clusterset.local among its zones
    and gets ``multicluster clusterset.local`` as its first line. External form: a
    ``multicluster clusterset.local`` line after that block, in the same server block.
    """
    if re.search(r"^\s*multicluster\b", corefile, re.MULTILINE):
        raise CorefileError("it already configures the multicluster plugin")
    lines = corefile.rstrip("\n").split("\n")
    start, end = _kubernetes_block(lines)
    head = lines[start]
    indent = head[: len(head) - len(head.lstrip())]
    inner = indent + "    "
    if start + 1 < end:
        following = lines[start + 1]
        inner = following[: len(following) - len(following.lstrip())] or inner
    directive = f"multicluster {ZONE}"
    if not builtin:
        return "\n".join([*lines[: end + 1], indent + directive, *lines[end + 1 :]]) + "\n"
    code = _COMMENT.sub("", head).rstrip()
    has_block = code.endswith("{")
    words = code.rstrip("{").split()
    if len(words) > 1 and ZONE not in words:  # explicit zones: add ours after cluster.local
        at = words.index("cluster.local") + 1 if "cluster.local" in words else len(words)
        words.insert(at, ZONE)
    if has_block:
        new_head = indent + " ".join(words) + " {"
        return "\n".join([*lines[:start], new_head, inner + directive, *lines[start + 1 :]]) + "\n"
    new_head = [indent + " ".join(words) + " {", inner + directive, indent + "}"]
    return "\n".join([*lines[:start], *new_head, *lines[start + 1 :]]) + "\n"


def _kubernetes_block(lines: list[str]) -> tuple[int, int]:
    """(first, last) line index of the first ``kubernetes`` directive inside a server block."""
    depth = 0
    for index, raw in enumerate(lines):
        code = _COMMENT.sub("", raw)
        words = code.split()
        if depth == 1 and words and words[0] == "kubernetes":
            if not code.rstrip().endswith("{"):
                return index, index
            level = 0
            for end in range(index, len(lines)):
                text = _COMMENT.sub("", lines[end])
                level += text.count("{") - text.count("}")
                if level == 0:
                    return index, end
            raise CorefileError("its kubernetes block is not closed")
        depth += code.count("{") - code.count("}")
    raise CorefileError("it has no kubernetes plugin inside a server block")


def generate(given: SectionInput, config: Settings, out: SectionOutput, diags: Diagnostics) -> None:
    for cluster in given.fleet.clusters.values():
        opt_in = clusterset_dns(cluster)
        if opt_in is not None:
            _render(given, config, cluster, opt_in, out, diags)


def _render(
    given: SectionInput,
    config: Settings,
    cluster: Cluster,
    opt_in: dict[str, Any],
    out: SectionOutput,
    diags: Diagnostics,
) -> None:
    at = ("spec", "multicluster", "clustersetDNS")
    api = config.cluster_api(cluster)
    if api != MCS_API:
        diags.error(
            f"cluster {cluster.name!r} runs {api}, which has no clusterset.local DNS",
            cluster.pos(*at),
            field_path(at),
            hint="clusterset DNS resolves multicluster.x-k8s.io ServiceImports (api: mcs-api)",
        )
        return
    corefile = opt_in.get("corefile") or config.corefile
    if not corefile:
        diags.error(
            f"cluster {cluster.name!r} opts into clusterset DNS but no base Corefile is given",
            cluster.pos(*at),
            field_path(at),
            hint="set spec.services.corefile in fleet.yaml or corefile here: fleetc replaces "
            "kube-system/coredns with it",
        )
        return
    version = str(opt_in["coreDNSVersion"])
    if not supported(version):
        diags.error(
            f"cluster {cluster.name!r} runs CoreDNS {version}, older than the multicluster "
            f"plugin's minimum {'.'.join(map(str, MINIMUM))}",
            cluster.pos(*at, "coreDNSVersion"),
            field_path((*at, "coreDNSVersion")),
            hint="upgrade CoreDNS (1.12.2 and later have the plugin built in)",
        )
        return
    try:
        rendered = with_multicluster(corefile, built_in(version))
    except CorefileError as exc:
        where = (*at, "corefile") if opt_in.get("corefile") else ("spec", "services", "corefile")
        located = cluster if opt_in.get("corefile") else given.fleet
        diags.error(
            f"cannot add clusterset DNS to the base Corefile for cluster {cluster.name!r}: {exc}",
            located.pos(*where),
            field_path(where),
        )
        return
    source = cluster.doc.file

    def clash(existing: RenderedObject) -> Diagnostic:
        return Diagnostic(
            Severity.ERROR,
            f"{existing.key} on cluster {cluster.name!r} is already rendered from "
            f"{existing.source}; fleetc generates it for clusterset DNS",
            cluster.pos(*at),
            field_path(at),
            hint="remove the hand-written object from the hub manifests",
        )

    for body in _objects(rendered):
        out.add(given, cluster.name, RenderedObject(object_key(body), body, source), diags, clash)


def _objects(corefile: str) -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": corefile},
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": {"name": RBAC_NAME},
            "rules": [
                {
                    "apiGroups": ["multicluster.x-k8s.io"],
                    "resources": ["serviceimports"],
                    "verbs": ["list", "watch"],
                }
            ],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": RBAC_NAME},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": RBAC_NAME},
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}],
        },
    ]  # fmt: skip
