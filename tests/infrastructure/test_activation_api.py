"""The activation page's API as deployed: a regional REST API whose one stage is behind a regional web ACL that limits
each client address, throttled for all clients together as Cognito's guard, logging no token, and open to no other
origin than the portal's own."""

from __future__ import annotations

import json
import re
from typing import Any

API = "ActivationApi"


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def _stage(deployed: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The activation API's stage as deployed: there must be exactly one, or some stage would be outside the web ACL."""
    stages = _of_type(deployed, "AWS::ApiGateway::Stage")
    ((name, stage),) = stages.items()
    assert stage["Properties"]["RestApiId"] == {"Ref": API}
    # A deployment that names a stage creates that stage too (SAM's "Stage" without OpenApiVersion)
    for deployment in _of_type(deployed, "AWS::ApiGateway::Deployment").values():
        assert "StageName" not in deployment["Properties"], deployment
    return name, stage["Properties"]


def test_the_api_is_a_regional_rest_api_whose_one_stage_is_behind_the_web_acl(deployed: dict[str, Any]) -> None:
    # Given the stack as deployed
    (api,) = _of_type(deployed, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"]["Types"] == ["REGIONAL"]
    stage_name, _ = _stage(deployed)
    # Then the web ACL is regional (the stack's own Region, as the API; CloudFront's scope lives in us-east-1)
    ((acl_name, acl),) = _of_type(deployed, "AWS::WAFv2::WebACL").items()
    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert acl["Properties"]["DefaultAction"] == {"Allow": {}}
    # and it is associated with that stage, referring to it (so the association waits for SAM's stage)
    (association,) = _of_type(deployed, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_name, "Arn"]}
    arn = association["Properties"]["ResourceArn"]["Fn::Sub"]
    assert arn == f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}::/restapis/${{{API}}}/stages/${{{stage_name}}}"


def test_a_client_over_its_own_limit_is_answered_429_by_the_web_acl(
    sam_template: dict[str, Any], deployed: dict[str, Any]
) -> None:
    (acl,) = _of_type(deployed, "AWS::WAFv2::WebACL").values()
    # Given the web ACL's one rule
    (rule,) = acl["Properties"]["Rules"]
    statement = rule["Statement"]["RateBasedStatement"]
    # Then it counts requests per client address (the connection's, not a header a client could forge), over 5
    # minutes, against the operator's per-client limit, with nothing scoped out
    assert statement == {
        "AggregateKeyType": "IP",
        "Limit": {"Ref": "ActivationRequestsPerClient"},
        "EvaluationWindowSec": 300,
    }
    # and blocks, answering 429 with a page that says what to do, never cached
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    body = acl["Properties"]["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "TEXT_HTML" and "Wait five minutes" in body["Content"]
    assert {"Name": "Cache-Control", "Value": "no-store"} in response["ResponseHeaders"]
    # and the parameter allows what WAF allows, with a default a person (2 to 5 requests) never reaches
    limit = sam_template["Parameters"]["ActivationRequestsPerClient"]
    assert (limit["Type"], limit["MinValue"], limit["MaxValue"]) == ("Number", 10, 2_000_000_000)
    assert 10 <= limit["Default"] <= 1000


def test_the_web_acl_shows_what_it_did_without_a_token_or_password(deployed: dict[str, Any]) -> None:
    (acl,) = _of_type(deployed, "AWS::WAFv2::WebACL").values()
    (rule,) = acl["Properties"]["Rules"]
    # Given its metrics and sampled requests, on for the rule and for the web ACL
    for visibility in (rule["VisibilityConfig"], acl["Properties"]["VisibilityConfig"]):
        assert visibility["CloudWatchMetricsEnabled"] is True and visibility["SampledRequestsEnabled"] is True
    # Then what they keep of a request has its query string (GET's token) and body (POST's token and password)
    # replaced, in every output of the web ACL
    protected = {
        (protection["Field"]["FieldType"], protection["Action"])
        for protection in acl["Properties"]["DataProtectionConfig"]["DataProtections"]
    }
    assert protected == {("QUERY_STRING", "SUBSTITUTION"), ("BODY", "SUBSTITUTION")}


def test_the_stage_throttles_every_client_together_as_cognitos_guard(
    sam_template: dict[str, Any], deployed: dict[str, Any]
) -> None:
    _, stage = _stage(deployed)
    # Given the stage / Then every method is throttled at the operator's rate, for all clients together
    (settings,) = stage["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingRateLimit"] == settings["ThrottlingBurstLimit"] == {"Ref": "ActivationRequestsPerSecond"}
    assert int(sam_template["Parameters"]["ActivationRequestsPerSecond"]["Default"]) <= 30  # UserAccountRecovery


def test_the_access_log_holds_no_token(deployed: dict[str, Any]) -> None:
    _, stage = _stage(deployed)
    # Given the stage's access log lines
    line = stage["AccessLogSetting"]["Format"]
    fields = json.loads(line)
    # Then they are JSON of the request's id, route, status, timing, client and the web ACL's outcome: no query
    # string (the token of GET), no body (the token and password of POST), no header (a Referer), no full path
    assert set(fields) == {"requestId", "time", "route", "status", "latencyMs", "ip", "error", "waf"}
    assert fields["route"] == "$context.httpMethod $context.resourcePath"  # the route's template: /activate
    for variable in re.findall(r"\$context\.[A-Za-z.]+", line):
        name = variable.removeprefix("$context.")
        assert name == "resourcePath" or not re.search(r"path|query|header|body|input|request\.", name), variable
    # and they are kept LogRetentionDays
    group = deployed["Resources"][stage["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_access_log_can_be_written_in_an_account_that_never_set_api_gateways_logging_role(
    deployed: dict[str, Any],
) -> None:
    # Given the account setting a REST API's access log needs (without it the stage cannot be created)
    ((account_name, account),) = _of_type(deployed, "AWS::ApiGateway::Account").items()
    role_name = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = deployed["Resources"][role_name]
    # Then it names a role only API Gateway assumes, with AWS's policy for pushing logs, kept when the stack goes
    # (the setting outlives the stack)
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    (policy,) = role["Properties"]["ManagedPolicyArns"]
    assert policy["Fn::Sub"].endswith(":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
    assert role["DeletionPolicy"] == role["UpdateReplacePolicy"] == "Retain"
    # and the API (so its stage) is created once it is set
    (api,) = _of_type(deployed, "AWS::ApiGateway::RestApi").values()
    assert account_name in api["DependsOn"]


def test_the_links_point_at_the_apis_stage_unless_the_portal_has_its_own_page(
    deployed: dict[str, Any], with_portal_page: dict[str, Any]
) -> None:
    for stack, portal_url in ((deployed, None), (with_portal_page, {"Ref": "PortalUrl"})):
        stage_name, stage = _stage(stack)
        own_page = {"Fn::Sub": f"https://${{{API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{stage_name}}}"}
        # Given the stack deployed with and without PortalUrl
        links = stack["Resources"]["EmailSenderFunction"]["Properties"]["Environment"]["Variables"]["PORTAL_URL"]
        # Then the API's address is its stage's (a REST API's address ends with it), and the links point there
        # unless PortalUrl names the portal's own page
        assert stack["Outputs"]["ActivationApiUrl"]["Value"] == own_page
        assert links == stack["Outputs"]["PortalUrl"]["Value"] == (portal_url or own_page)
        assert stage["StageName"] == "v1"  # in every link already sent: a new name would break them


def test_only_the_portals_own_origin_may_post_to_the_activation_api_from_a_browser(
    sam_template: dict[str, Any],
) -> None:
    function = sam_template["Resources"]["ActivationFunction"]["Properties"]
    # Given the function that answers the API (a proxy integration's answer, CORS headers included, is its own)
    condition, when_set, otherwise = function["Environment"]["Variables"]["PORTAL_ORIGIN"]["Fn::If"]
    # Then with PortalUrl set its origin is that URL's scheme and host; otherwise there is none
    assert condition == "HasPortalUrl" and otherwise == ""
    split = {"Fn::Split": ["/", {"Ref": "PortalUrl"}]}
    assert when_set["Fn::Join"] == ["", [{"Fn::Select": [0, split]}, "//", {"Fn::Select": [2, split]}]]
    assert sam_template["Conditions"]["HasPortalUrl"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "PortalUrl"}, ""]}]}
    # and the API hands it the browser's preflight, besides GET and POST (tests/integration/test_activation.py
    # checks what it answers)
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in function["Events"].values()}
    assert routes == {
        ("GET", "/activate"),
        ("POST", "/activate"),
        ("OPTIONS", "/activate"),
        ("POST", "/activate/renew"),  # a new link for one that expired or was replaced
        ("OPTIONS", "/activate/renew"),
    }
    assert {e["Type"] for e in function["Events"].values()} == {"Api"}
