"""Each function's environment, validated once at handler entry; logic receives these models, never os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_Settings = TypeVar("_Settings", bound="_FromEnvironment")


class _FromEnvironment(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @classmethod
    def from_env(cls: type[_Settings], environ: Mapping[str, str] | None = None) -> _Settings:
        return cls.model_validate(dict(os.environ if environ is None else environ))


def _rates(value: Any) -> Any:
    """COGNITO_RATES, `UserCreation=50,UserUpdate=25,...`, as (category, calls a second) pairs."""
    if not isinstance(value, str):
        return value
    rates = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        category, equals, rate = item.partition("=")
        if not equals:
            raise ValueError(f"COGNITO_RATES holds {item!r}, not Category=rate")
        rates.append((category.strip(), rate.strip()))
    return rates


# The pace of each of Cognito's quota categories the stack calls, for all of its functions together (calls a second,
# every one above 0); pairs, so that settings stay hashable (each handler caches its dependencies by them).
CognitoRates = Annotated[tuple[tuple[str, Annotated[float, Field(gt=0)]], ...], BeforeValidator(_rates)]


class SplitterSettings(_FromEnvironment):
    jobs_table: str = Field(alias="JOBS_TABLE")
    directory_table: str = Field(alias="DIRECTORY_TABLE")
    rows_queue_url: str = Field(alias="ROWS_QUEUE_URL")
    aggregate_queue_url: str = Field(alias="AGGREGATE_QUEUE_URL")
    # Where a split short of time hands the rest of its file on. The sweeper shares these settings without it:
    # it splits a stalled job from its checkpoint to the end in its own invocation.
    split_queue_url: str | None = Field(default=None, alias="SPLIT_QUEUE_URL")
    send_activation_email_default: bool = Field(alias="SEND_ACTIVATION_EMAIL_DEFAULT")
    max_file_bytes: int = Field(alias="MAX_FILE_BYTES", gt=0)
    max_rows: int = Field(alias="MAX_ROWS", gt=0)
    max_field_chars: int = Field(alias="MAX_FIELD_CHARS", gt=0)


class WorkerSettings(_FromEnvironment):
    jobs_table: str = Field(alias="JOBS_TABLE")
    directory_table: str = Field(alias="DIRECTORY_TABLE")
    results_bucket: str = Field(alias="RESULTS_BUCKET")
    email_queue_url: str = Field(alias="EMAIL_QUEUE_URL")
    aggregate_queue_url: str = Field(alias="AGGREGATE_QUEUE_URL")
    user_pool_id: str = Field(alias="USER_POOL_ID", min_length=1)  # the portal users' pool, own or adopted
    # Where the users a chunk creates with an email address are sent to join their Roles' groups (the group pass).
    group_queue_url: str = Field(alias="GROUP_QUEUE_URL")
    cognito_rates: CognitoRates = Field(alias="COGNITO_RATES")


class GroupSettings(_FromEnvironment):
    jobs_table: str = Field(alias="JOBS_TABLE")
    user_pool_id: str = Field(alias="USER_POOL_ID", min_length=1)
    cognito_rates: CognitoRates = Field(alias="COGNITO_RATES")


class EmailSenderSettings(_FromEnvironment):
    jobs_table: str = Field(alias="JOBS_TABLE")
    directory_table: str = Field(alias="DIRECTORY_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    email_queue_url: str = Field(alias="EMAIL_QUEUE_URL")
    activation_link_ttl_hours: float = Field(alias="ACTIVATION_LINK_TTL_HOURS", gt=0)
    portal_name: str = Field(alias="PORTAL_NAME")
    portal_url: str = Field(alias="PORTAL_URL")
    sender_address: str = Field(alias="SENDER_ADDRESS")
    email_template: str = Field(alias="ACTIVATION_EMAIL_TEMPLATE")  # the SES template of the activation email
    email_rate_per_second: float = Field(alias="EMAIL_RATE_PER_SECOND", gt=0)
    # The SES configuration set every activation email is sent with: its events come back to the stack.
    configuration_set: str = Field(alias="CONFIGURATION_SET")
    # The reputation guard's first judgement: a job's emails do not run further ahead of their outcomes (0: off).
    guard_minimum_emails: int = Field(alias="GUARD_MINIMUM_EMAILS", default=50, ge=0)
    daily_email_quota: int = Field(alias="DAILY_EMAIL_QUOTA", ge=0)  # 0: the account's SES quota
    topic_arn: str | None = Field(alias="TOPIC_ARN", default=None)  # for the emails-sent notice


class DeliveryEventsSettings(_FromEnvironment):
    jobs_table: str = Field(alias="JOBS_TABLE")
    directory_table: str = Field(alias="DIRECTORY_TABLE")
    configuration_set: str = Field(alias="CONFIGURATION_SET")  # events of other sets' emails are not the stack's
    topic_arn: str | None = Field(alias="TOPIC_ARN", default=None)  # for the emails-held notice
    guard_minimum_emails: int = Field(alias="GUARD_MINIMUM_EMAILS", default=50, ge=1)
    max_bounce_rate_percent: float = Field(alias="MAX_BOUNCE_RATE_PERCENT", default=4.0, gt=0)
    max_complaint_rate_percent: float = Field(alias="MAX_COMPLAINT_RATE_PERCENT", default=0.08, gt=0)


class EmailDeadLetterSettings(_FromEnvironment):
    jobs_table: str = Field(alias="JOBS_TABLE")
    directory_table: str = Field(alias="DIRECTORY_TABLE")
    topic_arn: str | None = Field(alias="TOPIC_ARN", default=None)  # for the emails-sent notice
    activation_link_ttl_hours: float | None = Field(alias="ACTIVATION_LINK_TTL_HOURS", default=None, gt=0)


class AggregatorSettings(_FromEnvironment):
    jobs_table: str = Field(alias="JOBS_TABLE")
    results_bucket: str = Field(alias="RESULTS_BUCKET")
    topic_arn: str = Field(alias="TOPIC_ARN")
    result_link_ttl_seconds: int = Field(alias="RESULT_LINK_TTL_SECONDS", gt=0)
    activation_link_ttl_hours: float | None = Field(alias="ACTIVATION_LINK_TTL_HOURS", default=None, gt=0)


class SweeperSettings(SplitterSettings):
    results_bucket: str = Field(alias="RESULTS_BUCKET")
    stalled_job_minutes: int = Field(alias="STALLED_JOB_MINUTES", gt=0)


class ResendSettings(_FromEnvironment):
    jobs_table: str = Field(alias="JOBS_TABLE")
    directory_table: str = Field(alias="DIRECTORY_TABLE")
    results_bucket: str = Field(alias="RESULTS_BUCKET")  # the success file: the users a job created
    email_queue_url: str = Field(alias="EMAIL_QUEUE_URL")


class ConsoleSettings(ResendSettings):
    """The console's API: the resend function's stores, and what an upload may be."""

    max_file_bytes: int = Field(alias="MAX_FILE_BYTES", gt=0)
    send_activation_email_default: bool = Field(default=False, alias="SEND_ACTIVATION_EMAIL_DEFAULT")
    # Where a browser reaches the bucket for the links and upload forms it is given; empty: S3's own address (the
    # local runtime sets its endpoint).
    presign_endpoint_url: str = Field(default="", alias="PRESIGN_ENDPOINT_URL")


class ActivationSettings(_FromEnvironment):
    jobs_table: str = Field(alias="JOBS_TABLE")
    directory_table: str = Field(alias="DIRECTORY_TABLE")
    user_pool_id: str = Field(alias="USER_POOL_ID", min_length=1)
    cognito_rates: CognitoRates = Field(alias="COGNITO_RATES")
    portal_name: str = Field(alias="PORTAL_NAME")
    # The one origin (scheme://host) whose page may post the JSON form from a browser (CORS); empty: none.
    portal_origin: str = Field(default="", alias="PORTAL_ORIGIN")
    # Where new links a person asks for go (the email sender's queue); empty: nobody may ask for one.
    email_queue_url: str = Field(default="", alias="EMAIL_QUEUE_URL")
    # The portal's sign-in page (PortalSignInUrl), linked from the page that says the password is set; empty: none.
    portal_sign_in_url: str = Field(default="", alias="PORTAL_SIGN_IN_URL")
