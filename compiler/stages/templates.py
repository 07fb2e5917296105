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
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fleetc.core import kube, secrets, yamlsource
from fleetc.core.diagnostics import Diagnostic, Diagnostics, Position, Severity
from fleetc.core.inputs import SourceText
from fleetc.core.model import Cluster, Fleet, HubObject, ObjectKey
from fleetc.stages.sandbox import TemplateSandbox
from fleetc.stages.select import select
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError

if TYPE_CHECKING:
    from fleetc.pipeline import Compilation


# Jinja compiles a template to Python, which costs far more time and memory than the text:
# a 2 MiB template took 30 s and 1.4 GB. Real templates are a few KiB.
MAX_TEMPLATE_CHARS = 256 * 1024
MAX_TEMPLATE_CHARS_PER_RUN = 2 * 1024 * 1024
# Characters all templates may write in one run, over every cluster (as much as the inputs).
MAX_OUTPUT_PER_RUN = yamlsource.MAX_TOTAL_BYTES


@dataclass
class RunBudget:
    """Work every render of one run shares: a template renders once per cluster, so limits
    per render alone would grow with the inventory."""

    yaml: yamlsource.Budget = field(default_factory=yamlsource.Budget)
    characters: int = 0


@dataclass
class Render:
    """One template rendered for one cluster: its objects, or why it failed."""

    objects: list[HubObject]
    errors: list[Diagnostic]


class Template:
    """A hub template, compiled once and rendered per cluster."""

    def __init__(self, source: SourceText) -> None:
        self.file = source.file
        self.env = TemplateSandbox()
        self.compiled: Any = None
        self.syntax_error: Diagnostic | None = None
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
        self, cluster: Cluster, values: dict[str, Any], budget: RunBudget | None = None
    ) -> Render:
        """The template's objects for ``cluster``; problems are returned, not reported."""
        budget = budget if budget is not None else RunBudget()
        if self.syntax_error is not None:
            return Render([], [self.syntax_error])
        if budget.characters > MAX_OUTPUT_PER_RUN:
            return Render([], [self._over_budget()])
        text, error = self._text(cluster, values)
        if error is not None:
            return Render([], [error])
        budget.characters += len(text)
        if budget.characters > MAX_OUTPUT_PER_RUN:
            return Render([], [self._over_budget()])
        scratch = Diagnostics()
        docs = yamlsource.parse(text, self.file, scratch, budget.yaml)
        objects = [obj for doc in docs if (obj := kube.hub_object(doc, scratch)) is not None]
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

    def _text(self, cluster: Cluster, values: dict[str, Any]) -> tuple[str, Diagnostic | None]:
        context = {"cluster": cluster_context(cluster), "values": values}
        self.env.start()
        try:
            return "".join(self.compiled.generate(context)), None
        except Exception as exc:  # any failure of untrusted template code is a diagnostic
            line = _template_line(exc, self.file)
            kind = "template security error" if isinstance(exc, SecurityError) else "template error"
            if isinstance(exc, RecursionError):
                message = "recursion is too deep (a macro calling itself?)"
            else:
                message = str(exc) if isinstance(exc, TemplateError) else f"{exc!r}"
            text = f"{kind} for cluster {cluster.name!r}: {message}"
            return "", _diagnostic(text, Position(self.file, line))


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


# -- placement ------------------------------------------------------------------------------


def place(comp: Compilation, sources: list[SourceText]) -> None:
    """Render each template per cluster and deliver its objects where placements pick them."""
    if not sources:
        return
    fleet, diags = comp.fleet, comp.diags
    values = fleet.spec.get("values") or {}
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
        per_cluster = {
            name: template.render(c, values, budget) for name, c in fleet.clusters.items()
        }
        renders[source.file] = per_cluster
        representative = _identity(source.file, per_cluster, diags)
        if representative is None:
            continue
        for obj in representative:
            clash = _clash(obj, fleet, origin)
            if clash:
                diags.error(f"template {source.file} {clash}", Position(source.file))
                continue
            identities[obj.key] = obj
            origin[obj.key] = source.file
    if not identities:
        return
    with_templates = dataclasses.replace(fleet, objects={**fleet.objects, **identities})
    for placement in fleet.placements:
        before, after = Diagnostics(), Diagnostics()
        select(fleet, placement, before)
        picked = select(with_templates, placement, after)
        stale = set(before.items) - set(after.items)
        diags.items = [d for d in diags.items if d not in stale]
        diags.extend(d for d in after.items if d not in set(before.items))
        comp.selections[placement.name] = picked
        for obj in picked:
            if obj.key in identities:
                _deliver(comp, placement.name, obj.key, renders[origin[obj.key]])


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
    return [(o.key, o.api_version, sorted(o.labels.items())) for o in objects]


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


def _deliver(comp: Compilation, placement: str, key: ObjectKey, renders: dict[str, Render]) -> None:
    from fleetc.core.placed import RenderedObject

    for cluster in comp.outcomes[placement].selected:
        render = renders[cluster]
        if render.errors:
            comp.diags.extend(render.errors)
            continue
        obj = next(o for o in render.objects if o.key == key)
        placed = comp.clusters[cluster]
        previous = placed.get(key)
        names = (previous.placements if previous else ()) + (placement,)
        placed[key] = RenderedObject(key, obj.body, obj.source, names)
