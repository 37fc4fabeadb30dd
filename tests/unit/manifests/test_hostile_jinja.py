"""Hostile Jinja is a located MPL006 within a time and size budget, in an immutable sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpctl.manifests import load
from mpctl.manifests.template import TemplateProblemError, render
from tests.conftest import ProjectFactory

HEAD = "kind: Client\nname: x\n"
"""Two lines before the hostile one, so the reported line proves the location."""


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{% include 'other.yaml' %}", "{% include %} is not supported"),
        ("{% import 'macros' as m %}", "{% import %} is not supported"),
        ("{% from 'macros' import m %}", "{% from ... import %} is not supported"),
        ("{% extends 'base.yaml' %}", "{% extends %} is not supported"),
        ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
        ("{{ range(10**6) }}", "range of more than 262144 numbers"),
        ("{{ range(10**30) }}", "range of more than 262144 numbers"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "calls nested deeper than"),
        ("{% for a in teams recursive %}{{ loop(teams) }}{% endfor %}", "calls nested deeper"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "operations (an endless or huge loop?)|takes longer than",
        ),
        ("{{ 'a' * 600000000 }}", "more than 256 Ki characters"),
        ("{{ [0] * 600000000 }}", "more than 256 Ki characters"),
        ("{{ (10 ** 1000) ** 1000 }}", "integer wider than"),
        ("{{ 'a'.ljust(10**9) }}", "width 1000000000 is above the limit"),
        ("{{ '{:>999999999}'.format(1) }}", "format width"),
        ("{{ '%999999999d' % 1 }}", "format width"),
        ("{{ 'a'|center(999999999) }}", "width 999999999 is above the limit"),
        ("{{ (['a'] * 1000)|join('b' * 1000) }}", "more than 256 Ki characters"),
        ("{{ range(100000)|map('center', 5000)|join }}", "more than 256 Ki characters"),
        ("{{ (1).to_bytes(10**9, 'big') }}", "more than 256 Ki characters"),
        (
            "{% set ns = namespace(s='a') %}{% for i in range(60) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "more than 256 Ki characters",
        ),
        (
            "{% set ns = namespace(s='a') %}{% for i in range(60) %}"
            "{% set ns.s %}{{ ns.s }}{{ ns.s }}{% endset %}{% endfor %}",
            "output is larger than|more than 256 Ki characters",
        ),
        (
            "{% set ns = namespace(l=[1]) %}{% for i in range(100) %}"
            "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
            "nested deeper than",
        ),
        ("{{ lipsum(1000000) }}", "'lipsum' is undefined"),
        ("{{ " + "(" * 100 + "1" + ")" * 100 + " }}", "nested deeper than 40 levels"),
        ("{{ teams.__class__ }}", "unsafe"),
        ("{# never closed", "template syntax: Missing end of comment tag"),
        ("{{ 'never closed", "template syntax: unexpected char"),
        ("{{ [" + "1, " * 30000 + "1] }}", "more than 20000 template tokens"),
        ("{{ [" + "[1], " * 3000 + "1] }}", "more than 5000 expressions and statements"),
    ],
)
def test_hostile_template_is_mpl006_on_its_line(
    make_project: ProjectFactory, template: str, message: str
) -> None:
    directory = make_project({"evil.yaml.j2": HEAD + template + "\n"})
    (error,) = [d for d in load(directory, "test").errors if d.file.endswith("evil.yaml.j2")]
    assert (Path(error.file).name, error.line, error.code) == ("evil.yaml.j2", 3, "MPL006")
    assert any(part in error.message for part in message.split("|")), error.message


def test_budget_errors_say_what_the_limits_are() -> None:
    with pytest.raises(TemplateProblemError) as caught:
        render("{{ 'a' * 600000000 }}", {})
    assert "operations" in caught.value.hint
    assert "split the file" in caught.value.hint


def test_one_template_cannot_change_what_another_file_sees(make_project: ProjectFactory) -> None:
    loop = (
        "{% for team in teams %}\n---\nkind: Client\nname: {{ team }}-c\ndescription: d\n"
        "scopes: [acme:x.read]\n{% endfor %}\n"
    )
    scope = "kind: Scope\nname: acme:x.read\ndescription: d\n"
    directory = make_project(
        {"a.yaml.j2": "{{ teams.append('intruder') }}\n", "b.yaml.j2": loop, "s.yaml": scope}
    )
    result = load(directory, "test")
    (error,) = [d for d in result.errors if d.file.endswith("a.yaml.j2")]
    assert error.code == "MPL006"
    assert "unsafe" in error.message
    names = sorted(r.resource.name for r in result.resources)
    assert names == ["a-c", "acme:x.read", "b-c"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{% for t in teams %}{{ t|upper }}-{{ loop.index }} {% endfor %}", "A-1 B-2 "),
        ("{{ teams|join(', ') }}", "a, b"),
        ("{{ '%-4s|' % 'ab' }}{{ '{:>4}'.format('cd') }}", "ab  |  cd"),
        ("{{ 'x'|center(5) }}|{{ 'a\nb'|indent(2, first=true) }}", "  x  |  a\n  b"),
        ("{{ ('ab' * 3)|replace('b', 'c') }} {{ 2 ** 10 }}", "acacac 1024"),
        ("{{ [1, 2] + [3] }}", "[1, 2, 3]"),
        ("{% set ns = namespace(n=0) %}{% for i in range(1000) %}{% set ns.n = ns.n + i %}"
         "{% endfor %}{{ ns.n }}", "499500"),
        ("{{ teams|map('upper')|list }} {{ {'b': 1}|tojson }}", "['A', 'B'] {\"b\": 1}"),
        ("{% set f = '{}-{}'.format %}{% set ns = namespace() %}{% for i in range(3000) %}"
         "{% set ns.r = f(i, 'x' * 90) %}{% endfor %}{{ ns.r }}", "2999-" + "x" * 90),
    ],
)  # fmt: skip
def test_ordinary_templates_still_render(template: str, expected: str) -> None:
    assert render(template, {"teams": ["a", "b"]}) == expected
