"""The sandbox hub templates run in: Jinja2's ImmutableSandboxedEnvironment with work limits.

On top of Jinja2's sandbox (no Python internals, no mutation of the context): ``StrictUndefined``;
no loader, so ``include``, ``import`` and ``extends`` are refused; no ``namespace``, ``lipsum`` or
``str.format``; a short list of filters and methods; and limits on work — a bounded ``range``, a
loop-iteration budget, size checks on ``+ * ** ~`` and on the filters that grow text, and a cap on
all text a render writes (output, macro bodies and ``set`` blocks). Limits raise
``SecurityError``, which the caller turns into a diagnostic.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2 import filters as jinja_filters
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler

MAX_RANGE = 10_000  # items of one range() (Jinja's own MAX_RANGE is 100,000)
MAX_ITERATIONS = 100_000  # loop iterations of one render, all loops together
MAX_WRITTEN = 1_000_000  # characters one render writes: output, macro bodies, set blocks
MAX_STRING = 1_000_000  # characters (or items) of one string or list built by an operator
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
