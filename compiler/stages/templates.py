"""Hub templates (``*.yaml.j2``): rendered once per cluster, in ``sandbox.TemplateSandbox``. Pure.

Templates come from pull requests, so they are untrusted; every failure (syntax, undefined
variable, sandbox refusal, limit, output that is not Kubernetes YAML) is a diagnostic with the
template's file and line, and the cluster.

Placement (see the README): a template's objects are selected by identity. fleetc renders the
template for every inventory cluster (in name order); the apiVersion, kind, namespace, name and
labels of its objects must be the same on every cluster where it renders, and placements select
on that identity. A cluster a placement picks then receives its own render.
"""

from __future__ import annotations

import dataclasses
import re
import traceback
from dataclasses import dataclass, field
from typing import Any

from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError

from ..core import block_yaml, kube, secrets, yamlsource
from ..core.diagnostics import Diagnostic, Diagnostics, Position, Severity
from ..core.inputs import SourceText
from ..core.memo import NO_MEMO, Memo, fingerprint
from ..core.model import Cluster, Fleet, HubObject, ObjectKey
from ..core.yamlsource import Document
from . import envelopes, sandbox
from .sandbox import TemplateSandbox

# Jinja compiles a template to Python, which costs far more time and memory than the text:
# a 2 MiB template took 30 s and 1.4 GB. Real templates are a few KiB.
MAX_TEMPLATE_CHARS = 256 * 1024
MAX_TEMPLATE_CHARS_PER_RUN = 2 * 1024 * 1024
# Characters all templates may write in one run, over every cluster (as much as the inputs).
MAX_OUTPUT_PER_RUN = yamlsource.MAX_TOTAL_BYTES
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
# The memo's table of renders: the text and the steps of a render without diagnostics.
MEMO_TABLE = "template"


@dataclass
class RunBudget:
    """Work every render of one run shares: a template renders once per cluster, so limits
    per render alone would grow with the inventory."""

    yaml: yamlsource.Budget = field(default_factory=yamlsource.Budget)
    characters: int = 0
    steps: int = 0  # sandbox work units (sandbox.MAX_STEPS_PER_RUN)


@dataclass
class Render:
    """One template rendered for one cluster: its objects, or why it failed."""

    objects: list[HubObject]
    errors: list[Diagnostic]


@dataclass(frozen=True)
class _Reading:
    """A text's objects, and what reading it charged to the run's YAML budget."""

    objects: list[HubObject]
    alias_nodes: int
    alias_chars: int


class Template:
    """A hub template, compiled once and rendered per cluster."""

    def __init__(self, source: SourceText) -> None:
        self.file = source.file
        self.env = TemplateSandbox()
        self.compiled: Any = None
        self.syntax_error: Diagnostic | None = None
        # Within a run: each distinct text that read without diagnostics, and its objects.
        self.readings: dict[str, _Reading] = {}
        try:
            code = self.env.compile(source.text, name=self.file, filename=self.file)
            self.compiled = self.env.template_class.from_code(
                self.env, code, self.env.make_globals(None)
            )
        except TemplateSyntaxError as exc:
            self.syntax_error = _diagnostic(
                f"template syntax error: {exc.message}", Position(self.file, exc.lineno or 0)
            )
        except RecursionError:
            self.syntax_error = _diagnostic(
                "template syntax error: expressions are nested too deeply", Position(self.file)
            )

    def render(
        self,
        cluster: Cluster,
        values: dict[str, Any],
        budget: RunBudget | None = None,
        recall: Recall | None = None,
    ) -> Render:
        """The template's objects for ``cluster``; problems are returned, not reported.
        ``recall`` finds and keeps the text of the render in a memo."""
        budget = budget if budget is not None else RunBudget()
        if self.syntax_error is not None:
            return Render([], [self.syntax_error])
        if budget.characters > MAX_OUTPUT_PER_RUN:
            return Render([], [self._over_budget()])
        remembered = recall.text(cluster, budget.steps) if recall is not None else None
        if remembered is not None:
            text, steps = remembered
            budget.steps += steps
        else:
            before = budget.steps
            text, error = self._text(cluster, values, budget)
            if error is not None:
                return Render([], [error])
            steps = budget.steps - before
        budget.characters += len(text)
        if budget.characters > MAX_OUTPUT_PER_RUN:
            return Render([], [self._over_budget()])
        render = self._read(text, cluster, budget.yaml)
        if recall is not None and remembered is None and not render.errors:
            recall.keep(cluster, text, steps)
        return render

    def _read(self, text: str, cluster: Cluster, budget: yamlsource.Budget) -> Render:
        """The objects of a render's ``text``: a text read once in this run is not read again
        while its alias count stays within the run's budget."""
        known = self.readings.get(text)
        if (
            known is not None
            and budget.alias_nodes + known.alias_nodes <= yamlsource.MAX_ALIAS_NODES_PER_RUN
            and budget.alias_chars + known.alias_chars <= yamlsource.MAX_ALIAS_CHARS_PER_RUN
        ):
            budget.alias_nodes += known.alias_nodes
            budget.alias_chars += known.alias_chars
            return Render(known.objects, [])
        nodes, chars = budget.alias_nodes, budget.alias_chars
        render = self._objects(text, cluster, budget)
        if not render.errors:
            self.readings[text] = _Reading(
                render.objects, budget.alias_nodes - nodes, budget.alias_chars - chars
            )
        return render

    def _objects(self, text: str, cluster: Cluster, budget: yamlsource.Budget) -> Render:
        scratch = Diagnostics()
        docs = block_yaml.documents(text, self.file)
        if docs is None:
            docs = yamlsource.parse(text, self.file, scratch, budget)
        objects = [
            obj
            for listed in docs
            for doc in kube.unwrap_lists([listed], scratch)
            if (obj := kube.hub_object(doc, scratch)) is not None
        ]
        errors = [
            _diagnostic(
                f"template output for cluster {cluster.name!r} is not valid Kubernetes YAML: "
                f"{d.message} (output line {d.position.line if d.position else 0})",
                Position(self.file),
            )
            for d in scratch.errors
        ]
        leaks = Diagnostics()
        for obj in objects:
            secrets.check_object(obj, leaks)
        errors += [
            _diagnostic(
                f"template output for cluster {cluster.name!r}: {d.message} "
                f"(output line {d.position.line if d.position else 0})",
                Position(self.file),
                hint=d.hint,
            )
            for d in leaks.errors
        ]
        return Render([] if errors else objects, errors)

    def _over_budget(self) -> Diagnostic:
        return _diagnostic(
            f"templates write more than {MAX_OUTPUT_PER_RUN} characters in this run (all "
            "templates, all clusters)",
            Position(self.file),
            hint="render less per cluster, or move shared content out of templates",
        )

    def _text(
        self, cluster: Cluster, values: dict[str, Any], budget: RunBudget
    ) -> tuple[str, Diagnostic | None]:
        context = {"cluster": cluster_context(cluster), "values": values}
        self.env.start(budget.steps)
        try:
            return "".join(self.compiled.generate(context)), None
        except Exception as exc:  # any failure of untrusted template code is a diagnostic
            line = _template_line(exc, self.file)
            kind = "template security error" if isinstance(exc, SecurityError) else "template error"
            if isinstance(exc, RecursionError):
                message = "recursion is too deep (a macro calling itself?)"
            else:
                message = str(exc) if isinstance(exc, TemplateError) else f"{exc!r}"
            # Python's own messages may quote an object's repr: never show a memory address.
            message = _ADDRESS.sub("", message)
            text = f"{kind} for cluster {cluster.name!r}: {message}"
            return "", _diagnostic(text, Position(self.file, line))
        finally:
            budget.steps += self.env.steps


class Recall:
    """One template's renders in the memo, by what a render reads: the template, the fleet's
    values, the cluster's context and the limits. A remembered render counts the steps it
    took, and is rendered again where they would not fit in the run's budget (the render then
    fails as it did not before)."""

    def __init__(self, memo: Memo, source: SourceText, shared: _SharedKeys) -> None:
        self.memo = memo
        self.shared = shared
        self.template_key = fingerprint(MEMO_TABLE, source.file, source.text, shared.values)

    def key(self, cluster: Cluster) -> str:
        return fingerprint(self.template_key, self.shared.context(cluster))

    def text(self, cluster: Cluster, run_steps: int) -> tuple[str, int] | None:
        """The text and steps of ``cluster``'s render, if remembered and within the budget."""
        key = self.key(cluster)
        value = self.memo.recall(MEMO_TABLE, key)
        if value is None:
            return None
        if not (
            isinstance(value, dict)
            and isinstance(value.get("text"), str)
            and type(value.get("steps")) is int
            and 0 <= value["steps"] <= sandbox.MAX_STEPS
        ):
            self.memo.forget(MEMO_TABLE, key)
            return None
        if run_steps + value["steps"] > sandbox.MAX_STEPS_PER_RUN:
            return None
        return value["text"], value["steps"]

    def keep(self, cluster: Cluster, text: str, steps: int) -> None:
        self.memo.keep(MEMO_TABLE, self.key(cluster), {"text": text, "steps": steps})


class _SharedKeys:
    """The parts of the memo's keys every template shares: the fleet's values and the limits,
    and each cluster's context (digested once for all templates)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = fingerprint(f"{MEMO_TABLE}-1", values, _limits())
        self.contexts: dict[str, str] = {}

    def context(self, cluster: Cluster) -> str:
        key = self.contexts.get(cluster.name)
        if key is None:
            key = self.contexts[cluster.name] = fingerprint(cluster_context(cluster))
        return key


def _limits() -> list[int]:
    """The limits a render's text and steps depend on (tests change them)."""
    return [
        sandbox.MAX_RANGE,
        sandbox.MAX_ITERATIONS,
        sandbox.MAX_WRITTEN,
        sandbox.MAX_STRING,
        sandbox.MAX_EXPONENT,
        sandbox.MAX_INT_BITS,
        sandbox.MAX_INDENT,
        sandbox.MAX_STEPS,
    ]


def cluster_context(cluster: Cluster) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "labels": dict(cluster.labels),
        "properties": dict(cluster.properties),
        "kubernetesVersion": cluster.kubernetes_version,
    }


def _diagnostic(message: str, position: Position, hint: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, position, hint=hint)


def _template_line(exc: BaseException, file: str) -> int:
    """The template line Jinja's rewritten traceback points at (0 if none)."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == file and frame.lineno:
            line = frame.lineno
    return line


# -- expansion ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expanded:
    """The templates stage's result: the fleet with each template's objects among its hub
    objects (by identity, so placements select them), and every cluster's own render."""

    fleet: Fleet
    # template file -> cluster -> render, for the templates whose identities joined the fleet.
    renders: dict[str, dict[str, Render]] = field(default_factory=dict)
    # object key -> the template file that renders it.
    origin: dict[ObjectKey, str] = field(default_factory=dict)

    def render_for(self, key: ObjectKey, cluster: str) -> Render | None:
        """The render of the template behind ``key`` for ``cluster``; None for hub objects."""
        file = self.origin.get(key)
        return self.renders[file][cluster] if file is not None else None


def expand(
    fleet: Fleet, sources: list[SourceText], diags: Diagnostics, memo: Memo = NO_MEMO
) -> Expanded:
    """Render each template for every cluster; its objects join the fleet's hub objects."""
    if not sources:
        return Expanded(fleet)
    values = fleet.spec.get("values") or {}
    shared = _SharedKeys(values) if memo is not NO_MEMO else None
    renders: dict[str, dict[str, Render]] = {}
    identities: dict[ObjectKey, HubObject] = {}
    origin: dict[ObjectKey, str] = {}
    budget = RunBudget()
    source_chars = 0
    for source in sorted(sources, key=lambda s: s.file):
        source_chars += len(source.text)
        if len(source.text) > MAX_TEMPLATE_CHARS or source_chars > MAX_TEMPLATE_CHARS_PER_RUN:
            diags.error(
                f"template is too large: at most {MAX_TEMPLATE_CHARS} characters per template "
                f"and {MAX_TEMPLATE_CHARS_PER_RUN} for all templates together",
                Position(source.file),
                hint="split it, or move static manifests out of templates",
            )
            continue
        template = Template(source)
        if template.syntax_error is not None:
            diags.items.append(template.syntax_error)
            continue
        recall = Recall(memo, source, shared) if shared is not None else None
        per_cluster = {
            name: template.render(c, values, budget, recall) for name, c in fleet.clusters.items()
        }
        representative = _identity(source.file, per_cluster, diags)
        if representative is None:
            continue
        renders[source.file] = per_cluster
        for obj in representative:
            clash = _clash(obj, fleet, origin)
            if clash:
                diags.error(f"template {source.file} {clash}", Position(source.file))
                continue
            identities[obj.key] = obj
            origin[obj.key] = source.file
    if not identities:
        return Expanded(fleet)
    objects = dict(sorted({**fleet.objects, **identities}.items()))
    return Expanded(dataclasses.replace(fleet, objects=objects), renders, origin)


def _identity(file: str, renders: dict[str, Render], diags: Diagnostics) -> list[HubObject] | None:
    """The objects of the first successful render, if every successful render agrees."""
    good = [(name, r) for name, r in renders.items() if not r.errors]
    if not good:
        for render in renders.values():
            diags.extend(render.errors)
        return None
    first_name, first = good[0]
    signature = _signature(first.objects)
    for name, render in good[1:]:
        if _signature(render.objects) != signature:
            diags.error(
                f"template {file} renders different objects for clusters {first_name!r} and "
                f"{name!r}: the apiVersion, kind, namespace, name and labels of a template's "
                "objects must not depend on the cluster",
                Position(file),
                hint="vary the spec, not the identity; or use one template per variant",
            )
            return None
    return first.objects


def _signature(objects: list[HubObject]) -> list[tuple[Any, ...]]:
    """The identities of a render's objects, and of the objects its envelopes wrap (an
    envelope delivers those, so they must not depend on the cluster either)."""
    return [(o.key, o.api_version, sorted(o.labels.items()), _wrapped(o)) for o in objects]


def _wrapped(obj: HubObject) -> tuple[Any, ...]:
    data = obj.body.get("data") if envelopes.is_envelope(obj.key) else None
    if not isinstance(data, dict):
        return ()
    scratch = Diagnostics()  # the envelopes stage reports problems with entries
    return tuple(
        (entry, kube.identity(doc.data))
        for entry in sorted(data)
        for doc in kube.unwrap_lists([Document(data[entry], obj.source)], scratch)
    )


def _clash(obj: HubObject, fleet: Fleet, origin: dict[ObjectKey, str]) -> str:
    """Why a template's object cannot join the hub objects ("" when it can)."""
    key = obj.key
    if key.group == kube.PLACEMENT_GROUP and key.kind in kube.CONTROL_KINDS:
        return f"renders {key.kind}: placements and overrides cannot come from templates"
    if key in fleet.objects:
        return f"renders {key}, which {fleet.objects[key].pos()} already defines"
    if key in origin:
        return f"renders {key}, which template {origin[key]} also renders"
    if not key.namespace and kube.is_namespaced_kind(fleet, key.group, key.kind):
        return f"renders {key}, which is namespaced but has no metadata.namespace"
    return ""
