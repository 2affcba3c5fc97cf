"""Provisioning template.yaml on moto, and what the runtime needs to know about the result.

moto cannot run Lambda code, so the two ways AWS invokes functions here — the bucket's notification and the
SQS event source mappings — are taken out of the template before it is created and delivered by the runtime; so is
what moto's CloudFormation cannot create of the REST API and its web ACL, which the runtime answers and emulates.
"""

from __future__ import annotations

import io
import json
import logging
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3

from portal_import_local import cognito_aliases, moto_patches
from portal_import_local.account import ACCOUNT, REGION
from portal_import_local.cognito import create_cognito_resources
from portal_import_local.template import TemplateValues, load_template, transform_template
from portal_import_local.waf import WebAcl

STACK_NAME = "portal-import-local"
ARTIFACT_BUCKET = "portal-import-local-artifacts"
# What a local stack is given unless told otherwise: a sender (the template asks every deploy for one).
SENDER_PARAMETERS = {"SenderAddress": "no-reply@example.com"}
# Where `local serve` listens unless told otherwise, and so where the links of a `local run` point.
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    timeout: int
    memory_mb: int
    environment: dict[str, str]


@dataclass(frozen=True)
class QueueTrigger:
    """An SQS event source mapping: which queue feeds which function, and how."""

    function: str  # logical id
    queue_url: str
    queue_arn: str
    batch_size: int
    report_item_failures: bool
    visibility_timeout: int


@dataclass(frozen=True)
class BucketTrigger:
    function: str
    events: tuple[str, ...]
    prefix: str
    suffix: str

    def matches(self, key: str) -> bool:
        return key.startswith(self.prefix) and key.endswith(self.suffix)


@dataclass(frozen=True)
class ScheduleTrigger:
    """An EventBridge schedule that invokes a function (the sweeper)."""

    function: str
    expression: str


@dataclass(frozen=True)
class RestApi:
    """A REST API of the template as the runtime answers it: its stage, its routes, the web ACL in front of it."""

    logical_id: str
    api_id: str
    stage: str
    routes: dict[tuple[str, str], str]  # (method, resource path such as /activate) -> function logical id
    web_acl: WebAcl | None = None

    def resource_of(self, path: str) -> str | None:
        """The resource path a request's path names under this API's stage (/v1/activate: /activate), or None."""
        prefix = f"/{self.stage}"
        return path[len(prefix) :] if path.startswith(prefix + "/") else None


@dataclass(frozen=True)
class JwtAuthorizer:
    """An HTTP API's JWT authorizer as its template configures it: the issuer and audiences a token must have."""

    issuer: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class HttpRoute:
    function: str  # the function's logical id
    authorizer: JwtAuthorizer | None  # None: the route is open (Auth.Authorizer NONE)


@dataclass(frozen=True)
class HttpApi:
    """An HTTP API of the template as the runtime answers it (payload format 2.0): its stage and its routes, each
    with the JWT authorizer that guards it."""

    logical_id: str
    api_id: str
    stage: str
    routes: dict[tuple[str, str], HttpRoute]  # (method, path template such as /api/jobs/{jobId}) -> the route

    def route_of(self, method: str, path: str) -> tuple[str, HttpRoute, dict[str, str]] | None:
        """The route a request's path names under this API's stage, its path parameters; None when none does."""
        prefix = f"/{self.stage}"
        if not path.startswith(prefix + "/"):
            return None
        under = path[len(prefix) :]
        for (route_method, template), route in self.routes.items():
            if route_method != method:
                continue
            found = _path_match(template, under)
            if found is not None:
                return template, route, found
        return None

    def serves(self, path: str) -> bool:
        return path.startswith(f"/{self.stage}/")


def _path_match(template: str, path: str) -> dict[str, str] | None:
    """The path's parameters when it matches the route's template ({name} is one path segment), else None."""
    wanted, given = template.strip("/").split("/"), path.strip("/").split("/")
    if len(wanted) != len(given):
        return None
    found: dict[str, str] = {}
    for part, value in zip(wanted, given, strict=True):
        if part.startswith("{") and part.endswith("}") and value:
            found[part[1:-1]] = unquote(value)
        elif part != value:
            return None
    return found


@dataclass(frozen=True)
class Stack:
    bucket: str
    topic_arn: str
    directory_table: str
    jobs_table: str
    functions: dict[str, FunctionSpec]
    queue_triggers: list[QueueTrigger]
    bucket_trigger: BucketTrigger
    schedule_triggers: list[ScheduleTrigger]
    dead_letter_queues: dict[str, str]  # queue url -> its DLQ url
    parameters: dict[str, str]
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    apis: tuple[RestApi, ...] = ()
    http_apis: tuple[HttpApi, ...] = ()
    console_url: str = ""  # the import console's address (ConsoleUrl)
    admin_user_pool_id: str = ""  # the console's administrators
    admin_user_pool_client_id: str = ""
    portal_url: str = ""  # the base of the activation links the emails carry
    configuration_set: str = ""  # the SES configuration set of the activation emails
    delivery_events_topic_arn: str = ""  # where its event destination publishes


def _strip_invocations(
    template: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]], list[ScheduleTrigger]]:
    """Removes what would make moto try to run Lambda code (or, for schedules, break EventBridge's PutEvents);
    returns the bucket notification, the ESMs and the schedules, which the runtime delivers itself."""
    resources = template["Resources"]
    schedule_rules = [
        k for k, v in resources.items() if v["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in v["Properties"]
    ]
    schedules = [
        ScheduleTrigger(
            function=_logical_of(target["Arn"]), expression=resources[rule]["Properties"]["ScheduleExpression"]
        )
        for rule in schedule_rules
        for target in resources[rule]["Properties"].get("Targets", [])
    ]
    for logical_id in [
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::Lambda::Permission" and _referenced(v["Properties"].get("SourceArn")) in schedule_rules
    ]:
        resources.pop(logical_id)
    for rule in schedule_rules:
        resources.pop(rule)
    mappings = [
        resources.pop(logical_id)["Properties"]
        for logical_id in [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::EventSourceMapping"]
    ]
    notification: dict[str, Any] = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::S3::Bucket":
            notification = resource.get("Properties", {}).pop("NotificationConfiguration", None) or notification
    # An email subscription would only ever wait for confirmation here; a queue's is made after the stack.
    for logical_id in [
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::SNS::Subscription" and v["Properties"]["Protocol"] != "sqs"
    ]:
        resources.pop(logical_id)
    return notification, mappings, schedules


def _referenced(value: Any) -> str:
    """The resource a plain Ref or GetAtt names; "" for anything else (an API's ARN pattern, say)."""
    try:
        return _logical_of(value)
    except ValueError:
        return ""


def _logical_of(reference: Any) -> str:
    if isinstance(reference, dict):
        if "Ref" in reference:
            return str(reference["Ref"])
        if "Fn::GetAtt" in reference:
            return str(reference["Fn::GetAtt"][0])
    raise ValueError(f"cannot tell which resource {reference!r} refers to")


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Code runs in-process in the local runtime.\n")
    return buffer.getvalue()


def _apply_what_moto_skips(
    transformed: dict[str, Any], physical: dict[str, str], values: TemplateValues, session: boto3.Session
) -> None:
    """What moto's CloudFormation does not act on (bucket versioning, SES templates, configuration sets and their
    event destinations, a queue's subscription to a topic), done through the APIs."""
    s3 = session.client("s3")
    ses = session.client("ses")
    _resolve_queues_and_topics(transformed, physical, values, session.client("sqs"))
    resources = transformed["Resources"]
    for logical_id, resource in sorted(resources.items(), key=lambda item: _SKIPPED_ORDER.get(item[1]["Type"], 0)):
        if resource["Type"] not in _SKIPPED_ORDER:
            continue
        properties = values.resolve(resource.get("Properties", {}))
        if resource["Type"] == "AWS::S3::Bucket":
            if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=physical[logical_id], VersioningConfiguration={"Status": "Enabled"})
        elif resource["Type"] == "AWS::SES::Template":
            ses.create_template(Template=properties["Template"])
        elif resource["Type"] == "AWS::SES::ConfigurationSet":
            _create_configuration_set(properties, session.client("sesv2"))
            values.resolve_to(logical_id, {"Ref": properties["Name"]})
        elif resource["Type"] == "AWS::SES::ConfigurationSetEventDestination":
            _create_event_destination(properties, ses)
        elif resource["Type"] == "AWS::SNS::Subscription":
            _subscribe(properties, session.client("sns"))


# What moto's CloudFormation leaves undone, by type, in the order it is done here: a configuration set's event
# destination after the set.
_SKIPPED_ORDER = {
    "AWS::S3::Bucket": 0,
    "AWS::SES::Template": 0,
    "AWS::SES::ConfigurationSet": 0,
    "AWS::SNS::Subscription": 0,
    "AWS::SES::ConfigurationSetEventDestination": 1,
}


def _resolve_queues_and_topics(
    transformed: dict[str, Any], physical: dict[str, str], values: TemplateValues, sqs: Any
) -> None:
    """What a Ref or GetAtt of the stack's topics and queues gives, for the resources made through the APIs."""
    for logical_id, resource in transformed["Resources"].items():
        if resource["Type"] == "AWS::SNS::Topic":
            values.resolve_to(logical_id, {"Ref": physical[logical_id], "TopicArn": physical[logical_id]})
        elif resource["Type"] == "AWS::SQS::Queue":
            url = physical[logical_id]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            values.resolve_to(logical_id, {"Ref": url, "Arn": arn, "QueueName": url.rsplit("/", 1)[-1]})


def _create_configuration_set(properties: dict[str, Any], sesv2: Any) -> None:
    """SESv2's create keeps the delivery, reputation and sending options (SES v1's keeps only the name)."""
    sesv2.create_configuration_set(
        ConfigurationSetName=properties["Name"],
        **{
            option: properties[option]
            for option in ("DeliveryOptions", "ReputationOptions", "SendingOptions")
            if option in properties
        },
    )


def _create_event_destination(properties: dict[str, Any], ses: Any) -> None:
    """SES v1's create (moto's SESv2 has none), its SNS destination spelt as v1 spells it."""
    destination = dict(properties["EventDestination"])
    if "SnsDestination" in destination:
        destination["SNSDestination"] = {"TopicARN": destination.pop("SnsDestination")["TopicARN"]}
    ses.create_configuration_set_event_destination(
        ConfigurationSetName=properties["ConfigurationSetName"], EventDestination=destination
    )


def _subscribe(properties: dict[str, Any], sns: Any) -> None:
    attributes = {"RawMessageDelivery": "true"} if properties.get("RawMessageDelivery") in (True, "true") else {}
    sns.subscribe(
        TopicArn=properties["TopicArn"],
        Protocol=properties["Protocol"],
        Endpoint=properties["Endpoint"],
        Attributes=attributes,
    )


# An API's default address (REST or HTTP) as a template writes it (in a Fn::Sub): the local stack answers it on its
# endpoint.
_EXECUTE_API = re.compile(r"https://\$\{(?P<api>\w+)\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}")
_REST_API = "AWS::ApiGateway::RestApi"
_STAGE_ARN = re.compile(r"/restapis/\$\{(?P<api>\w+)\}/stages/")


def _take_out_api_gateway(transformed: dict[str, Any], values: TemplateValues, api_endpoint: str) -> dict[str, str]:
    """moto's CloudFormation creates a REST API (ignoring its OpenAPI body) but no deployment of it (one without
    methods cannot be deployed), no stage and not the account's logging role: everything of API Gateway but the REST
    API is taken out, each stage's name given to what refers to it, and each API's default address is
    `api_endpoint`, where the runtime answers it. Returns each API's stage name by the API's logical id."""
    resources = transformed["Resources"]
    taken = [k for k, v in resources.items() if v["Type"].startswith("AWS::ApiGateway::") and v["Type"] != _REST_API]
    stages: dict[str, str] = {}
    for logical_id in taken:
        resource = resources.pop(logical_id)
        if resource["Type"] == "AWS::ApiGateway::Stage":
            name = str(values.resolve(resource["Properties"]["StageName"]))
            values.resolve_to(logical_id, {"Ref": name})
            stages[_logical_of(resource["Properties"]["RestApiId"])] = name
    _answered_locally(transformed, values, api_endpoint, stages)
    return stages


_HTTP_API = "AWS::ApiGatewayV2::Api"


def _take_out_http_apis(transformed: dict[str, Any], values: TemplateValues, api_endpoint: str) -> dict[str, str]:
    """moto's CloudFormation skips every AWS::ApiGatewayV2::*: each is taken out, each HTTP API named by an id of its
    own (its logical id, lowercased) and its stage's name given to what refers to it, and its default address made
    `api_endpoint`, where the runtime answers it. Returns each HTTP API's stage name by the API's logical id."""
    resources = transformed["Resources"]
    taken = [k for k, v in resources.items() if v["Type"].startswith("AWS::ApiGatewayV2::")]
    stages: dict[str, str] = {}
    for logical_id in taken:
        resource = resources.pop(logical_id)
        if resource["Type"] == _HTTP_API:
            values.resolve_to(logical_id, {"Ref": logical_id.lower(), "ApiEndpoint": api_endpoint})
        elif resource["Type"] == "AWS::ApiGatewayV2::Stage":
            name = str(values.resolve(resource["Properties"]["StageName"]))
            values.resolve_to(logical_id, {"Ref": name})
            stages[_logical_of(resource["Properties"]["ApiId"])] = name
    _answered_locally(transformed, values, api_endpoint, stages)
    return stages


def _http_apis(sam_template: dict[str, Any], stages: dict[str, str], values: TemplateValues) -> tuple[HttpApi, ...]:
    """Each HTTP API with its routes (each HttpApi event of the SAM template) and the JWT authorizer of each: the
    route's own (NONE: open), or the API's DefaultAuthorizer."""
    resources = sam_template["Resources"]
    apis: list[HttpApi] = []
    for api, stage in stages.items():
        auth = resources[api]["Properties"].get("Auth", {})
        authorizers = {
            name: JwtAuthorizer(
                issuer=str(values.resolve(config["JwtConfiguration"]["issuer"])),
                audiences=tuple(str(values.resolve(a)) for a in config["JwtConfiguration"]["audience"]),
            )
            for name, config in auth.get("Authorizers", {}).items()
        }
        default = auth.get("DefaultAuthorizer")
        routes: dict[tuple[str, str], HttpRoute] = {}
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            for event in resource["Properties"].get("Events", {}).values():
                api_id = event["Properties"].get("ApiId", {"Ref": "ServerlessHttpApi"})
                if event["Type"] != "HttpApi" or _logical_of(api_id) != api:
                    continue
                named = event["Properties"].get("Auth", {}).get("Authorizer", default)
                authorizer = None if named in (None, "NONE") else authorizers[named]
                key = (str(event["Properties"]["Method"]).upper(), str(event["Properties"]["Path"]))
                routes[key] = HttpRoute(function=logical_id, authorizer=authorizer)
        apis.append(HttpApi(logical_id=api, api_id=api.lower(), stage=stage, routes=routes))
    return tuple(apis)


def _answered_locally(
    transformed: dict[str, Any], values: TemplateValues, api_endpoint: str, stages: dict[str, str]
) -> None:
    """The template with each of `stages`' APIs' default addresses made `api_endpoint`, and the references to what
    was taken out replaced."""
    local = _local_addresses(
        {"Resources": transformed["Resources"], "Outputs": transformed.get("Outputs", {})}, api_endpoint, stages
    )
    transformed["Resources"] = values.replace_references(local["Resources"])
    transformed["Outputs"] = values.replace_references(local["Outputs"])


def _local_addresses(value: Any, api_endpoint: str, apis: dict[str, str]) -> Any:
    """The value with each of `apis`' default addresses (https://${Api}.execute-api...) made `api_endpoint`."""
    if isinstance(value, list):
        return [_local_addresses(item, api_endpoint, apis) for item in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        text = _EXECUTE_API.sub(lambda found: api_endpoint if found["api"] in apis else found[0], value["Fn::Sub"])
        return {"Fn::Sub": text}
    return {key: _local_addresses(item, api_endpoint, apis) for key, item in value.items()}


def _take_out_web_acls(transformed: dict[str, Any], values: TemplateValues) -> dict[str, WebAcl]:
    """moto's CloudFormation has no AWS::WAFv2::*: the web ACLs and their associations are taken out, and the web ACL
    associated with a REST API's stage is emulated in front of that API (waf.py). Returns it by the API's logical
    id."""
    resources = transformed["Resources"]
    acls = {k: resources.pop(k) for k in [k for k, v in resources.items() if v["Type"] == "AWS::WAFv2::WebACL"]}
    associations = [
        resources.pop(k) for k in [k for k, v in resources.items() if v["Type"] == "AWS::WAFv2::WebACLAssociation"]
    ]
    found: dict[str, WebAcl] = {}
    for association in associations:
        properties = association["Properties"]
        stage_arn = _STAGE_ARN.search(json.dumps(properties["ResourceArn"]))
        if stage_arn is None:
            raise ValueError(f"the local stack emulates web ACLs of REST API stages only: {properties['ResourceArn']}")
        acl = acls[_logical_of(properties["WebACLArn"])]
        found[stage_arn["api"]] = WebAcl.from_properties(values.resolve(acl["Properties"]))
    return found


def _verify_email_identities(transformed: dict[str, Any], values: TemplateValues, ses: Any) -> None:
    """moto's CloudFormation does not create AWS::SES::EmailIdentity: each whose condition holds is verified through
    the API (moto verifies at once), its DKIM records as SES would give them, and taken out of the template."""
    resources = transformed["Resources"]
    for logical_id in [k for k, v in resources.items() if v["Type"] == "AWS::SES::EmailIdentity"]:
        resource = resources.pop(logical_id)
        if not values.holds(resource.get("Condition")):
            continue
        identity = str(values.resolve(resource["Properties"]["EmailIdentity"]))
        attributes = {"Ref": identity}
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)
            tokens = ses.verify_domain_dkim(Domain=identity)["DkimTokens"]
            for number, token in enumerate(tokens, start=1):
                attributes[f"DkimDNSTokenName{number}"] = f"{token}._domainkey.{identity}"
                attributes[f"DkimDNSTokenValue{number}"] = f"{token}.dkim.amazonses.com"
        values.resolve_to(logical_id, attributes)
    transformed["Resources"] = values.replace_references(resources)
    transformed["Outputs"] = values.replace_references(transformed.get("Outputs", {}))


def _apis(
    sam_template: dict[str, Any], physical: dict[str, str], stages: dict[str, str], web_acls: dict[str, WebAcl]
) -> tuple[RestApi, ...]:
    """Each REST API with its routes (each Api event of the SAM template: method and path, and the function that
    answers them) and its web ACL."""
    routes: dict[str, dict[tuple[str, str], str]] = {api: {} for api in stages}
    for logical_id, resource in sam_template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                api = _logical_of(event["Properties"].get("RestApiId", {"Ref": "ServerlessRestApi"}))
                routes[api][str(event["Properties"]["Method"]).upper(), str(event["Properties"]["Path"])] = logical_id
    return tuple(
        RestApi(logical_id=api, api_id=physical[api], stage=stage, routes=routes[api], web_acl=web_acls.get(api))
        for api, stage in stages.items()
    )


def provision(
    template_path: Path, parameters: dict[str, str], session: boto3.Session, *, api_endpoint: str = DEFAULT_ENDPOINT
) -> Stack:
    """Creates the stack on the (already active) moto; `session` is the runtime's own, not the functions'.
    `api_endpoint` is where the stack's REST API answers (`local serve`'s own address)."""
    parameters = _with_local_defaults(parameters)
    moto_patches.install()
    cognito_aliases.install()  # the pool's sign-in aliases and case-insensitive usernames, as on Cognito
    sam_template = load_template(template_path)
    transformed = transform_template(
        sam_template, artifact_bucket=ARTIFACT_BUCKET, parameters=parameters, iam_client=session.client("iam")
    )
    notification, mappings, schedules = _strip_invocations(transformed)
    values = TemplateValues(transformed, parameters, stack_name=STACK_NAME, region=REGION, account=ACCOUNT)
    create_cognito_resources(transformed, values, session.client("cognito-idp"))
    web_acls = _take_out_web_acls(transformed, values)
    stages = _take_out_api_gateway(transformed, values, api_endpoint)
    http_stages = _take_out_http_apis(transformed, values, api_endpoint)
    _verify_email_identities(transformed, values, session.client("ses"))
    _upload_placeholder_code(transformed, session.client("s3"))
    stack, physical = _create_stack(transformed, parameters, session.client("cloudformation"))
    _apply_what_moto_skips(transformed, physical, values, session)
    triggers, dead_letters = _queue_triggers(mappings, physical, session.client("sqs"))
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    return Stack(
        bucket=outputs["ImportBucketName"],
        topic_arn=outputs["NotificationTopicArn"],
        directory_table=outputs["DirectoryTableName"],
        jobs_table=outputs["JobsTableName"],
        functions=_functions(sam_template, physical, template_path.parent, session.client("lambda"), api_endpoint),
        queue_triggers=triggers,
        bucket_trigger=_bucket_trigger(notification),
        schedule_triggers=schedules,
        dead_letter_queues=dead_letters,
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        user_pool_id=outputs.get("UserPoolId", ""),
        user_pool_client_id=outputs.get("UserPoolClientId", ""),
        apis=_apis(sam_template, physical, stages, web_acls),
        portal_url=outputs.get("PortalUrl", ""),
        configuration_set=outputs.get("ConfigurationSetName", ""),
        delivery_events_topic_arn=outputs.get("DeliveryEventsTopicArn", ""),
        http_apis=_http_apis(sam_template, http_stages, values),
        console_url=outputs.get("ConsoleUrl", ""),
        admin_user_pool_id=outputs.get("AdminUserPoolId", ""),
        admin_user_pool_client_id=outputs.get("AdminUserPoolClientId", ""),
    )


def _with_local_defaults(parameters: dict[str, str]) -> dict[str, str]:
    """The parameters, with a sender unless given, and the pool's own emails sent through SES as that sender's
    identity: the local SES verifies it at once (_verify_email_identities), so the local pool is set up as a stack
    on AWS is once SES has verified its sender (PoolEmailIdentity)."""
    given = {**SENDER_PARAMETERS, **parameters}
    identity = "domain" if given.get("SenderIdentity") == "domain" else "address"
    return {"PoolEmailIdentity": identity, **given}


def _upload_placeholder_code(transformed: dict[str, Any], s3: Any) -> None:
    """Every function's and layer's code location holds a placeholder: the code runs in-process."""
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    code = _placeholder_zip()
    for resource in transformed["Resources"].values():
        if resource["Type"] in ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion"):
            location = resource["Properties"].get("Code") or resource["Properties"].get("Content")
            s3.put_object(Bucket=location["S3Bucket"], Key=location["S3Key"], Body=code)


def _create_stack(
    transformed: dict[str, Any], parameters: dict[str, str], cloudformation: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """The stack as created, and each resource's physical id by its logical id."""
    # moto notes each resource type it only records or skips (the bucket and topic policies): expected, and not
    # for the user.
    logging.getLogger("moto").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not supported by moto's CloudFormation", category=UserWarning)
        cloudformation.create_stack(
            StackName=STACK_NAME,
            TemplateBody=json.dumps(transformed),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    stack: dict[str, Any] = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"the local stack could not be created: {stack.get('StackStatusReason')}")
    physical = {
        summary["LogicalResourceId"]: summary["PhysicalResourceId"]
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=STACK_NAME)
        for summary in page["StackResourceSummaries"]
    }
    return stack, physical


# A function's variable that names where browsers reach the bucket (presigned links and forms): the local endpoint.
PRESIGN_ENDPOINT = "PRESIGN_ENDPOINT_URL"


def _functions(
    sam_template: dict[str, Any], physical: dict[str, str], root: Path, lambda_client: Any, api_endpoint: str
) -> dict[str, FunctionSpec]:
    """Each function as Lambda holds it (its environment resolved by CloudFormation), its code in the checkout."""
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in sam_template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        configuration = lambda_client.get_function_configuration(FunctionName=physical[logical_id])
        environment = {k: str(v) for k, v in configuration.get("Environment", {}).get("Variables", {}).items()}
        if PRESIGN_ENDPOINT in resource["Properties"].get("Environment", {}).get("Variables", {}):
            environment[PRESIGN_ENDPOINT] = api_endpoint  # browsers reach the local bucket here, not at S3's address
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=configuration["FunctionName"],
            code_dir=root / resource["Properties"]["CodeUri"],
            handler=configuration["Handler"],
            timeout=int(configuration["Timeout"]),
            memory_mb=int(configuration["MemorySize"]),
            environment=environment,
        )
    return functions


def _queue_triggers(
    mappings: list[dict[str, Any]], physical: dict[str, str], sqs: Any
) -> tuple[list[QueueTrigger], dict[str, str]]:
    """The event source mappings as the runtime delivers them, and each queue's dead-letter queue."""
    triggers: list[QueueTrigger] = []
    dead_letters: dict[str, str] = {}
    for mapping in mappings:
        queue_url = physical[_logical_of(mapping["EventSourceArn"])]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        triggers.append(
            QueueTrigger(
                function=_logical_of(mapping["FunctionName"]),
                queue_url=queue_url,
                queue_arn=attributes["QueueArn"],
                batch_size=int(mapping.get("BatchSize", 10)),
                report_item_failures="ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
                visibility_timeout=int(attributes.get("VisibilityTimeout", 30)),
            )
        )
        if "RedrivePolicy" in attributes:
            dlq_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
            dead_letters[queue_url] = sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[-1])["QueueUrl"]
    return triggers, dead_letters


def _bucket_trigger(notification: dict[str, Any]) -> BucketTrigger:
    (lambda_configuration,) = notification["LambdaConfigurations"]
    rules = {rule["Name"]: rule["Value"] for rule in lambda_configuration["Filter"]["S3Key"]["Rules"]}
    return BucketTrigger(
        function=_logical_of(lambda_configuration["Function"]),
        events=(lambda_configuration["Event"],),
        prefix=rules.get("prefix", ""),
        suffix=rules.get("suffix", ""),
    )
