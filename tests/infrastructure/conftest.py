"""The template in both forms: as written (SAM) and as CloudFormation deploys it (transformed offline by SAM), the
latter also as deployed with given parameters, its conditions decided."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from portal_import_local.template import load_template, transform_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

_NO_VALUE = object()


def decide_conditions(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The template as CloudFormation deploys it with `parameters` (defaults for the rest): the resources and outputs
    whose condition is false left out, each Fn::If replaced by its chosen branch, AWS::NoValue removed."""
    values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    values.update(parameters)
    definitions = template.get("Conditions", {})
    decided: dict[str, bool] = {}

    def operand(node: Any) -> str:
        return values[node["Ref"]] if isinstance(node, dict) else str(node)

    def truth(node: dict[str, Any]) -> bool:
        ((function, arguments),) = node.items()
        if function == "Fn::Equals":
            return operand(arguments[0]) == operand(arguments[1])
        if function == "Fn::Not":
            return not truth(arguments[0])
        if function == "Fn::And":
            return all(truth(argument) for argument in arguments)
        if function == "Fn::Or":
            return any(truth(argument) for argument in arguments)
        if function == "Condition":
            return condition(arguments)
        raise ValueError(f"a condition function this test helper does not know: {function}")

    def condition(name: str) -> bool:
        if not name:  # an unconditional resource or output
            return True
        if name not in decided:
            decided[name] = truth(definitions[name])
        return decided[name]

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(resolve, node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if node == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if list(node) == ["Fn::If"]:
            name, when_true, when_false = node["Fn::If"]
            return resolve(when_true if condition(name) else when_false)
        return {key: value for key, value in ((k, resolve(v)) for k, v in node.items()) if value is not _NO_VALUE}

    def kept(section: str) -> dict[str, Any]:
        entries = template.get(section, {}).items()
        return {name: resolve(entry) for name, entry in entries if condition(entry.get("Condition", ""))}

    return {**template, "Resources": kept("Resources"), "Outputs": kept("Outputs")}


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="session")
def transformed(sam_template: dict[str, Any]) -> dict[str, Any]:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        return transform_template(sam_template, artifact_bucket="artifacts", parameters={}, iam_client=iam)


@pytest.fixture(scope="session")
def deployed(transformed: dict[str, Any]) -> dict[str, Any]:
    """The stack as deployed with its default parameters: it creates its own user pool."""
    return decide_conditions(transformed, {})


@pytest.fixture(scope="session")
def adopted_pool_id() -> str:
    """A pool that exists before the stack, adopted through the UserPoolId parameter."""
    return "us-east-1_Adopted01"


@pytest.fixture(scope="session")
def adopting(transformed: dict[str, Any], adopted_pool_id: str) -> dict[str, Any]:
    """The stack as deployed with UserPoolId naming an existing pool, which it adopts."""
    return decide_conditions(transformed, {"UserPoolId": adopted_pool_id})


@pytest.fixture(scope="session")
def with_portal_page(transformed: dict[str, Any]) -> dict[str, Any]:
    """The stack as deployed for a portal with a set-password page of its own (PortalUrl)."""
    return decide_conditions(transformed, {"PortalUrl": "https://portal.example.com"})
