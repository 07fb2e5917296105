"""Hub templates (``*.yaml.j2``): rendered once per cluster in a locked-down Jinja2 sandbox. Pure.

Templates come from pull requests, so they are untrusted. ``TemplateSandbox`` subclasses
Jinja2's ``ImmutableSandboxedEnvironment`` (no access to Python internals, no mutation of the
context) and adds: ``StrictUndefined``; no loader (``include``, ``import`` and ``extends`` are
refused); no ``namespace``/``lipsum``; a short list of filters and methods; and work limits — a
bounded ``range``, a loop-iteration budget, size checks on ``+ * ** ~`` and on the filters that
grow text, and a cap on everything a render writes (output, macro bodies and ``set`` blocks).
Every failure is a diagnostic with the template's file and line.

Placement (see the README): a template's objects are selected by identity. fleetc renders the
template for every inventory cluster (in name order); the apiVersion, kind, namespace, name and
labels of its objects must be the same on every cluster where it renders, and placements select
on that identity. A cluster a placement picks then receives its own render.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, nodes
from jinja2 import filters as jinja_filters
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler

from . import build, yamlsource
from .diagnostics import Diagnostic, Diagnostics, Position, Severity
from .load import SourceText
from .model import Cluster, HubObject, ObjectKey
from .select import select

if TYPE_CHECKING:
    from .pipeline import Compilation

MAX_RANGE = 10_000
MAX_ITERATIONS = 100_000
MAX_WRITTEN = 1_000_000
MAX_STRING = 1_000_000
MAX_EXPONENT = 128
MAX_INT_BITS = 4096
MAX_INDENT = 100

SAFE_FILTERS = frozenset(
    {
        "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape",
        "first", "float", "groupby", "indent", "int", "items", "join", "last", "length",
        "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse",
        "round", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim",
        "truncate", "unique", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip
SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        {
            "lower", "upper", "title", "capitalize", "strip", "lstrip", "rstrip", "split",
            "rsplit", "splitlines", "startswith", "endswith", "isdigit", "isalpha", "isalnum",
            "islower", "isupper", "find", "rfind", "count", "removeprefix", "removesuffix",
            "partition", "rpartition",
        }
    ),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"index", "count"}),
    tuple: frozenset({"index", "count"}),
    Cycler: frozenset({"next", "reset"}),
    LoopContext: frozenset({"cycle", "changed"}),
}  # fmt: skip


def _too_big(what: str, limit: int) -> SecurityError:
    return SecurityError(f"{what} exceeds the template limit of {limit}")


def _size(value: Any) -> int:
    """Characters (or items) a value stands for, one level deep, for growth checks."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple)):
        return sum(len(v) if isinstance(v, str) else 1 for v in value)
    return 1


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """The environment every hub template runs in; budgets are reset by ``start``."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, loader=None, autoescape=False)
        for name in ("namespace", "lipsum"):
            self.globals.pop(name, None)
        self.globals["range"] = self.bounded_range
        self.filters = {k: v for k, v in self.filters.items() if k in SAFE_FILTERS}
        self.filters.update(join=_join, replace=_replace, indent=_indent)
        self.iterations = 0
        self.written = 0

    def start(self) -> None:
        self.iterations = 0
        self.written = 0

    # -- access policy ---------------------------------------------------------------------

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if not callable(value):
            return True
        return any(isinstance(obj, kind) and attr in names for kind, names in SAFE_METHODS.items())

    def wrap_str_format(self, value: Any) -> None:
        """No ``str.format``/``format_map``: widths in format specs can exhaust memory."""
        return None

    def get_template(self, *args: Any, **kwargs: Any) -> Any:
        raise SecurityError("templates cannot include, import or extend other templates")

    select_template = get_template
    get_or_select_template = get_template

    # -- work limits -----------------------------------------------------------------------

    def bounded_range(self, *args: int) -> range:
        numbers = range(*args)
        if len(numbers) > MAX_RANGE:
            raise _too_big("range()", MAX_RANGE)
        return numbers

    def bounded_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.iterations += 1
            if self.iterations > MAX_ITERATIONS:
                raise _too_big("the number of loop iterations", MAX_ITERATIONS)
            yield item

    def bounded_write(self, value: Any) -> str:
        text = str(value)
        self.written += len(text)
        if self.written > MAX_WRITTEN:
            raise _too_big("the text written (output, macros and blocks)", MAX_WRITTEN)
        return text

    def bounded_concat(self, values: list[Any]) -> str:
        pieces = [str(v) for v in values]
        if sum(map(len, pieces)) > MAX_STRING:
            raise _too_big("a string built with ~", MAX_STRING)
        return "".join(pieces)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise SecurityError("'%' string formatting is not allowed in templates; use ~")
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise _too_big("an exponent", MAX_EXPONENT)
        elif operator == "*":
            for seq, count in ((left, right), (right, left)):
                repeats = isinstance(seq, (str, list, tuple)) and isinstance(count, int)
                if repeats and _size(seq) * max(count, 0) > MAX_STRING:
                    raise _too_big("a repeated string or list", MAX_STRING)
        elif operator == "+" and isinstance(left, (str, list, tuple)):
            grows = _size(left) + _size(right)
            if grows > MAX_STRING:
                raise _too_big("a concatenated string or list", MAX_STRING)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise _too_big("an integer's size in bits", MAX_INT_BITS)
        return result

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Route loops, concatenation and output through the budgets above."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = self._guard("bounded_iter", loop.iter)
        for output in tree.find_all(nodes.Output):
            output.nodes = [self._guard("bounded_write", child) for child in output.nodes]
        for concat in list(tree.find_all(nodes.Concat)):
            guarded = self._guard("bounded_concat", nodes.List(concat.nodes, lineno=concat.lineno))
            concat.nodes = [guarded]
        return tree

    def _guard(self, method: str, node: nodes.Expr) -> nodes.Expr:
        call = nodes.Call(nodes.EnvironmentAttribute(method), [node], [], None, None)
        call.set_lineno(node.lineno or 1)
        call.set_environment(self)
        return call


@jinja_filters.pass_eval_context
def _join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)
    if attribute is None and sum(len(str(v)) for v in items) + len(d) * len(items) > MAX_STRING:
        raise _too_big("a joined string", MAX_STRING)
    return str(jinja_filters.do_join(eval_ctx, items, d, attribute))


@jinja_filters.pass_eval_context
def _replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    text = str(s)
    hits = (len(text) + 1) if old == "" else text.count(str(old))
    if len(text) + hits * len(str(new)) > MAX_STRING:
        raise _too_big("a replaced string", MAX_STRING)
    return str(jinja_filters.do_replace(eval_ctx, text, old, new, count))


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = str(s)
    pad = width if isinstance(width, int) else len(str(width))
    if pad > MAX_INDENT:
        raise _too_big("an indent width", MAX_INDENT)
    return jinja_filters.do_indent(text, width, first, blank)


# -- rendering ----------------------------------------------------------------------------


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

    def render(self, cluster: Cluster, values: dict[str, Any]) -> Render:
        """The template's objects for ``cluster``; problems are returned, not reported."""
        if self.syntax_error is not None:
            return Render([], [self.syntax_error])
        text, error = self._text(cluster, values)
        if error is not None:
            return Render([], [error])
        scratch = Diagnostics()
        docs = yamlsource.parse(text, self.file, scratch)
        objects = [obj for doc in docs if (obj := build._hub_object(doc, scratch)) is not None]
        errors = [
            _diagnostic(
                f"template output for cluster {cluster.name!r} is not valid Kubernetes YAML: "
                f"{d.message} (output line {d.position.line if d.position else 0})",
                Position(self.file),
            )
            for d in scratch.errors
        ]
        return Render([] if errors else objects, errors)

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


def _diagnostic(message: str, position: Position) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, position)


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
    for source in sorted(sources, key=lambda s: s.file):
        template = Template(source)
        if template.syntax_error is not None:
            diags.items.append(template.syntax_error)
            continue
        per_cluster = {name: template.render(c, values) for name, c in fleet.clusters.items()}
        renders[source.file] = per_cluster
        representative = _identity(source.file, per_cluster, diags)
        if representative is None:
            continue
        for obj in representative:
            clash = _clash(obj, fleet.objects, origin)
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


def _clash(obj: HubObject, hub: dict[ObjectKey, HubObject], origin: dict[ObjectKey, str]) -> str:
    if obj.key.group == build.PLACEMENT_GROUP and obj.key.kind in build.CONTROL_KINDS:
        return f"renders {obj.key.kind}: placements and overrides cannot come from templates"
    if obj.key in hub:
        return f"renders {obj.key}, which {hub[obj.key].pos()} already defines"
    if obj.key in origin:
        return f"renders {obj.key}, which template {origin[obj.key]} also renders"
    return ""


def _deliver(comp: Compilation, placement: str, key: ObjectKey, renders: dict[str, Render]) -> None:
    from .pipeline import RenderedObject

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
