"""Print a ``diff.FleetDiff``: text for terminals, markdown for pull requests, JSON for tools.

Every form starts with the summary (clusters affected, object counts per cluster, placement
moves and why); text and markdown then give per-cluster object changes with unified YAML
diffs, folded per cluster in markdown so a change that touches hundreds of clusters stays
readable. The JSON form is documented in the README ("GitOps loop").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..core.escape import html_text, md_code, md_text, printable
from .diff import ADDED, CHANGED, REMOVED, ClusterDiff, FleetDiff
from .transitions import NOT_CHECKED

JSON_VERSION = 1
# Characters of markdown before YAML diffs are left out.
MARKDOWN_BUDGET = 40_000
# The hard cap of the markdown form: GitHub's comment limit is 65,536 characters.
MARKDOWN_LIMIT = 60_000
# The cluster table and other lists are folded past this many rows; the table stops here.
TABLE_ROWS = 40
TABLE_MAX_ROWS = 1_500
# A group's cluster list is folded past this many names.
LIST_FOLD = 10
ARTIFACT_NOTE = (
    "The full diff (text and JSON) is in this workflow run's `fleetc-diff` artifact; "
    "locally, run `fleetc diff`"
)
_SIGN = {ADDED: "+", REMOVED: "-", CHANGED: "~"}
_WORD = {ADDED: "added", REMOVED: "removed", CHANGED: "changed"}


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
    lines += [f"warning: {warning}" for warning in diff.warnings]
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


def markdown(
    diff: FleetDiff,
    budget: int = MARKDOWN_BUDGET,
    limit: int = MARKDOWN_LIMIT,
    note: str = ARTIFACT_NOTE,
) -> str:
    """Markdown for a pull-request comment or job summary, readable at 1,000 clusters.

    Changes are named in words (added, removed, changed). Clusters whose changes are identical
    (the same objects, the same YAML diff) form one group, "the same change on N clusters",
    with the cluster list folded. The cluster table and long lists are folded. YAML diffs are
    left out of the groups that would take the text past ``budget`` characters, and the text
    never exceeds ``limit`` characters (GitHub caps a comment at 65,536): what does not fit is
    cut at a group boundary, with a pointer (``note``) to the full diff."""
    out = [
        f"## fleetc diff {md_code(diff.base)} → {md_code(diff.head)}",
        "",
        f"**{md_text(headline(diff))}**",
        "",
    ]
    out += [f"> [!WARNING]\n> {_md(warning)}\n" for warning in diff.warnings]
    if diff.clusters:
        out += _folded(
            f"Clusters affected ({len(diff.clusters)})",
            _table(diff.clusters),
            fold=len(diff.clusters) > TABLE_ROWS,
        )
    if diff.placements:
        lines = [_placement_line(group) for group in _placement_groups(diff)]
        out += ["### Placement changes", ""]
        out += _folded(f"{len(lines)} placement change(s)", lines, fold=len(lines) > TABLE_ROWS)
    sections = (
        ("Placement specs", diff.policies),
        ("Inventory", diff.inventory),
        ("Kept from fleet.lock (warning FLEET007)", diff.kept),
        ("Staged rollouts", diff.rollouts),
    )
    for title, items in sections:
        if items:
            lines = [f"- {_md(item)}" for item in items]
            out += [f"### {title}", ""]
            out += _folded(f"{len(lines)} change(s)", lines, fold=len(lines) > TABLE_ROWS)
    if diff.transitions:
        lines = []
        for f in diff.transitions:
            mark = "⚠️ not checked" if f.severity == NOT_CHECKED else "❌"
            lines.append(
                f"- {mark} {md_code(f.cluster)} {md_code(str(f.key))} {md_code(f.field_text)}: "
                f"{_md(f.message)} "
                f"(hint: {_md(f.hint)})"
            )
        out += ["### Will it apply?", ""]
        out += _folded(f"{len(lines)} finding(s)", lines, fold=len(lines) > TABLE_ROWS)
    head = "\n".join(out) + "\n"
    groups = _groups(diff.clusters)
    if groups:
        head += "### Object changes\n\n"
    reserve = len(note) + 200
    if len(head) + reserve > limit:
        return _cut(head, limit - reserve) + _truncated(len(groups), note)
    size = len(head)
    blocks: list[str] = []
    omitted = 0
    for index, group in enumerate(groups):
        block = _group_block(group, with_diff=True)
        if size + len(block) > budget:
            short = _group_block(group, with_diff=False)
            omitted += short != block
            block = short
        if size + len(block) + reserve > limit:
            return head + "".join(blocks) + _truncated(len(groups) - index, note)
        blocks.append(block)
        size += len(block)
    text = head + "".join(blocks)
    if omitted:
        text += (
            f"_YAML diffs of {omitted} group(s) of clusters omitted to keep this short: {note}._\n"
        )
    return text


def _table(clusters: list[ClusterDiff]) -> list[str]:
    rows = ["| cluster | status | added | removed | changed |", "|---|---|---|---|---|"]
    rows += [
        f"| {md_code(c.name, table=True)} | {_status_word(c)} | {c.count(ADDED)} | "
        f"{c.count(REMOVED)} | {c.count(CHANGED)} |"
        for c in clusters[:TABLE_MAX_ROWS]
    ]
    if len(clusters) > TABLE_MAX_ROWS:
        rows.append(f"| … {len(clusters) - TABLE_MAX_ROWS} more | | | | |")
    return rows


def _status_word(cluster: ClusterDiff) -> str:
    return (
        "cluster added"
        if cluster.status == ADDED
        else ("cluster removed" if cluster.status == REMOVED else "changed")
    )


def _folded(summary: str, lines: list[str], fold: bool) -> list[str]:
    if not fold:
        return [*lines, ""]
    return [f"<details><summary>{summary}</summary>", "", *lines, "", "</details>", ""]


def _names(names: list[str]) -> str:
    return ", ".join(md_code(name) for name in names)


@dataclass
class _Group:
    """Clusters whose object changes are identical."""

    clusters: list[ClusterDiff]

    @property
    def first(self) -> ClusterDiff:
        return self.clusters[0]


def _same_change(cluster: ClusterDiff) -> tuple:
    """What makes two clusters' changes identical: status, objects and diffs, with the
    cluster's own folder taken out of the paths."""
    prefix = cluster.name + "/"
    return (
        cluster.status,
        tuple(
            (
                o.key,
                o.change,
                o.path.removeprefix(prefix),
                o.diff.replace(f"--- a/{prefix}", "--- a/").replace(f"+++ b/{prefix}", "+++ b/"),
            )
            for o in cluster.objects
        ),
    )


def _groups(clusters: list[ClusterDiff]) -> list[_Group]:
    found: dict[tuple, _Group] = {}
    for cluster in clusters:
        key = _same_change(cluster)
        group = found.get(key)
        if group is None:
            found[key] = _Group([cluster])
        else:
            group.clusters.append(cluster)
    return list(found.values())


def _change_words(cluster: ClusterDiff) -> str:
    parts = [
        f"{cluster.count(kind)} {kind}" for kind in (ADDED, REMOVED, CHANGED) if cluster.count(kind)
    ]
    what = ", ".join(parts) if parts else "no objects"
    if cluster.status == ADDED:
        return f"cluster added, {what}"
    if cluster.status == REMOVED:
        return f"cluster removed, {what}"
    return what


def _group_block(group: _Group, with_diff: bool) -> str:
    first = group.first
    many = len(group.clusters) > 1
    if many:
        title = f"The same change on {len(group.clusters)} clusters: {_change_words(first)}"
    else:
        title = f"<code>{html_text(first.name)}</code>: {_change_words(first)}"
    block = [f"<details><summary>{title}</summary>", ""]
    if many:
        names = [c.name for c in group.clusters]
        if len(names) > LIST_FOLD:
            block += [
                f"<details><summary>the {len(names)} clusters</summary>",
                "",
                _names(names),
                "",
                "</details>",
                "",
            ]
        else:
            block += [f"On {_names(names)}.", ""]
    prefix = first.name + "/"
    for o in first.objects:
        path = o.path.removeprefix(prefix) if many else o.path
        block.append(f"- {_WORD[o.change]} {md_code(str(o.key))} ({md_code(path)})")
    if many:
        body = "".join(change[3] for change in _same_change(first)[1])
    else:
        body = "".join(o.diff for o in first.objects)
    if with_diff and body:
        fence = _fence(body)
        block += ["", f"{fence}diff", body.rstrip("\n"), fence]
    elif body:
        block += ["", "_YAML diff left out to keep this short._"]
    block += ["", "</details>", ""]
    return "\n".join(block) + "\n"


def _placement_groups(diff: FleetDiff) -> list[tuple[str, str, list[str], list[str]]]:
    """(placement, gained|lost, clusters, reasons): moves with the same reasons, once the
    cluster's own name is taken out of them, are one line."""
    found: dict[tuple, tuple[str, str, list[str], list[str]]] = {}
    for move in diff.placements:
        reasons = [_without_name(reason, move.cluster) for reason in move.reasons]
        key = (move.placement, move.change, tuple(reasons))
        if key in found:
            found[key][2].append(move.cluster)
        else:
            found[key] = (move.placement, move.change, [move.cluster], list(move.reasons))
    return list(found.values())


def _without_name(text: str, name: str) -> str:
    return re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", "<cluster>", text)


def _placement_line(group: tuple[str, str, list[str], list[str]]) -> str:
    placement, change, clusters, reasons = group
    verb = "now placed on" if change == "gained" else "no longer placed on"
    if len(clusters) == 1:
        why = "; ".join(reasons)
        return f"- {md_code(placement)} {verb} {md_code(clusters[0])} ({change}): {_md(why)}"
    why = "; ".join(_without_name(reason, clusters[0]) for reason in reasons)
    names = _names(clusters)
    if len(clusters) > LIST_FOLD:
        names = f"<details><summary>{len(clusters)} clusters</summary> {names} </details>"
    return (
        f"- {md_code(placement)} {verb} {len(clusters)} clusters ({change}): {_md(why)} — {names}"
    )


def _cut(text: str, size: int) -> str:
    """``text`` cut at the last line break before ``size``, with any open fold closed."""
    cut = text[:size].rpartition("\n")[0] + "\n"
    opened = cut.count("<details>") - cut.count("</details>")
    return cut + "\n</details>\n" * max(0, opened)


def _truncated(groups: int, note: str) -> str:
    return f"\n**Truncated: {groups} more group(s) of cluster changes not shown.** {note}.\n"


def _md(text: str) -> str:
    """Text from the inputs, as markdown that renders it literally (core.escape)."""
    return md_text(text)


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
        "warnings": diff.warnings,
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
