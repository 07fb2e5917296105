"""The sandbox hub templates run in: Jinja2's ImmutableSandboxedEnvironment with work limits.

On top of Jinja2's sandbox (no Python internals, no mutation of the context): ``StrictUndefined``;
no loader, so ``include``, ``import`` and ``extends`` are refused; no ``namespace``, ``lipsum`` or
``str.format``; a short list of filters and methods; and limits on work — a bounded ``range``, a
loop-iteration budget, size checks on ``+ * ** ~`` and on the filters that grow text, and a cap on
all text a render writes (output, macro bodies and ``set`` blocks). Sizes are expanded sizes:
a list holding the same 1 MB string twice counts 2 MB, however it was built, and every filter's
input and result is measured (``tojson`` streams, stopping at the limit). All work (loop
iterations, calls, and the characters each one produces) is charged to a step budget per render
and per run; steps are counted, not timed, so the result is deterministic. Limits raise
``SecurityError``, which the caller turns into a diagnostic.

Templates write data only: text, numbers, booleans, lists and mappings of them. Writing or
stringifying anything else (a function, ``cycler()``, ``range``, ``loop``) is an error, so no
memory address or internal class name reaches the output; so is an undefined value anywhere,
inside a list or mapping too (``StrictUndefined`` throughout).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import StrictUndefined, Undefined, nodes
from jinja2 import filters as jinja_filters
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler
from markupsafe import Markup

MAX_RANGE = 10_000  # items of one range() (Jinja's own MAX_RANGE is 100,000)
MAX_ITERATIONS = 100_000  # loop iterations of one render, all loops together
MAX_WRITTEN = 1_000_000  # characters one render writes: output, macro bodies, set blocks
MAX_STRING = 1_000_000  # characters (or items) of one string or list built by an operator
MAX_EXPONENT = 128
MAX_INT_BITS = 4096
MAX_INDENT = 100
# Work units: one per loop iteration, operator, filter and method call, plus the characters (or
# items) of every value one of them produces or has to inspect. Counted, not timed: the same
# template fails the same way on every machine.
MAX_STEPS = 10_000_000  # one render (one template, one cluster)
MAX_STEPS_PER_RUN = 100_000_000  # every render of one run (all templates, all clusters)

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


class _StrictUndefined(StrictUndefined):
    """``StrictUndefined`` whose ``repr`` fails too: ``str([x])`` uses ``repr(x)``, so an
    undefined value inside a list or mapping would otherwise render as ``[Undefined]``."""

    __slots__ = ()
    __repr__ = StrictUndefined._fail_with_undefined_error  # type: ignore[assignment]


_SCALARS = (str, int, float, bool, type(None))
NOT_DATA = (
    "templates write data only (text, numbers, booleans, lists and mappings), not {what}; "
    "call a function or method with parentheses, or turn a sequence into a list with '| list'"
)


def _not_data(value: Any) -> SecurityError:
    what = "a function or method" if callable(value) else "an object"
    return SecurityError(NOT_DATA.format(what=what))


def _size(value: Any, limit: int = MAX_STRING, *, strict: bool = False) -> int:
    """The expanded size of ``value``: characters of its text, items of its lists, and each
    shared part counted every time it occurs. The walk stops once ``limit`` is passed (it
    returns a size above ``limit``), so it costs at most ``limit`` steps.

    ``strict``: the value is about to become text, so it must be data throughout (an undefined
    value or an object is an error). Otherwise parts that are not data count as 1."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) or 1
        elif isinstance(item, Undefined):
            total += 1
            if strict:
                item._fail_with_undefined_error()
        elif isinstance(item, bool) or item is None or isinstance(item, float):
            total += 1
        elif isinstance(item, int):
            total += 1 + item.bit_length() // 3
        elif isinstance(item, (list, tuple)):
            total += 1
            stack.extend(item)
        elif isinstance(item, dict):
            total += 1
            stack.extend(item.keys())
            stack.extend(item.values())
        elif strict:
            raise _not_data(item)
        else:
            total += 1
        if total > limit:
            return total
    return total


def _is_iterator(value: Any) -> bool:
    return isinstance(value, Iterator)


# The sandbox's own guards, which ``TemplateSandbox._parse`` wraps around template code.
GUARDS = frozenset({"bounded_iter", "bounded_write", "bounded_concat"})


def _charged_like_a_call(guard: Callable[..., Any]) -> Callable[..., Any]:
    """``guard``, charged as ``TemplateSandbox.call`` charges a call from template code (a step,
    then its measured result): the generated code calls the guards directly, which spares
    the checks a trusted method does not need but keeps the count of steps."""

    @functools.wraps(guard)
    def charged(self: TemplateSandbox, value: Any) -> Any:
        self.charge(1)
        result = guard(self, value)
        if isinstance(result, str) or not _is_iterator(result):
            self.measure(result, "the result of a call")
        return result

    return charged


class _GuardCallingCodeGenerator(CodeGenerator):
    """Jinja's code generator, with a direct call of each guard (``GUARDS``): a template
    cannot name them, so only ``TemplateSandbox._guard`` makes such a call."""

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        target = node.node
        if isinstance(target, nodes.EnvironmentAttribute) and target.name in GUARDS:
            self.write(f"environment.{target.name}(")
            self.visit(node.args[0], frame)
            self.write(")")
        else:
            super().visit_Call(node, frame, forward_caller=forward_caller)


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """The environment every hub template runs in; budgets are reset by ``start``."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})
    code_generator_class = _GuardCallingCodeGenerator

    def __init__(self) -> None:
        super().__init__(undefined=_StrictUndefined, loader=None, autoescape=False)
        for name in ("namespace", "lipsum"):
            self.globals.pop(name, None)
        self.globals["range"] = self.bounded_range
        filters = {k: v for k, v in self.filters.items() if k in SAFE_FILTERS}
        filters.update(join=_join, replace=_replace, indent=_indent, tojson=_tojson)
        self.filters = {name: self._guard_filter(name, f) for name, f in filters.items()}
        self.iterations = 0
        self.written = 0
        self.steps = 0
        self.run_steps = 0

    def start(self, run_steps: int = 0) -> None:
        """Reset the per-render budgets; ``run_steps`` is what earlier renders of the run used."""
        self.iterations = 0
        self.written = 0
        self.steps = 0
        self.run_steps = run_steps

    def charge(self, steps: int) -> None:
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise _too_big("the work of one render (steps)", MAX_STEPS)
        if self.run_steps + self.steps > MAX_STEPS_PER_RUN:
            raise _too_big("the work of all templates in this run (steps)", MAX_STEPS_PER_RUN)

    def measure(self, value: Any, what: str, *, strict: bool = False) -> int:
        """The expanded size of ``value`` (charged as work); over ``MAX_STRING`` is an error."""
        # A string (the common case) in O(1).
        size = len(value) if isinstance(value, str) else _size(value, MAX_STRING, strict=strict)
        self.charge(1 + size)
        if size > MAX_STRING:
            raise _too_big(what, MAX_STRING)
        return size

    def _guard_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` with its inputs measured before and its result after it runs. Filters that
        turn their input into text require it to be data, with nothing undefined."""
        skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
        strict = name in _TEXT_FILTERS

        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            for arg in (*args[skip:], *kwargs.values()):
                if not _is_iterator(arg):
                    self.measure(arg, f"the input of filter {name!r}", strict=strict)
            result = func(*args, **kwargs)
            if not _is_iterator(result):
                self.measure(result, f"the result of filter {name!r}")
            return result

        return guarded

    # -- access policy ---------------------------------------------------------------------

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Every call (functions, macros, methods) is work; its result is measured."""
        __self.charge(1)
        result = super().call(__context, __obj, *args, **kwargs)
        if not _is_iterator(result):
            __self.measure(result, "the result of a call")
        return result

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

    @_charged_like_a_call
    def bounded_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.iterations += 1
            if self.iterations > MAX_ITERATIONS:
                raise _too_big("the number of loop iterations", MAX_ITERATIONS)
            self.charge(1)
            yield item

    @_charged_like_a_call
    def bounded_write(self, value: Any) -> str:
        text = self.text(value, "the text written (output, macros and blocks)")
        self.written += len(text)
        if self.written > MAX_WRITTEN:
            raise _too_big("the text written (output, macros and blocks)", MAX_WRITTEN)
        return text

    @_charged_like_a_call
    def bounded_concat(self, values: list[Any]) -> str:
        total = 0
        pieces = []
        for value in values:
            pieces.append(self.text(value, "a string built with ~"))
            total += len(pieces[-1])
            if total > MAX_STRING:
                raise _too_big("a string built with ~", MAX_STRING)
        return "".join(pieces)

    def text(self, value: Any, what: str) -> str:
        """``value`` as text, once it is known to be data of a bounded size."""
        if isinstance(value, str):
            self.charge(1 + len(value))
            return value
        self.measure(value, what, strict=True)
        return str(value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.charge(1)
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
        if isinstance(result, (str, list, tuple)):
            self.charge(len(result))
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


# Filters that turn their input into text: it must be data throughout, nothing undefined.
_TEXT_FILTERS = frozenset(
    {
        "capitalize", "e", "escape", "indent", "join", "lower", "replace", "string", "title",
        "tojson", "trim", "truncate", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip


@jinja_filters.pass_eval_context
def _tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Markup:
    """Jinja's ``tojson`` (sorted keys, HTML-safe), streamed: it stops once the text passes
    the limit instead of building it first, and the indent is bounded like ``indent``'s."""
    if indent is not None and (not isinstance(indent, int) or abs(indent) > MAX_INDENT):
        raise _too_big("a tojson indent", MAX_INDENT)
    _size(value, MAX_STRING, strict=True)  # data only (the caller measured the size)
    encoder = json.JSONEncoder(sort_keys=True, indent=indent, check_circular=False)
    pieces: list[str] = []
    total = 0
    for piece in encoder.iterencode(value):
        pieces.append(piece)
        total += len(piece)
        if total > MAX_STRING:
            raise _too_big("the text of tojson", MAX_STRING)
    text = "".join(pieces)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return Markup(text)


@jinja_filters.pass_eval_context
def _join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)
    size = len(str(d)) * len(items)
    for item in items:
        size += _size(item, MAX_STRING, strict=attribute is None)
        if size > MAX_STRING:
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
    if len(text) + pad * (text.count("\n") + 1) > MAX_STRING:
        raise _too_big("an indented string", MAX_STRING)
    return jinja_filters.do_indent(text, width, first, blank)
