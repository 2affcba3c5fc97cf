"""A deployed stack (or `local serve`) as the administrator's commands reach it: the AWS session built the way the
AWS CLI builds it (profile, region, endpoint), the stack's names from its CloudFormation outputs or given
explicitly, and the reads and writes the commands make. The tables are read through the shared data layer."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from portal_import.aws import clients
from portal_import.aws.directory import Directory
from portal_import.aws.held_emails import HeldEmails
from portal_import.aws.jobs import Jobs
from portal_import.aws.ledger import Ledger
from portal_import.aws.storage import Storage
from portal_import.aws.userpool import UserPool
from portal_import.domain.job import Job
from portal_import.domain.messages import ResendRequest
from portal_import.domain.results import results_prefix
from portal_import.domain.summary import FAILURE_FILE, SUCCESS_FILE, SUMMARY_FILE, Summary
from portal_import.errors import Transient
from portal_import.flows.resend import Resend, ResendRefused
from portal_import.flows.resume import RESUME_EMAILS
from portal_import.flows.users import JobUser, job_users
from portal_import_cli.seed import DirectoryData, load_directory

# What an AWS call can fail with, for the commands that fall back on something else when one does.
AWS_FAILURES = (ClientError, BotoCoreError, Transient)

Name = Literal["bucket", "jobs_table", "directory_table", "resend_function", "user_pool", "admin_pool"]
# Which stack output holds each name, the option that gives it instead, and the environment variable behind it.
NAMES: dict[Name, tuple[str, str, str]] = {
    "bucket": ("ImportBucketName", "--bucket", "PORTAL_IMPORT_BUCKET"),
    "jobs_table": ("JobsTableName", "--jobs-table", "PORTAL_IMPORT_JOBS_TABLE"),
    "directory_table": ("DirectoryTableName", "--directory-table", "PORTAL_IMPORT_DIRECTORY_TABLE"),
    "resend_function": ("ResendFunctionName", "--resend-function", "PORTAL_IMPORT_RESEND_FUNCTION"),
    "user_pool": ("UserPoolId", "--user-pool-id", "PORTAL_IMPORT_USER_POOL_ID"),
    "admin_pool": ("AdminUserPoolId", "--admin-pool-id", "PORTAL_IMPORT_ADMIN_POOL_ID"),
}
STACK_ENV = "PORTAL_IMPORT_STACK"
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})
# An invocation waits for the function's whole run (the resend function's timeout is 900 s), and is never sent
# again by the SDK: a second resend would send every one of its people a second link.
_INVOKE_CONFIG = Config(read_timeout=910, retries={"mode": "standard", "max_attempts": 1})
# The splitter creates the job within seconds of the upload; this is for a cold start on a busy account.
_JOB_START_SECONDS = 120.0
_JOB_START_POLL_SECONDS = 0.5


class DeploymentError(Exception):
    """One sentence a person can act on (exit status 1)."""


class TargetUnknown(DeploymentError):
    """Neither a stack nor the name a command needs was given (a usage error, exit status 2)."""


class JobNotFound(DeploymentError):
    pass


class AdminExists(DeploymentError):
    pass


class AdminNotFound(DeploymentError):
    pass


class ResultsNotFound(DeploymentError):
    def __init__(self, uri: str) -> None:
        super().__init__(f"there are no results in {uri} yet.")
        self.uri = uri


@dataclass(frozen=True)
class Target:
    """Where the stack is, as given on the command line (or in the environment)."""

    stack: str | None = None
    bucket: str | None = None
    jobs_table: str | None = None
    directory_table: str | None = None
    resend_function: str | None = None
    user_pool: str | None = None
    admin_pool: str | None = None
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def from_options(cls, options: Any) -> Target:
        def given(name: str, env: str) -> str | None:
            return getattr(options, name, None) or os.environ.get(env) or None

        return cls(
            stack=given("stack", STACK_ENV),
            bucket=given("bucket", NAMES["bucket"][2]),
            jobs_table=given("jobs_table", NAMES["jobs_table"][2]),
            directory_table=given("directory_table", NAMES["directory_table"][2]),
            resend_function=given("resend_function", NAMES["resend_function"][2]),
            user_pool=given("user_pool", NAMES["user_pool"][2]),
            admin_pool=given("admin_pool", NAMES["admin_pool"][2]),
            profile=getattr(options, "profile", None),
            region=getattr(options, "region", None),
            endpoint_url=getattr(options, "endpoint_url", None),
        )


class Deployment:
    def __init__(self, target: Target) -> None:
        self.target = target
        # As the AWS CLI: --region, then AWS_REGION, then AWS_DEFAULT_REGION and the profile (which boto3 reads).
        region = target.region or os.environ.get("AWS_REGION") or None
        try:
            # The shared data layer builds its clients from boto3's default session: make it this one.
            boto3.setup_default_session(profile_name=target.profile, region_name=region)
        except ProfileNotFound:
            raise DeploymentError(
                f"there is no AWS profile named '{target.profile}'; `aws configure --profile {target.profile}` "
                "creates one, `aws configure list-profiles` lists those there are."
            ) from None
        assert boto3.DEFAULT_SESSION is not None
        self.session: boto3.Session = boto3.DEFAULT_SESSION
        if not self.session.region_name:
            raise DeploymentError(
                "no AWS region is set: pass --region, set AWS_REGION, or give your profile one "
                "(local serve answers as us-east-1)."
            )
        self.region: str = self.session.region_name
        if target.endpoint_url:
            # The shared clients take no endpoint argument; boto3 reads this variable for every client it builds.
            os.environ["AWS_ENDPOINT_URL"] = target.endpoint_url
        clients.client.cache_clear()
        self._described: dict[str, Any] | None = None
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(  # type: ignore[call-overload]
                service,
                endpoint_url=self.target.endpoint_url,
                config=_INVOKE_CONFIG if service == "lambda" else _CONFIG,
            )
        return self._clients[service]

    # Names

    def name(self, which: Name) -> str:
        output, option, env = NAMES[which]
        given: str | None = getattr(self.target, which)
        if given:
            return given
        if not self.target.stack:
            raise TargetUnknown(
                f"which stack? Pass --stack NAME (or set {STACK_ENV}) to read its outputs, or {option} NAME "
                f"(or set {env})."
            )
        outputs = self.stack_outputs()
        if output not in outputs:
            raise DeploymentError(
                f"stack {self.target.stack} has no output {output}: is it a portal-user-import stack, "
                f"and did it deploy? (or pass {option} NAME)"
            )
        return outputs[output]

    def stack_outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self._stack().get("Outputs", [])}

    def stack_parameters(self) -> dict[str, str]:
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in self._stack().get("Parameters", [])}

    def email_rate(self) -> float | None:
        """The stack's EmailRatePerSecond, when a stack is named (its parameters say it)."""
        if not self.target.stack:
            return None
        try:
            return float(self.stack_parameters().get("EmailRatePerSecond") or "")
        except ValueError:
            return None

    def _stack(self) -> dict[str, Any]:
        if self._described is None:
            stack = self.target.stack
            try:
                self._described = self.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ValidationError":
                    where = f" at {self.target.endpoint_url}" if self.target.endpoint_url else ""
                    raise DeploymentError(
                        f"there is no stack {stack} in {self.region}{where}: check --stack, --region and --profile."
                    ) from None
                raise
        return self._described

    # Jobs

    def job(self, job_id: str) -> Job:
        job = Jobs(self.name("jobs_table")).get(job_id)
        if job is None:
            raise JobNotFound(f"there is no job {job_id} in this stack; `portal-import jobs` lists the recent ones.")
        return job

    def recent_job_ids(self, limit: int) -> list[str]:
        """The newest jobs first (a job id starts with the time its file arrived)."""
        return sorted(Jobs(self.name("jobs_table")).job_ids(), reverse=True)[:limit]

    def wait_for_job_of(self, version_id: str, *, timeout: float = _JOB_START_SECONDS) -> str | None:
        """The id of the job the splitter started for this object version, once it exists (None after timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            found = Jobs(self.name("jobs_table")).job_ids(source_version_id=version_id)
            if found:
                return min(found)
            if time.monotonic() >= deadline:
                return None
            time.sleep(_JOB_START_POLL_SECONDS)

    # The bucket

    def upload(self, path: Path, key: str, metadata: dict[str, str]) -> str | None:
        """Puts the file at `key`; returns the new object version's id."""
        with path.open("rb") as body:
            response = self.client("s3").put_object(
                Bucket=self.name("bucket"), Key=key, Body=body, Metadata=metadata, ContentType="text/csv"
            )
        version: str | None = response.get("VersionId")
        return version

    def download_results(self, job_id: str, out: Path) -> Summary:
        """Writes the job's result files (results/<jobId>/) into `out`; returns the summary."""
        s3, bucket = self.client("s3"), self.name("bucket")
        prefix = results_prefix(job_id)
        try:
            summary_body: bytes = s3.get_object(Bucket=bucket, Key=prefix + SUMMARY_FILE)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ResultsNotFound(f"s3://{bucket}/{prefix}") from None
            raise
        out.mkdir(parents=True, exist_ok=True)
        for name in (SUCCESS_FILE, FAILURE_FILE):
            (out / name).write_bytes(s3.get_object(Bucket=bucket, Key=prefix + name)["Body"].read())
        (out / SUMMARY_FILE).write_bytes(summary_body)
        return Summary.from_json(json.loads(summary_body))

    # Activation emails

    def resend(self, job: Job, contacts: list[str], *, pending: bool = False) -> Resend:
        """New activation links for the job's users not yet reached (not yet activated, with `pending`; or the
        named Contacts'), queued by the stack's resend function: it decides whom and where, not this caller."""
        request = ResendRequest(job_id=job.job_id, contacts=contacts, pending=pending)
        response = self.client("lambda").invoke(
            FunctionName=self.name("resend_function"), Payload=request.to_json().encode()
        )
        document = json.loads(response["Payload"].read() or b"null")
        if "FunctionError" in response or not isinstance(document, dict):
            why = document.get("errorMessage", "") if isinstance(document, dict) else ""
            raise DeploymentError(
                f"the stack's resend function failed ({why[:200] or 'no answer'}); its log group says why, and "
                "nothing was queued unless `portal-import users` shows new links."
            )
        if "refused" in document:
            raise ResendRefused(str(document["refused"]))
        return Resend.from_json(document)

    def resume_emails(self, job: Job) -> dict[str, Any]:
        """Ends the reputation guard's hold on the job's emails and queues those it held, through the stack's
        resend function; the answer says how many, or `refused` with why."""
        response = self.client("lambda").invoke(
            FunctionName=self.name("resend_function"),
            Payload=json.dumps({"action": RESUME_EMAILS, "jobId": job.job_id}).encode(),
        )
        document = json.loads(response["Payload"].read() or b"null")
        if "FunctionError" in response or not isinstance(document, dict):
            why = document.get("errorMessage", "") if isinstance(document, dict) else ""
            raise DeploymentError(
                f"the stack's resend function failed ({why[:200] or 'no answer'}); its log group says why."
            )
        return document

    def users(self, job: Job) -> list[JobUser]:
        """The users the job created, with their activation emails' and activations' standing."""
        ledger = Ledger(self.name("directory_table"), self.name("jobs_table"))
        held = HeldEmails(self.name("jobs_table"))
        return job_users(job, Storage(self.name("bucket")), ledger, held_emails=held)

    # The console's administrators (AdminUserPool: apart from portal users)

    def add_admin(self, email: str) -> None:
        """Invites `email` to the console: Cognito emails a temporary password through the stack's sender, which
        the first sign-in replaces. AdminExists when they are one already."""
        try:
            self.client("cognito-idp").admin_create_user(
                UserPoolId=self.name("admin_pool"),
                Username=email,
                UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
                DesiredDeliveryMediums=["EMAIL"],
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "UsernameExistsException":
                raise AdminExists(
                    f"{email} is an administrator of the console already; `admins list` lists them."
                ) from None
            if code in ("InvalidParameterException", "InvalidEmailRoleAccessPolicyException"):
                why = error.response["Error"].get("Message", code)
                raise DeploymentError(f"Cognito refused to invite {email}: {why}") from None
            raise

    def admins(self) -> list[dict[str, Any]]:
        """Every administrator of the console: address, status (FORCE_CHANGE_PASSWORD until their first sign-in),
        whether enabled, and when invited."""
        cognito, found = self.client("cognito-idp"), []
        for page in cognito.get_paginator("list_users").paginate(UserPoolId=self.name("admin_pool")):
            for user in page.get("Users", []):
                attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
                found.append(
                    {
                        "email": attributes.get("email", user["Username"]),
                        "status": user.get("UserStatus", ""),
                        "enabled": bool(user.get("Enabled", True)),
                        "invitedAt": user["UserCreateDate"].isoformat(timespec="seconds")
                        if "UserCreateDate" in user
                        else "",
                    }
                )
        return sorted(found, key=lambda admin: str(admin["email"]).lower())

    def remove_admin(self, email: str) -> None:
        """Takes `email`'s console account away (their tokens stop at their next refresh, within the hour)."""
        cognito = self.client("cognito-idp")
        try:
            cognito.admin_user_global_sign_out(UserPoolId=self.name("admin_pool"), Username=email)
            cognito.admin_delete_user(UserPoolId=self.name("admin_pool"), Username=email)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "UserNotFoundException":
                raise AdminNotFound(f"{email} is no administrator of the console; `admins list` lists them.") from None
            raise

    # The directory

    def load_directory(self, data: DirectoryData, *, users_from_pool: bool = False) -> tuple[str, DirectoryData]:
        """Writes the directory and its Roles' groups; the CSV's portal users are put in the pool, or with
        `users_from_pool` (an adopted pool) the pool's users are recorded instead. Returns the table and what it
        loaded."""
        table = self.name("directory_table")
        pool = UserPool(self.name("user_pool"))
        return table, load_directory(Directory(table), data, pool, users_from_pool=users_from_pool)
