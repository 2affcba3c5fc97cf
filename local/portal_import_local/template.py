"""Reading template.yaml (CloudFormation short-form tags included) and transforming it offline with SAM."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template


class _CloudFormationLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
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
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
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
    region: str = "us-east-1",
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
