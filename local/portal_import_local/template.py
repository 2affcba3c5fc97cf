"""Reading template.yaml (CloudFormation short-form tags included) and transforming it offline with SAM."""

from __future__ import annotations

import base64
import copy
import functools
import logging
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

from portal_import_local.account import REGION

# Offline, SAM's translator has no feature-toggle configuration, and says so for every feature the template uses
# (OpenApiVersion's): a line on every local run's stderr about nothing the operator can act on.
logging.getLogger("samtranslator.feature_toggle.feature_toggle").setLevel(logging.ERROR)


# libyaml's safe loader where PyYAML was built with it: the pure-Python one took 1.4 s of each local stack's 5
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CloudFormationLoader(_SafeLoader):
    pass


def _intrinsic(loader: yaml.constructor.SafeConstructor, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """The template as a dict of its own (the caller may change it): read once per version of the file in a
    process, as a process runs one local stack after another (tests, `local run` in one process)."""
    stat = path.stat()
    return copy.deepcopy(_read_template(path.resolve(), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=4)
def _read_template(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 - a safe loader's subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


def artifact_key(logical_id: str) -> str:
    return f"{logical_id}.zip"


def transform_template(
    template: dict[str, Any],
    *,
    artifact_bucket: str,
    parameters: dict[str, str],
    iam_client: Any,
    region: str = REGION,
) -> dict[str, Any]:
    """The CloudFormation form of the SAM template, local code locations pointed at an artifacts bucket."""
    sam = copy.deepcopy(template)
    for logical_id, resource in sam.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri"):
            if uri in properties:
                properties[uri] = f"s3://{artifact_bucket}/{artifact_key(logical_id)}"
    # What samtranslator's transform() does, with the region given rather than read from the environment.
    parameter_values = dict(parameters)
    to_py27_compatible_template(sam, parameter_values)
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    policies = ManagedPolicyLoader(iam_client)
    try:
        transformed = translator.translate(sam, parameter_values=parameter_values, get_managed_policy_map=policies.load)
        return dict(undo_mark_unicode_str_in_template(transformed))
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause) for cause in error.causes)
        raise ValueError(f"template.yaml is not a valid SAM template: {causes}") from error


# The intrinsic functions TemplateValues evaluates, besides Ref and Fn::GetAtt.
_LOGIC_FUNCTIONS = {"Fn::If", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"}
_TEXT_FUNCTIONS = {"Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::Base64"}


class TemplateValues:
    """What a template's intrinsic functions evaluate to before its stack exists: its parameters (given, or their
    defaults), pseudo parameters, its conditions, and the resources created ahead of the stack (resolve_to)."""

    def __init__(
        self, template: dict[str, Any], parameters: dict[str, str], *, stack_name: str, region: str, account: str
    ) -> None:
        declared = template.get("Parameters", {})
        self._parameters = {name: str(spec.get("Default", "")) for name, spec in declared.items()} | parameters
        self._parameters |= {
            "AWS::StackName": stack_name,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self._conditions: dict[str, Any] = template.get("Conditions", {})
        self._created: dict[str, dict[str, str]] = {}

    def holds(self, condition: str | None) -> bool:
        """Whether a resource's Condition holds (no condition: it does)."""
        return condition is None or bool(self.resolve(self._conditions[condition]))

    def resolve_to(self, logical_id: str, attributes: dict[str, str]) -> None:
        """Records what `Ref` (attributes["Ref"]) and `Fn::GetAtt` of a resource created ahead give."""
        self._created[logical_id] = attributes

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function this knows evaluated (Ref, Fn::Sub, Fn::If, Fn::Equals, Fn::Not,
        Fn::And, Fn::Or, Fn::Join, Fn::Select, Fn::Split, Fn::Base64, Fn::GetAtt of a resource created ahead)."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" and argument in self._parameters:
                return self._parameters[argument]
            if name == "Ref" and argument in self._created:
                return self._created[argument]["Ref"]
            if name == "Fn::GetAtt" and argument[0] in self._created:
                return self._created[argument[0]][argument[1]]
            if name in _LOGIC_FUNCTIONS:
                return self._logic(name, argument)
            if name in _TEXT_FUNCTIONS:
                return self._text(name, argument)
        return {key: self.resolve(item) for key, item in value.items()}

    def _logic(self, name: str, argument: Any) -> Any:
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.holds(condition) else when_false)
        if name == "Fn::Equals":
            first, second = (self.resolve(item) for item in argument)
            return str(first) == str(second)
        if name == "Fn::Not":
            return not self.resolve(argument[0])
        if name == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if name == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        return self.holds(argument)  # Condition

    def _text(self, name: str, argument: Any) -> Any:
        if name == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            for variable, given in variables.items():
                text = text.replace(f"${{{variable}}}", str(self.resolve(given)))
            return self._substitute(text, every=True)
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in self.resolve(items))
        if name == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if name == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(str(separator))
        # Fn::Base64: CloudFormation encodes the text as UTF-8 first, as this does.
        return base64.b64encode(str(self.resolve(argument)).encode()).decode()

    def replace_references(self, value: Any) -> Any:
        """The value with only the references to resources created ahead replaced by what they give; everything
        else is left for CloudFormation to evaluate."""
        if isinstance(value, list):
            return [self.replace_references(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" and argument in self._created:
                return self._created[argument]["Ref"]
            if name == "Fn::GetAtt" and isinstance(argument, list) and argument[0] in self._created:
                return self._created[argument[0]][argument[1]]
            if name == "Fn::Sub" and isinstance(argument, str):
                return {name: self._substitute(argument, every=False)}
            if name == "Fn::Sub" and isinstance(argument, list):
                return {name: [self._substitute(argument[0], every=False), self.replace_references(argument[1])]}
        return {key: self.replace_references(item) for key, item in value.items()}

    def _substitute(self, text: str, *, every: bool) -> str:
        """`${Name}` and `${Resource.Attribute}` filled: those of resources created ahead, and with `every` the
        parameters too."""
        for logical_id, attributes in self._created.items():
            text = text.replace(f"${{{logical_id}}}", attributes["Ref"])
            for attribute, given in attributes.items():
                text = text.replace(f"${{{logical_id}.{attribute}}}", given)
        if every:
            for name, given in self._parameters.items():
                text = text.replace(f"${{{name}}}", given)
        return text
