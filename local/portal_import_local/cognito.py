"""The Cognito resources of template.yaml, created on moto from the template's own properties.

moto's CloudFormation skips every AWS::Cognito::* resource: a `Ref` to one resolves to nothing (an environment
variable holding it is dropped) and a `Fn::GetAtt` on one fails the stack. So, before the stack is created, each
such resource whose condition holds is created through the API with its properties, and every `Ref`/`Fn::GetAtt`
of it in the template is replaced by what AWS would give: the functions then read the ids as they would on AWS.

The pool gets every property moto keeps, so that DescribeUserPool answers as on AWS: its feature plan
(UserPoolTier), threat protection (UserPoolAddOns), email configuration, password policy with its history, and MFA
(EnabledMfas, which the API sets with SetUserPoolMfaConfig). moto acts on the password rules and MFA; it keeps the
rest without acting on it: no password history, no risk rating, and no email of the pool's own (it sends none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal_import_local.template import TemplateValues

# The API operation that creates each type, with the CloudFormation property names the API spells otherwise.
_CREATE = {
    "AWS::Cognito::UserPool": "CreateUserPool",
    "AWS::Cognito::UserPoolClient": "CreateUserPoolClient",
}
_RENAMED = {"UserPoolName": "PoolName"}


def create_cognito_resources(template: dict[str, Any], values: TemplateValues, cognito: Any) -> None:
    """Creates the template's user pools and their clients (pools first), replaces the references to them, and
    removes them from the template."""
    resources = template["Resources"]
    ordered = sorted(
        (logical_id for logical_id, resource in resources.items() if resource["Type"] in _CREATE),
        key=lambda logical_id: resources[logical_id]["Type"] != "AWS::Cognito::UserPool",
    )
    for logical_id in ordered:
        resource = resources.pop(logical_id)
        if not values.holds(resource.get("Condition")):
            values.resolve_to(logical_id, {"Ref": ""})
            continue
        properties = values.resolve(resource.get("Properties", {}))
        arguments = _as_api_arguments(cognito, _CREATE[resource["Type"]], properties)
        if resource["Type"] == "AWS::Cognito::UserPool":
            pool = cognito.create_user_pool(**arguments)["UserPool"]
            _enable_mfa(cognito, pool["Id"], properties)
            values.resolve_to(logical_id, {"Ref": pool["Id"], "Arn": pool["Arn"], "ProviderName": pool["Id"]})
        else:
            app_client = cognito.create_user_pool_client(**arguments)["UserPoolClient"]
            values.resolve_to(logical_id, {"Ref": app_client["ClientId"], "ClientId": app_client["ClientId"]})
    template["Resources"] = values.replace_references(resources)
    template["Outputs"] = values.replace_references(template.get("Outputs", {}))


def _enable_mfa(cognito: Any, pool_id: str, properties: Mapping[str, Any]) -> None:
    """The pool's EnabledMfas, which CreateUserPool has no parameter for: CloudFormation sets them as this does."""
    enabled = set(properties.get("EnabledMfas", []))
    if not enabled:
        return
    if enabled != {"SOFTWARE_TOKEN_MFA"}:
        # SMS needs an SNS role, email MFA email settings of its own: template.yaml enables neither
        raise ValueError(f"the local runtime sets up authenticator-app MFA only, not {sorted(enabled)}")
    cognito.set_user_pool_mfa_config(
        UserPoolId=pool_id,
        SoftwareTokenMfaConfiguration={"Enabled": True},
        MfaConfiguration=properties["MfaConfiguration"],
    )


def _as_api_arguments(cognito: Any, operation: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The template's properties as the API operation takes them: renamed, coerced to the operation's shapes
    ("12" to 12, "true" to True), and without what the API has no parameter for."""
    shape = cognito.meta.service_model.operation_model(operation).input_shape
    return dict(_coerce({_RENAMED.get(name, name): value for name, value in properties.items()}, shape))


def _coerce(value: Any, shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            return value
        return {
            name: _coerce(item, shape.members[name])
            for name, item in value.items()
            if name in shape.members and item is not None
        }
    if kind == "list":
        return [_coerce(item, shape.member) for item in value] if isinstance(value, list) else value
    if kind == "map":
        return {key: _coerce(item, shape.value) for key, item in value.items()} if isinstance(value, Mapping) else value
    if kind == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    if kind in ("integer", "long") and isinstance(value, str):
        return int(value)
    if kind in ("float", "double") and isinstance(value, str):
        return float(value)
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "string" and isinstance(value, int | float):
        return str(value)
    return value
