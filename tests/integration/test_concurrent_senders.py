"""Several email sender invocations at once share one rate: the limiter item in the jobs table hands each send a
slot no other invocation holds, so no window of W seconds holds more than R*W + R emails across all of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from portal_import.aws.directory import Directory
from portal_import.aws.jobs import JobStore
from portal_import.aws.mailer import Destination, Mailer
from portal_import.aws.queues import QueueSender
from portal_import.aws.ratelimit import SendSlots
from portal_import.config import EmailSenderSettings
from portal_import.messages import EmailBatch, EmailRecipient
from portal_import.send import SendDeps, send_activation_emails

from .conftest import SAMPLE_JOB_ID

RATE = 40
SENDERS = 3
EMAILS_EACH = 50


class TimedMailer(Mailer):
    """The real SES adapter, noting when each accepted email went out."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self._lock = threading.Lock()

    def send_bulk(self, *, sender: str, template: str, defaults: Any, destinations: Sequence[Destination]) -> list[str]:
        called_at = time.time()  # when SES is handed the emails
        statuses = super().send_bulk(sender=sender, template=template, defaults=defaults, destinations=destinations)
        with self._lock:
            self.times.extend(called_at for status in statuses if status == "Success")
        return statuses


def test_concurrent_senders_together_stay_within_the_rate(cloud: Any) -> None:
    # Given three email batches and the stack's sender settings at 40 emails a second
    cloud.verify_sender()
    cloud.start_job(SAMPLE_JOB_ID, chunks=1, rows=SENDERS * EMAILS_EACH)
    environment = {**cloud.stack.functions["EmailSenderFunction"].environment, "EMAIL_RATE_PER_SECOND": str(RATE)}
    settings = EmailSenderSettings.from_env(environment)
    mailer = TimedMailer()
    deps = SendDeps(
        directory=Directory(settings.directory_table),
        jobs=JobStore(settings.jobs_table),
        slots=SendSlots(settings.jobs_table, settings.email_rate_per_second),
        mailer=mailer,
        email_queue=QueueSender(settings.email_queue_url),
    )
    batches = [
        EmailBatch(
            key=f"{SAMPLE_JOB_ID}#{sender}#0",
            job_id=SAMPLE_JOB_ID,
            recipients=[
                EmailRecipient(
                    row=2 + sender * EMAILS_EACH + n,
                    user_id=f"005user{sender}{n:04d}",
                    contact_id=f"003contact{sender}{n:04d}",
                    email=f"person{sender}.{n}@example.com",
                    first_name="Ann",
                )
                for n in range(EMAILS_EACH)
            ],
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
