"""Jinja2 templating: loops and variables work; mistakes are located, never half-rendered."""

from __future__ import annotations

import pytest

from mpctl.manifests.template import TemplateProblemError, is_template, render


def test_plain_yaml_is_not_a_template() -> None:
    assert not is_template("kind: Client\nname: x\n")
    assert is_template("name: {{ env }}\n")


def test_loops_and_variables_render() -> None:
    text = "{% for t in teams %}- {{ t }}-{{ env }}\n{% endfor %}"
    assert render(text, {"teams": ["a", "b"], "env": "test"}) == "- a-test\n- b-test\n"


def test_undefined_variable_names_its_line() -> None:
    with pytest.raises(TemplateProblemError) as caught:
        render("kind: Client\n\nname: {{ nope }}\n", {})
    assert caught.value.line == 3
    assert "nope" in caught.value.message


def test_syntax_error_names_its_line() -> None:
    with pytest.raises(TemplateProblemError) as caught:
        render("a: 1\n{% for x in %}\n", {})
    assert caught.value.line == 2


def test_sandbox_blocks_attribute_escapes() -> None:
    with pytest.raises(TemplateProblemError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})
