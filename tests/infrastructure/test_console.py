"""The import console's infrastructure (docs/contracts.md §8): administrators in a pool of their own, and an HTTP API
whose every API route is behind the JWT authorizer that takes only that pool's tokens, issued to its console
client. The console function's grants are pinned with every function's in test_security."""

from __future__ import annotations

from typing import Any


def _api_events(sam_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    events = sam_template["Resources"]["ConsoleFunction"]["Properties"]["Events"]
    return {name: event for name, event in events.items() if event["Properties"]["Path"].startswith("/api/")}


def test_every_api_route_is_the_console_apis_and_behind_its_default_jwt_authorizer(
    sam_template: dict[str, Any],
) -> None:
    events = _api_events(sam_template)
    assert {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()} == {
        ("GET", "/api/jobs"),
        ("GET", "/api/jobs/{jobId}"),
        ("GET", "/api/jobs/{jobId}/users"),
        ("POST", "/api/jobs/{jobId}/resend"),
        ("POST", "/api/jobs/{jobId}/resume-emails"),
        ("POST", "/api/uploads"),
        ("GET", "/api/template"),
    }
    for name, event in events.items():
        assert event["Type"] == "HttpApi" and event["Properties"]["ApiId"] == {"Ref": "ConsoleApi"}, name
        # no route opts out of the API's authorizer
        assert "Auth" not in event["Properties"], name
    auth = sam_template["Resources"]["ConsoleApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "Administrators"
    (jwt,) = [config["JwtConfiguration"] for config in auth["Authorizers"].values()]
    assert auth["Authorizers"]["Administrators"]["IdentitySource"] == "$request.header.Authorization"
    # only tokens the administrators' pool issued, to the console's own client: never a portal user's
    assert jwt["issuer"] == {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${AdminUserPool}"}
    assert jwt["audience"] == [{"Ref": "AdminUserPoolClient"}]


def test_administrators_are_a_pool_of_their_own_that_only_an_operator_adds_to(sam_template: dict[str, Any]) -> None:
    resources = sam_template["Resources"]
    pool = resources["AdminUserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True  # no sign-up
    assert pool["UsernameAttributes"] == ["email"] and pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 14
    assert (resources["AdminUserPool"]["DeletionPolicy"], resources["AdminUserPool"]["UpdateReplacePolicy"]) == (
        "Retain",
        "Retain",
    )
    client = resources["AdminUserPoolClient"]["Properties"]
    assert client["UserPoolId"] == {"Ref": "AdminUserPool"} and client["GenerateSecret"] is False
    # the portal's own client belongs to the portal users' pool, never to the administrators'
    assert resources["UserPoolClient"]["Properties"]["UserPoolId"] != {"Ref": "AdminUserPool"}


def test_the_only_open_routes_are_the_pages_which_hold_no_data(sam_template: dict[str, Any]) -> None:
    events = sam_template["Resources"]["ConsoleFunction"]["Properties"]["Events"].values()
    open_routes = {
        (e["Properties"]["Method"], e["Properties"]["Path"])
        for e in events
        if e["Properties"].get("Auth", {}).get("Authorizer") == "NONE"
    }
    # the console's page (sign-in until signed in), a job's page, and its script, reader and style sheet
    assert open_routes == {("GET", "/"), ("GET", "/jobs/{jobId}"), ("GET", "/static/{name}")}
    # every other route is the API's, behind its authorizer (the test above)
    assert all(e["Properties"]["Path"].startswith("/api/") for e in events if "Auth" not in e["Properties"])
    # the pages sign in through the console's own client, which the function hands them
    variables = sam_template["Resources"]["ConsoleFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["ADMIN_USER_POOL_CLIENT_ID"] == {"Ref": "AdminUserPoolClient"}


def test_the_bucket_takes_the_consoles_upload_from_its_api_hosts_only_by_post(sam_template: dict[str, Any]) -> None:
    (rule,) = sam_template["Resources"]["ImportBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    assert rule["AllowedOrigins"] == [{"Fn::Sub": "https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}"}]
