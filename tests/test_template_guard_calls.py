"""The sandbox's guards (loops, output, ``~``) are called directly by the generated code, not
through ``TemplateSandbox.call``: the same text, the same errors and the same count of steps,
iterations and characters written as the route through ``call``, at any limit."""

from __future__ import annotations

from typing import Any

import pytest
from fleetc.stages import sandbox
from fleetc.stages.sandbox import TemplateSandbox
from jinja2.compiler import CodeGenerator
from test_template_sandbox_limits import BOMBS, OBJECTS, UNDEFINED
from test_templates import GOOD


class CalledLikeTemplateCode(TemplateSandbox):
    """The reference: each guard is called as template code calls a function."""

    code_generator_class = CodeGenerator
    bounded_iter = TemplateSandbox.bounded_iter.__wrapped__  # type: ignore[attr-defined]
    bounded_write = TemplateSandbox.bounded_write.__wrapped__  # type: ignore[attr-defined]
    bounded_concat = TemplateSandbox.bounded_concat.__wrapped__  # type: ignore[attr-defined]


CONTEXT = {
    "cluster": {
        "name": "east-1",
        "labels": {"region": "east"},
        "properties": {"kubernetes-fleet.io/node-count": "4"},
        "kubernetesVersion": "v1.31.2",
    },
    "values": {"team": "platform", "replicas": {"east": 3, "west": 1}},
}
TEMPLATES = {
    "good": GOOD,
    "loops": "{% for i in range(5) %}{% for j in [i, i ~ 'x'] %}{{ j }},{% endfor %}{% endfor %}",
    "macro": "{% macro m(x) %}<{{ x ~ '!' }}>{% endmacro %}{{ m('a') }}{{ m(cluster.name) }}",
    "set block": "{% set s %}{{ cluster.name * 3 }}{% endset %}{{ s ~ s }}",
    "filters": "{{ cluster.labels | dictsort | map('last') | join(',') | upper }}",
    "loop in a call": "{{ [1, 2, 3] | map('string') | join('-') }}{% for x in 'ab' %}{{ x }}{% endfor %}",
    **{f"bomb {k}": v for k, v in BOMBS.items()},
    **{f"object {k}": v for k, v in OBJECTS.items()},
    **{f"undefined {k}": v for k, v in UNDEFINED.items()},
}


def outcome(environment: type[TemplateSandbox], source: str) -> tuple[Any, ...]:
    env = environment()
    template = env.from_string(source)
    env.start(0)
    try:
        text, error = "".join(template.generate(CONTEXT)), None
    except Exception as exc:
        text, error = None, f"{type(exc).__name__}: {exc}"
    return text, error, env.steps, env.iterations, env.written


@pytest.mark.parametrize(
    "limits",
    [{}, {"MAX_STEPS": 40}, {"MAX_STEPS": 400}, {"MAX_WRITTEN": 30}, {"MAX_STEPS_PER_RUN": 90}],
    ids=str,
)
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_direct_guard_calls_count_as_calls_through_the_sandbox(
    name: str, limits: dict[str, int], monkeypatch: pytest.MonkeyPatch
):
    for limit, value in limits.items():
        monkeypatch.setattr(sandbox, limit, value)
    source = TEMPLATES[name]
    assert outcome(TemplateSandbox, source) == outcome(CalledLikeTemplateCode, source)


def test_the_generated_code_calls_the_guards_directly():
    code = TemplateSandbox().compile("{% for i in [1] %}{{ i ~ 'a' }}{% endfor %}", raw=True)
    for guard in sandbox.GUARDS:
        assert f"environment.{guard}(" in code
    assert "environment.call(context, environment.bounded" not in code
