"""Each function's dependencies, built from its settings: the one place where the flows' ports are given their
AWS adapters. A handler calls one of these once per container (its `_deps`, cached) and passes the result on."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from portal_import.aws.activations import Links
from portal_import.aws.clients import client
from portal_import.aws.deliveries import Deliveries
from portal_import.aws.directory import Directory
from portal_import.aws.held_emails import HeldEmails
from portal_import.aws.jobs import Jobs
from portal_import.aws.ledger import Ledger
from portal_import.aws.mailer import Mailer
from portal_import.aws.notifier import Notifier
from portal_import.aws.queues import Queue
from portal_import.aws.ratelimit import EmailPace, Pace, cognito_limiter
from portal_import.aws.storage import Storage
from portal_import.aws.userpool import UserPool
from portal_import.config import (
    ActivationSettings,
    AggregatorSettings,
    ConsoleSettings,
    DeliveryEventsSettings,
    EmailDeadLetterSettings,
    EmailSenderSettings,
    GroupSettings,
    ResendSettings,
    SplitterSettings,
    SweeperSettings,
    WorkerSettings,
)
from portal_import.domain.passwords import PasswordRules
from portal_import.flows.activate import ActivationDeps
from portal_import.flows.aggregate import AggregateDeps
from portal_import.flows.console import ConsoleDeps
from portal_import.flows.delivery import DeliveryDeps
from portal_import.flows.groups import GroupDeps
from portal_import.flows.resend import ResendDeps
from portal_import.flows.resume import ResumeDeps
from portal_import.flows.send import DeadBatchDeps, SendDeps
from portal_import.flows.split import SplitDeps
from portal_import.flows.sweep import SweepDeps
from portal_import.flows.work import WorkDeps


def split_deps(settings: SplitterSettings) -> SplitDeps:
    """The splitter's: it reads dropped files from whichever bucket they landed in, and writes no results."""
    return _split_deps(settings, Jobs(settings.jobs_table), results_bucket=None)


def sweep_deps(settings: SweeperSettings) -> SweepDeps:
    """The sweeper's: the splitter's, the results bucket for the outcomes of the rows it accounts for, and the
    stalled jobs."""
    jobs = Jobs(settings.jobs_table)
    split = _split_deps(settings, jobs, results_bucket=settings.results_bucket)
    return SweepDeps(**vars(split), stalled_jobs=jobs, chunk_tally=jobs)


def _split_deps(settings: SplitterSettings, jobs: Jobs, *, results_bucket: str | None) -> SplitDeps:
    return SplitDeps(
        job_reader=jobs,
        split_progress=jobs,
        channels=jobs,
        directory=Directory(settings.directory_table),
        storage=Storage(results_bucket),
        rows_queue=Queue(settings.rows_queue_url),
        aggregate_queue=Queue(settings.aggregate_queue_url),
        split_queue=Queue(settings.split_queue_url) if settings.split_queue_url else None,
    )


def _pacers(jobs_table: str, rates: tuple[tuple[str, float], ...]) -> dict[str, Pace]:
    """The limiter of each of Cognito's quota categories, shared by every function of the stack that calls it."""
    return {category: Pace(jobs_table, rate, key=cognito_limiter(category)) for category, rate in rates}


def work_deps(settings: WorkerSettings) -> WorkDeps:
    """The worker's (and its dead-letter function's): its Cognito calls paced by the limiters every function shares."""
    jobs = Jobs(settings.jobs_table)
    return WorkDeps(
        job_reader=jobs,
        chunk_tally=jobs,
        channels=jobs,
        directory=Directory(settings.directory_table),
        storage=Storage(settings.results_bucket),
        email_queue=Queue(settings.email_queue_url),
        aggregate_queue=Queue(settings.aggregate_queue_url),
        group_queue=Queue(settings.group_queue_url),
        user_pool=UserPool(settings.user_pool_id, pacers=_pacers(settings.jobs_table, settings.cognito_rates)),
    )


def group_deps(settings: GroupSettings) -> GroupDeps:
    """The group pass's: UserUpdate's limiter, shared with the activations."""
    pacers = _pacers(settings.jobs_table, settings.cognito_rates)
    return GroupDeps(user_pool=UserPool(settings.user_pool_id, pacers=pacers))


def send_deps(settings: EmailSenderSettings) -> SendDeps:
    return SendDeps(
        ledger=Ledger(settings.directory_table, settings.jobs_table),
        directory=Directory(settings.directory_table),
        jobs=Jobs(settings.jobs_table),
        email_pace=EmailPace(settings.jobs_table, settings.email_rate_per_second),
        mailer=Mailer(),
        email_queue=Queue(settings.email_queue_url),
        notifier=_notifier(settings.topic_arn),
        held_emails=HeldEmails(settings.jobs_table),
    )


def delivery_deps(settings: DeliveryEventsSettings) -> DeliveryDeps:
    return DeliveryDeps(
        deliveries=Deliveries(settings.directory_table, settings.jobs_table),
        jobs=Jobs(settings.jobs_table),
        held_emails=HeldEmails(settings.jobs_table),
        notifier=_notifier(settings.topic_arn),
    )


def idempotency_store(settings: EmailSenderSettings) -> DynamoDBPersistenceLayer:
    """Where the email sender records the batches it has done (Powertools' idempotency)."""
    return DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=client("dynamodb"))


def dead_batch_deps(settings: EmailDeadLetterSettings) -> DeadBatchDeps:
    return DeadBatchDeps(
        ledger=Ledger(settings.directory_table, settings.jobs_table),
        jobs=Jobs(settings.jobs_table),
        notifier=_notifier(settings.topic_arn),
    )


def resend_deps(settings: ResendSettings) -> ResendDeps:
    """The resend function's: it reads the job's success file, the directory and the ledger, and queues emails."""
    return ResendDeps(
        directory=Directory(settings.directory_table),
        ledger=Ledger(settings.directory_table, settings.jobs_table),
        storage=Storage(settings.results_bucket),
        email_queue=Queue(settings.email_queue_url),
        job_reader=Jobs(settings.jobs_table),
    )


def resume_deps(settings: ResendSettings) -> ResumeDeps:
    """The resend function's, for `resume-emails`: the job's hold and the batches it kept."""
    return ResumeDeps(
        job_reader=Jobs(settings.jobs_table),
        held_emails=HeldEmails(settings.jobs_table),
        email_queue=Queue(settings.email_queue_url),
    )


def console_deps(settings: ConsoleSettings) -> ConsoleDeps:
    """The console API's: what `status`, `jobs`, `users`, `resend` and `resume-emails` read and do, and uploads."""
    storage = Storage(settings.results_bucket, presign_endpoint=settings.presign_endpoint_url)
    return ConsoleDeps(
        console_jobs=Jobs(settings.jobs_table),
        storage=storage,
        uploads=storage,
        ledger=Ledger(settings.directory_table, settings.jobs_table),
        held_emails=HeldEmails(settings.jobs_table),
        resend=resend_deps(settings),
        resume=resume_deps(settings),
        max_file_bytes=settings.max_file_bytes,
        send_activation_email_default=settings.send_activation_email_default,
    )


def _notifier(topic_arn: str | None) -> Notifier | None:
    """The emails-sent notice's channel; None when the stack has no topic (not this function's to publish)."""
    return Notifier(topic_arn) if topic_arn else None


def aggregate_deps(settings: AggregatorSettings) -> AggregateDeps:
    jobs = Jobs(settings.jobs_table)
    return AggregateDeps(
        job_reader=jobs,
        announcements=jobs,
        channels=jobs,
        emails_notice=jobs,
        storage=Storage(settings.results_bucket),
        notifier=Notifier(settings.topic_arn),
    )


def activation_deps(settings: ActivationSettings) -> ActivationDeps:
    """The activation page's: each Cognito call paced with the imports' (a call whose slot comes after the request's
    deadline is not made: the person is asked to try again in a moment, and the link stays valid)."""
    pacers = _pacers(settings.jobs_table, settings.cognito_rates)
    pool = UserPool(settings.user_pool_id, pacers=pacers)
    return ActivationDeps(
        links=Links(settings.directory_table, settings.jobs_table),
        accounts=pool,
        rules=PasswordRules.from_policy(pool.password_policy()),  # the pool's own, read once per container
        portal_name=settings.portal_name,
        email_queue=Queue(settings.email_queue_url) if settings.email_queue_url else None,
        email_sign_in=pool.signs_in_by_email(),  # likewise
        sign_in_url=settings.portal_sign_in_url,
    )
