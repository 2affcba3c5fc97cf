"""The docs site's generated references (an mkdocs hook, `hooks:` in mkdocs.yml): the CLI reference from
`portal-import`'s argparse parser and the parameters reference from template.yaml's Parameters, so neither can
drift from what it describes. A page holding a marker line gets the reference in its place when it is built."""

from __future__ import annotations

import argparse
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CLI_MARKER = "<!-- generated: cli reference -->"
PARAMETERS_MARKER = "<!-- generated: parameters reference -->"
# argparse wraps usage lines at the terminal's width; a fixed one keeps the page the same on every machine.
_USAGE_WIDTH = 100
_MARKDOWN_SPECIALS = re.compile(r"([\\*_\[\]|])")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs calls this for every page: a marker line becomes its reference."""
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    if PARAMETERS_MARKER in markdown:
        markdown = markdown.replace(PARAMETERS_MARKER, parameters_reference())
    return markdown


# --- the CLI -----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The operator CLI's parser, `local run` and `local serve` included when the local runtime is installed."""
    from portal_import_cli.parser import build_parser as build

    return build()


def commands(parser: argparse.ArgumentParser) -> Iterator[tuple[argparse.ArgumentParser, str]]:
    """Every parser under `parser`, itself first, depth first, each with the help its parent gives it."""
    yield from _commands(parser, "")


def _commands(parser: argparse.ArgumentParser, help_text: str) -> Iterator[tuple[argparse.ArgumentParser, str]]:
    yield parser, help_text
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, subparser in action.choices.items():
                yield from _commands(subparser, helps.get(name, ""))


def cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """Markdown for every command: its usage, what it is for, and each argument with its help, default and choices."""
    parser = parser or build_parser()
    help_options = ", ".join(f"`{option}`" for option in _help_options(parser))
    sections = [f"Every command also takes {help_options}: it prints the command's usage and help, as below."]
    sections += [_command_section(command, help_text) for command, help_text in commands(parser)]
    return "\n\n".join(sections) + "\n"


def _help_options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        option
        for action in parser._actions
        if isinstance(action, argparse._HelpAction)
        for option in action.option_strings
    ]


def _command_section(parser: argparse.ArgumentParser, help_text: str) -> str:
    lines = [f"## `{parser.prog}`", ""]
    if help_text:
        lines += [_text(_sentence(help_text)), ""]
    lines += ["```text", _usage(parser), "```", ""]
    if parser.description:
        lines += [_text(parser.description), ""]
    for group in parser._action_groups:
        actions = [action for action in group._group_actions if _shown(action)]
        if not actions:
            continue
        lines += [f"**{_text(_group_title(group.title or ''))}**", ""]
        if group.description:
            lines += [_text(group.description), ""]
        lines += ["| argument | what it is | default |", "|---|---|---|"]
        lines += [_action_row(parser, action) for action in actions]
        lines.append("")
    return "\n".join(lines).rstrip()


def _shown(action: argparse.Action) -> bool:
    """Help is left out of the tables (every command has it; the page says so once), and so is what argparse hides."""
    return not isinstance(action, argparse._HelpAction) and action.help != argparse.SUPPRESS


def _group_title(title: str) -> str:
    # argparse's own titles differ between Python versions ("optional arguments" before 3.10).
    return {"positional arguments": "arguments", "optional arguments": "options"}.get(title, title)


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=_USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return formatter.format_help().strip()


def _action_row(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if isinstance(action, argparse._SubParsersAction):
        invocation = " ".join(f"`{name}`" for name in action.choices)
        what = "the command; each has a section of its own below"
        return f"| {invocation} | {what} | |"
    formatter = argparse.HelpFormatter(parser.prog, width=_USAGE_WIDTH)
    invocation = ", ".join(f"`{part}`" for part in formatter._format_action_invocation(action).split(", "))
    notes = []
    if action.choices is not None:
        notes.append("one of " + ", ".join(f"`{choice}`" for choice in action.choices))
    if action.required and action.option_strings:
        notes.append("required")
    if isinstance(action, argparse._AppendAction) and "repeat" not in (action.help or ""):
        notes.append("repeatable")
    what = _text(_sentence(action.help or ""))
    if notes:
        what = f"{what} ({'; '.join(notes)})" if what else "; ".join(notes)
    return f"| {invocation} | {what} | {_default(action)} |"


def _default(action: argparse.Action) -> str:
    default = action.default
    if default is None or default is False or default == [] or default == argparse.SUPPRESS:
        return ""
    if isinstance(default, Path) and default.is_absolute():
        # A default inside the package (the bundled sample): where it is installed is no reader's business.
        default = default.relative_to(ROOT) if default.is_relative_to(ROOT) else Path("…", default.name)
    return f"`{default}`"


# --- the parameters ----------------------------------------------------------------------------------------------


class _TemplateLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short tags (!Ref, !Sub, !If...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_TemplateLoader.add_multi_constructor("!", _any_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as template:
        document = yaml.load(template, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader that accepts CloudFormation's tags
    if not isinstance(document, dict):
        raise ValueError(f"{path} holds no template")
    return document


def parameters_reference(template: dict[str, Any] | None = None) -> str:
    """Markdown for every parameter of the template, in the groups and under the labels of its
    AWS::CloudFormation::Interface when it has one, otherwise in the template's order."""
    template = template if template is not None else load_template()
    parameters: dict[str, dict[str, Any]] = template.get("Parameters") or {}
    interface = (template.get("Metadata") or {}).get("AWS::CloudFormation::Interface") or {}
    labels = {
        name: (label or {}).get("default", "") for name, label in (interface.get("ParameterLabels") or {}).items()
    }
    sections: list[str] = []
    grouped: set[str] = set()
    for group in interface.get("ParameterGroups") or []:
        names = [name for name in group.get("Parameters") or [] if name in parameters]
        grouped |= set(names)
        title = (group.get("Label") or {}).get("default") or "Parameters"
        sections.append(f"## {_text(title)}")
        sections += [_parameter_section(name, parameters[name], labels.get(name, ""), level=3) for name in names]
    rest = [name for name in parameters if name not in grouped]
    if rest and grouped:
        sections.append("## Other parameters")
    level = 3 if grouped else 2
    sections += [_parameter_section(name, parameters[name], labels.get(name, ""), level=level) for name in rest]
    return "\n\n".join(sections) + "\n"


def _parameter_section(name: str, parameter: dict[str, Any], label: str, *, level: int) -> str:
    lines = [f"{'#' * level} `{name}`", ""]
    if label:
        lines += [f"*{_text(label)}*", ""]
    if parameter.get("Description"):
        lines += [_text(" ".join(str(parameter["Description"]).split())), ""]
    facts = [f"- Type: `{parameter.get('Type', 'String')}`"]
    if "Default" not in parameter:
        facts.append("- Default: none: a deploy must give it")
    elif parameter["Default"] == "":
        facts.append("- Default: empty")
    else:
        facts.append(f"- Default: `{parameter['Default']}`")
    if "AllowedValues" in parameter:
        facts.append("- Allowed values: " + ", ".join(f"`{value}`" for value in parameter["AllowedValues"]))
    if "AllowedPattern" in parameter:
        facts.append(f"- Pattern: `{parameter['AllowedPattern']}`")
    for key, what in (("MinValue", "Minimum"), ("MaxValue", "Maximum")):
        if key in parameter:
            facts.append(f"- {what}: `{parameter[key]}`")
    for key, what in (("MinLength", "Shortest"), ("MaxLength", "Longest")):
        if key in parameter:
            facts.append(f"- {what}: {parameter[key]} characters")
    if parameter.get("ConstraintDescription"):
        constraint = " ".join(str(parameter["ConstraintDescription"]).split())
        facts.append(f"- CloudFormation refuses any other value, saying: {_text(constraint)}")
    return "\n".join(lines + facts)


# --- text --------------------------------------------------------------------------------------------------------


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:] if text else text


def _text(text: str) -> str:
    """Plain text as Markdown that shows it as it is: `code` spans stay code, the rest is escaped."""
    if text.count("`") % 2:  # an unmatched backtick: no code span, every backtick a character
        return _escaped(text).replace("`", "\\`")
    parts = text.split("`")
    parts[::2] = [_escaped(part) for part in parts[::2]]
    return "`".join(parts)


def _escaped(text: str) -> str:
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=False))
