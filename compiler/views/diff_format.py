"""Print a ``diff.FleetDiff``: text for terminals, markdown for pull requests, JSON for tools.

Every form starts with the summary (clusters affected, object counts per cluster, placement
moves and why); text and markdown then give per-cluster object changes with unified YAML
diffs, folded per cluster in markdown so a change that touches hundreds of clusters stays
readable. The JSON form is documented in the README ("GitOps loop").
"""

from __future__ import annotations

import json
from typing import Any

from fleetc.core.escape import html_text, md_code, md_text, printable
from fleetc.views.diff import ADDED, CHANGED, REMOVED, ClusterDiff, FleetDiff
from fleetc.views.transitions import NOT_CHECKED

JSON_VERSION = 1
# Characters of markdown before YAML diffs are left out (GitHub's job summary limit is 1 MiB).
MARKDOWN_BUDGET = 900_000
_SIGN = {ADDED: "+", REMOVED: "-", CHANGED: "~"}


def counts(cluster: ClusterDiff) -> str:
    return f"+{cluster.count(ADDED)} -{cluster.count(REMOVED)} ~{cluster.count(CHANGED)}"


def _cluster_title(cluster: ClusterDiff) -> str:
    note = f" (cluster {cluster.status})" if cluster.status != CHANGED else ""
    return f"{cluster.name}{note}: {counts(cluster)}"


def headline(diff: FleetDiff) -> str:
    """One line: how many clusters and objects change (also the start of commit messages)."""
    if not diff.changed:
        return "no changes"
    objects = sum(len(c.objects) for c in diff.clusters)
    return (
        f"{len(diff.clusters)} cluster(s) affected, {objects} object change(s), "
        f"{len(diff.placements)} placement change(s)"
    )


def summary_lines(diff: FleetDiff) -> list[str]:
    lines = [headline(diff)]
    lines += [f"  {_cluster_title(c)}" for c in diff.clusters]
    if diff.placements:
        lines.append("placements:")
        for change in diff.placements:
            sign = "+" if change.change == "gained" else "-"
            lines.append(f"  {change.placement}: {sign}{change.cluster} ({change.change})")
            lines += [f"      {reason}" for reason in change.reasons]
    if diff.policies:
        lines.append("placement specs:")
        lines += [f"  {line}" for line in diff.policies]
    if diff.inventory:
        lines.append("inventory:")
        lines += [f"  {line}" for line in diff.inventory]
    if diff.transitions:
        lines.append("will it apply:")
        for finding in diff.transitions:
            lines += [f"  {finding.text()}", f"      hint: {finding.hint}"]
    if diff.kept:
        lines.append("kept from fleet.lock (warning FLEET007):")
        lines += [f"  {line}" for line in diff.kept]
    if diff.rollouts:
        lines.append("staged rollouts:")
        lines += [f"  {line}" for line in diff.rollouts]
    return lines


def text(diff: FleetDiff) -> str:
    lines = [f"fleetc diff {diff.base} -> {diff.head}", *summary_lines(diff)]
    for cluster in diff.clusters:
        lines += ["", f"=== {_cluster_title(cluster)}"]
        lines += [f"{_SIGN[o.change]} {o.key}  ({o.path})" for o in cluster.objects]
        for change in cluster.objects:
            lines.append("")
            lines += change.diff.rstrip("\n").splitlines()
    return printable("\n".join(lines) + "\n")


def markdown(diff: FleetDiff, budget: int = MARKDOWN_BUDGET) -> str:
    """Markdown for a PR comment or job summary. Once the text passes ``budget`` characters,
    further clusters list their object changes without the YAML diffs (GitHub caps a job
    summary at 1 MiB and a comment at 65,536 characters)."""
    out = [
        f"## fleetc diff {md_code(diff.base)} → {md_code(diff.head)}",
        "",
        f"**{md_text(headline(diff))}**",
        "",
    ]
    if diff.clusters:
        out += ["| cluster | status | added | removed | changed |", "|---|---|---|---|---|"]
        out += [
            f"| {md_code(c.name, table=True)} | {md_text(c.status)} | {c.count(ADDED)} | "
            f"{c.count(REMOVED)} | "
            f"{c.count(CHANGED)} |"
            for c in diff.clusters
        ]
        out.append("")
    if diff.placements:
        out += ["### Placement changes", ""]
        for change in diff.placements:
            why = "; ".join(change.reasons)
            out.append(
                f"- {md_code(change.placement)} {md_text(change.change)} "
                f"{md_code(change.cluster)}: {md_text(why)}"
            )
        out.append("")
    sections = (
        ("Placement specs", diff.policies),
        ("Inventory", diff.inventory),
        ("Kept from fleet.lock (warning FLEET007)", diff.kept),
        ("Staged rollouts", diff.rollouts),
    )
    for title, items in sections:
        if items:
            out += [f"### {title}", "", *(f"- {md_text(item)}" for item in items), ""]
    if diff.transitions:
        out += ["### Will it apply?", ""]
        for f in diff.transitions:
            mark = "⚠️ not checked" if f.severity == NOT_CHECKED else "❌"
            out.append(
                f"- {mark} {md_code(f.cluster)} {md_code(str(f.key))} {md_code(f.field_text)}: "
                f"{md_text(f.message)} (hint: {md_text(f.hint)})"
            )
        out.append("")
    size = sum(len(line) + 1 for line in out)
    omitted = 0
    for cluster in diff.clusters:
        title = html_text(_cluster_title(cluster))
        block = [f"<details><summary><code>{title}</code></summary>", ""]
        block += [
            f"- {_SIGN[o.change]} {md_code(str(o.key))} ({md_code(o.path)})"
            for o in cluster.objects
        ]
        body = "".join(o.diff for o in cluster.objects)
        if body and size + len(body) <= budget:
            fence = _fence(body)
            block += ["", f"{fence}diff", body.rstrip("\n"), fence]
        elif body:
            omitted += 1
        block += ["", "</details>", ""]
        size += sum(len(line) + 1 for line in block)
        out += block
    if omitted:
        out.append(
            f"_YAML diffs of {omitted} cluster(s) omitted to keep this short: "
            "run `fleetc diff` locally for all of them._"
        )
    return printable("\n".join(out))


def _fence(body: str) -> str:
    """A code fence longer than any run of backticks in ``body``."""
    longest = run = 0
    for ch in body:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def as_json(diff: FleetDiff) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "base": diff.base,
        "head": diff.head,
        "changed": diff.changed,
        "summary": {
            "clustersAffected": len(diff.clusters),
            "clusters": {
                c.name: {
                    "status": c.status,
                    "added": c.count(ADDED),
                    "removed": c.count(REMOVED),
                    "changed": c.count(CHANGED),
                }
                for c in diff.clusters
            },
        },
        "placements": [
            {
                "placement": p.placement,
                "cluster": p.cluster,
                "change": p.change,
                "reasons": p.reasons,
            }
            for p in diff.placements
        ],
        "placementSpecs": diff.policies,
        "inventory": diff.inventory,
        "transitions": [
            {
                "cluster": f.cluster,
                "key": f.key,
                "path": f.file,
                "field": f.field_text,
                "severity": f.severity,
                "message": f.message,
                "hint": f.hint,
            }
            for f in diff.transitions
        ],
        "keptByLock": diff.kept,
        "rollouts": diff.rollouts,
        "clusters": [
            {
                "name": c.name,
                "status": c.status,
                "objects": [
                    {"key": o.key, "path": o.path, "change": o.change, "diff": o.diff}
                    for o in c.objects
                ],
            }
            for c in diff.clusters
        ],
    }


def json_text(diff: FleetDiff) -> str:
    return json.dumps(as_json(diff), indent=2, sort_keys=False) + "\n"


FORMATS = {"text": text, "markdown": markdown, "json": json_text}
