"""Several email sender invocations at once share one rate: the limiter item in the jobs table hands each send a
slot no other invocation holds, so no window of W seconds holds more than R*W + R emails across all of them. And
two deliveries of one batch at the same time (SQS may hand a message out twice) never send anyone two emails:
the email ledger lets one claim each recipient."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from portal_import.aws.directory import Directory
from portal_import.aws.jobs import Jobs
from portal_import.aws.ledger import Ledger
from portal_import.aws.mailer import Mailer
from portal_import.aws.queues import Queue
from portal_import.aws.ratelimit import EmailPace
from portal_import.config import EmailSenderSettings
from portal_import.domain.messages import EmailBatch
from portal_import.flows.send import SendDeps, send_activation_emails
from portal_import.ports import Destination

from .conftest import SAMPLE_JOB_ID

RATE = 40
SENDERS = 3
EMAILS_EACH = 50


class RecordingMailer(Mailer):
    """The real SES adapter, noting when and to whom each accepted email went; `slow` seconds more a call, so
    that deliveries overlap."""

    def __init__(self, slow: float = 0.0) -> None:
        super().__init__()
        self.times: list[float] = []
        self.addresses: list[str] = []
        self._slow = slow
        self._lock = threading.Lock()

    def send_bulk(
        self, *, sender: str, template: str, defaults: Any, destinations: Sequence[Destination], **tagged: Any
    ) -> list[str]:
        called_at = time.time()  # when SES is handed the emails
        statuses = super().send_bulk(
            sender=sender, template=template, defaults=defaults, destinations=destinations, **tagged
        )
        time.sleep(self._slow)
        accepted = [d.address for d, status in zip(destinations, statuses, strict=True) if status == "Success"]
        with self._lock:
            self.times.extend(called_at for _ in accepted)
            self.addresses.extend(accepted)
        return statuses


def sender_deps(settings: EmailSenderSettings, mailer: Mailer) -> SendDeps:
    return SendDeps(
        ledger=Ledger(settings.directory_table, settings.jobs_table),
        directory=Directory(settings.directory_table),
        jobs=Jobs(settings.jobs_table),
        email_pace=EmailPace(settings.jobs_table, settings.email_rate_per_second),
        mailer=mailer,
        email_queue=Queue(settings.email_queue_url),
    )


def sender_settings(cloud: Any) -> EmailSenderSettings:
    environment = {**cloud.stack.functions["EmailSenderFunction"].environment, "EMAIL_RATE_PER_SECOND": str(RATE)}
    return EmailSenderSettings.from_env(environment)


def test_concurrent_senders_together_stay_within_the_rate(cloud: Any) -> None:
    # Given three email batches and the stack's sender settings at 40 emails a second
    cloud.verify_sender()
    cloud.start_job(SAMPLE_JOB_ID, chunks=1, rows=SENDERS * EMAILS_EACH)
    settings = sender_settings(cloud)
    mailer = RecordingMailer()
    deps = sender_deps(settings, mailer)
    batches = [
        EmailBatch(
            key=f"{SAMPLE_JOB_ID}#{sender}#0",
            job_id=SAMPLE_JOB_ID,
            recipients=cloud.enrol(
                SAMPLE_JOB_ID,
                [
                    (f"003contact{sender}{n:04d}", f"005user{sender}{n:04d}", f"person{sender}.{n}@example.com")
                    for n in range(EMAILS_EACH)
                ],
                first_name="Ann",
            ),
        )
        for sender in range(SENDERS)
    ]

    # When three invocations send them at the same time
    sent: list[int] = []
    threads = [
        threading.Thread(target=lambda b=batch: sent.append(send_activation_emails(b, deps, settings)))
        for batch in batches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every email went out once, and no window of W seconds held more than R*W + R of them
    assert sorted(sent) == [EMAILS_EACH] * SENDERS and len(mailer.times) == SENDERS * EMAILS_EACH
    times = sorted(mailer.times)
    for window in (0.5, 1.0, 2.0):
        busiest = max(sum(1 for t in times[i:] if t - start < window) for i, start in enumerate(times))
        assert busiest <= RATE * window + RATE, f"{busiest} emails within {window} s"
    assert cloud.job(SAMPLE_JOB_ID).emails_sent == SENDERS * EMAILS_EACH


def test_two_deliveries_of_one_batch_at_the_same_time_send_each_email_once(cloud: Any) -> None:
    # Given one batch of 60 emails, handed out twice at once (and once more afterwards, as SQS may)
    cloud.verify_sender()
    cloud.start_job(SAMPLE_JOB_ID, chunks=1, rows=60)
    settings = sender_settings(cloud)
    mailer = RecordingMailer(slow=0.05)
    deps = sender_deps(settings, mailer)
    batch = EmailBatch(
        key=f"{SAMPLE_JOB_ID}#0#0",
        job_id=SAMPLE_JOB_ID,
        recipients=cloud.enrol(
            SAMPLE_JOB_ID, [(f"003contact{n:04d}", f"005user{n:04d}", f"p{n}@x.com") for n in range(60)]
        ),
    )

    # When two invocations send it at the same time, then every batch they put back on the queue is sent too
    threads = [threading.Thread(target=send_activation_emails, args=(batch, deps, settings)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    send_activation_emails(batch, deps, settings)
    requeued = drain(cloud, settings.email_queue_url)
    for rest in requeued:
        send_activation_emails(rest, deps, settings)

    # Then each person got exactly one email, and the job counts 60 sent
    assert sorted(mailer.addresses) == sorted(f"p{n}@x.com" for n in range(60))
    assert cloud.job(SAMPLE_JOB_ID).emails_sent == 60


def drain(cloud: Any, queue_url: str) -> list[EmailBatch]:
    sqs = cloud.session.client("sqs")
    batches: list[EmailBatch] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return batches
        for message in messages:
            batches.append(EmailBatch.model_validate_json(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
