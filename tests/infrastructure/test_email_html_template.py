"""The activation email template inserts every value raw, the HTML part only values the sender escaped, so what
recipients get does not depend on whether SES escapes {{...}} values, and SES has every value it names."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal_import.domain.activation import activation_defaults, activation_values

# Any Handlebars expression: {{x}}, {{{x}}}, {{& x}}, {{#each}}, ...
_EXPRESSION = re.compile(r"{{{?[^{}]*}?}}")
_RAW_VALUE = re.compile(r"^{{{\s*([A-Za-z0-9_]+)\s*}}}$")


def _parts(sam_template: dict[str, Any]) -> dict[str, str]:
    template = sam_template["Resources"]["ActivationEmailTemplate"]["Properties"]["Template"]
    return {name: template[name] for name in ("SubjectPart", "TextPart", "HtmlPart")}


def _names(part: str) -> list[str]:
    """The values a part inserts raw ({{{name}}})."""
    return [match[1] for match in map(_RAW_VALUE.match, _EXPRESSION.findall(part)) if match]


def _provided() -> dict[str, str]:
    """Every value the email sender gives the template (activation.activation_values and activation_defaults)."""
    return {
        **activation_defaults(portal_name="Customer Portal"),
        **activation_values(portal_url="https://p", first_name="Jo", token="t", expires_at="2025-03-04T09:30:12Z"),
    }


@pytest.mark.parametrize("part", ["SubjectPart", "TextPart", "HtmlPart"])
def test_every_value_of_the_activation_email_is_inserted_raw(sam_template: dict[str, Any], part: str) -> None:
    expressions = _EXPRESSION.findall(_parts(sam_template)[part])
    assert expressions
    assert [expression for expression in expressions if not _RAW_VALUE.match(expression)] == []


def test_the_html_part_shows_only_values_the_sender_escaped(sam_template: dict[str, Any]) -> None:
    names = _names(_parts(sam_template)["HtmlPart"])
    assert names and all(name.endswith("Html") for name in names), names


def test_the_subject_and_text_part_show_values_as_typed(sam_template: dict[str, Any]) -> None:
    parts = _parts(sam_template)
    names = _names(parts["SubjectPart"]) + _names(parts["TextPart"])
    assert not [name for name in names if name.endswith("Html")]


def test_the_sender_gives_every_value_the_template_names(sam_template: dict[str, Any]) -> None:
    # SES drops an email whose template names a value it was not given (a rendering failure)
    named = {name for part in _parts(sam_template).values() for name in _names(part)}
    assert named - set(_provided()) == set()
    # and each thing the email says is in the HTML part as well as in the text part
    assert {f"{name}Html" for name in named if not name.endswith("Html")} <= named
