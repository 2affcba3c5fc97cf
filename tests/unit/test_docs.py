"""The docs site's generated references name everything they describe, and the README stays a short page whose
links all lead somewhere. The hook's generators are called directly: no mkdocs build here (`make docs` does it)."""

from __future__ import annotations

import argparse
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "docs" / "hooks" / "reference.py"
README = ROOT / "README.md"
README_MOST_LINES = 200
# [text](target) and ![alt](target); a target ends at whitespace or the closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks_reference", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser under `parser`, itself included, walked here rather than by the hook it checks."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                yield from _parsers(subparser)


def _sections(reference: str) -> dict[str, str]:
    """The reference's text under each `## \\`prog\\`` heading, by prog."""
    parts = re.split(r"^## `([^`]+)`$", reference, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _missing_from_cli_reference(parser: argparse.ArgumentParser, reference: str) -> list[str]:
    """Each command, option string, argument and subcommand of `parser` that the reference does not show where it
    belongs (help options only need to be on the page: every command has them)."""
    sections = _sections(reference)
    missing = []
    for command in _parsers(parser):
        section = sections.get(command.prog)
        if section is None:
            missing.append(command.prog)
            continue
        for action in command._actions:
            if action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._SubParsersAction):
                names = list(action.choices)
            elif action.option_strings:
                names = list(action.option_strings)
            else:
                names = [action.metavar if isinstance(action.metavar, str) else action.dest]
            where = reference if isinstance(action, argparse._HelpAction) else section
            missing += [f"{command.prog} {name}" for name in names if f"`{name}" not in where]
    return missing


def test_the_cli_reference_shows_every_option_of_every_command() -> None:
    # Given the operator CLI's parser, `local run` and `local serve` included
    hook = _hook()
    parser = hook.build_parser()
    progs = {command.prog for command in _parsers(parser)}
    assert {"portal-import submit", "portal-import directory load", "portal-import local run"} <= progs
    # When its reference is generated
    reference = hook.cli_reference(parser)
    # Then every command has its section, with every option, argument and subcommand in it
    assert _missing_from_cli_reference(parser, reference) == []
    assert "`--send-activation-email`, `--no-send-activation-email`" in reference
    assert "one of `import`, `validate`" in reference  # local run --mode's choices
    assert "| `--limit N` | How many (default 20) | `20` |" in reference  # jobs --limit's default


def test_the_check_finds_an_option_the_reference_lacks() -> None:
    # Given a reference generated before an option was added to its parser
    hook = _hook()
    parser = hook.build_parser()
    reference = hook.cli_reference(parser)
    submit = next(command for command in _parsers(parser) if command.prog == "portal-import submit")
    submit.add_argument("--dry-run", action="store_true", help="an option the reference has not seen")
    # When the reference is checked against the parser
    missing = _missing_from_cli_reference(parser, reference)
    # Then the new option is reported, and a newly generated reference has it
    assert missing == ["portal-import submit --dry-run"]
    assert _missing_from_cli_reference(parser, hook.cli_reference(parser)) == []


def _template_parameters() -> dict[str, Any]:
    """template.yaml's Parameters, read with a loader of this test's own (CloudFormation's tags as plain values)."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=Loader)
    return template["Parameters"]


def _missing_from_parameters_reference(parameters: dict[str, Any], reference: str) -> list[str]:
    headings = set(re.findall(r"^#+ `([^`]+)`$", reference, flags=re.MULTILINE))
    return [name for name in parameters if name not in headings]


def test_the_parameters_reference_shows_every_parameter_of_the_template() -> None:
    # Given template.yaml's parameters
    parameters = _template_parameters()
    assert {"SenderAddress", "PortalUrl", "CognitoUserCreationRate"} <= set(parameters)
    # When their reference is generated from the template
    reference = _hook().parameters_reference()
    # Then each has its heading, and its type, default and allowed values are shown
    assert _missing_from_parameters_reference(parameters, reference) == []
    assert "- Default: none: a deploy must give it" in reference  # SenderAddress
    assert "- Allowed values: `address`, `domain`, `existing`" in reference
    assert "- Pattern: `^$|^https://" in reference
    assert "- Maximum: `720`" in reference


def test_the_parameters_reference_follows_the_templates_groups_and_labels() -> None:
    # Given a template whose interface groups some of its parameters and labels one
    template: dict[str, Any] = {
        "Parameters": {
            "SenderAddress": {"Type": "String", "Description": "Where emails come from."},
            "MaxRows": {"Type": "Number", "Default": 1000000, "MinValue": 1},
            "LogLevel": {"Type": "String", "Default": "INFO", "AllowedValues": ["INFO", "DEBUG"]},
        },
        "Metadata": {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [{"Label": {"default": "Email"}, "Parameters": ["SenderAddress"]}],
                "ParameterLabels": {"SenderAddress": {"default": "Sender address"}},
            }
        },
    }
    # When its reference is generated
    reference = _hook().parameters_reference(template)
    # Then the group comes first under its label, the rest under "Other parameters", and none is missing
    assert reference.index("## Email") < reference.index("### `SenderAddress`") < reference.index("*Sender address*")
    assert reference.index("## Other parameters") < reference.index("### `MaxRows`")
    assert _missing_from_parameters_reference(template["Parameters"], reference) == []
    # And a parameter the template gains is reported missing from the old reference
    template["Parameters"]["MaxFileBytes"] = {"Type": "Number"}
    assert _missing_from_parameters_reference(template["Parameters"], reference) == ["MaxFileBytes"]


def test_the_reference_pages_are_filled_in_where_their_markers_are() -> None:
    # Given the two reference pages as they are in docs/
    hook = _hook()
    cli_page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    parameters_page = (ROOT / "docs" / "reference" / "parameters.md").read_text(encoding="utf-8")
    # When mkdocs hands them to the hook
    cli = hook.on_page_markdown(cli_page, page=None, config=None, files=None)
    parameters = hook.on_page_markdown(parameters_page, page=None, config=None, files=None)
    # Then each marker has become its reference
    assert hook.CLI_MARKER not in cli and "## `portal-import local serve`" in cli
    assert hook.PARAMETERS_MARKER not in parameters and "## `SenderAddress`" in parameters


def test_the_readme_is_short_and_its_links_lead_to_files() -> None:
    # Given the README
    text = README.read_text(encoding="utf-8")
    # Then it is a short page
    assert len(text.splitlines()) <= README_MOST_LINES
    # And each of its relative links names a file of the repository
    targets = [target.split("#", 1)[0] for target in LINK.findall(text)]
    relative = [target for target in targets if target and not re.match(r"^[a-z][a-z0-9+.-]*:", target)]
    assert relative, "the README links into the docs"
    broken = [target for target in relative if not (ROOT / target).exists()]
    assert broken == []
