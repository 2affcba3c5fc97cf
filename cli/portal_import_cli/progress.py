"""A job's progress as an administrator follows it: when it is finished, what scripts read of it, the one line
`watch` redraws (rows processed of total, created, failed, emails sent, ETA from the observed rates), and the loop
behind that line."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TextIO

from portal_import.domain.job import Job, JobStatus
from portal_import.domain.progress import TERMINAL, emails_expected, finished, held, job_json, results_uri
from portal_import.domain.shown import visible

__all__ = ["emails_expected", "finished", "held", "job_json", "results_uri"]  # where the CLI's callers find them

_BAR_WIDTH = 20


class Rate:
    """Units per second of a growing count, measured from the first time work was seen waiting. The email sender
    adds its count once per batch, so until a first batch is counted the stack's configured rate (the prior)
    stands in, less the time already spent."""

    def __init__(self, prior: float | None = None) -> None:
        self._prior = prior
        self._start: tuple[float, int] | None = None
        self.observed: float | None = None

    def observe(self, at: float, done: int, *, pending: bool) -> None:
        if self._start is None:
            if pending:
                self._start = (at, done)
            return
        started_at, done_then = self._start
        if done > done_then and at > started_at:
            self.observed = (done - done_then) / (at - started_at)

    def seconds_for(self, left: float, at: float) -> float | None:
        if left <= 0:
            return 0.0
        if self.observed:
            return left / self.observed
        if self._prior and self._start is not None:
            return max(left / self._prior - (at - self._start[0]), 0.0)
        return None


def eta_seconds(job: Job, rows: Rate, emails: Rate, at: float) -> float | None:
    """Seconds until the job is finished at the observed rates; None while a rate it depends on is unknown."""
    if finished(job):
        return 0.0
    if job.total_rows is None:
        return None
    rows_left = job.total_rows - job.rows_done
    waits = [rows.seconds_for(rows_left, at)]
    if emails_expected(job):
        if rows_left > 0:
            # Emails are queued as rows are processed: expect the rest of the file to need them as often.
            expected = job.emails_queued * job.total_rows / job.rows_done if job.rows_done else None
        else:
            expected = job.emails_queued
        waits.append(None if expected is None else emails.seconds_for(expected - job.emails_done, at))
    known = [wait for wait in waits if wait is not None]
    return max(known) if len(known) == len(waits) else None


def duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def counts_text(job: Job) -> str:
    """What the line says apart from the bar and the ETA (also what tells one observation from the next)."""
    if job.status is JobStatus.SPLITTING:
        # A large file is read over several invocations while its first chunks are already being processed.
        done = f"; {job.rows_done:,} rows done so far" if job.rows_done else ""
        return f"reading {visible(job.source_key)}{done}"
    if job.status is JobStatus.FAILED and job.total_rows is None:
        return f"{visible(job.source_key)}: rejected"  # why is said once, with the summary
    total = "?" if job.total_rows is None else f"{job.total_rows:,}"
    parts = [
        f"{job.rows_done:,}/{total} rows",
        f"{job.succeeded:,} {'would be created' if job.mode == 'validate' else 'created'}",
        f"{job.failed:,} failed",
    ]
    if emails_expected(job):
        emails = f"emails {job.emails_sent:,}/{job.emails_queued:,} sent"
        if job.emails_failed:
            emails += f" ({job.emails_failed:,} refused)"
        if job.emails_held_at is not None:
            emails += f", {job.emails_held:,} held"
        parts.append(emails)
        outcomes = delivery_counts(job)
        if outcomes:
            parts.append(outcomes)
    return "  ".join(parts)


def delivery_counts(job: Job) -> str:
    """What SES said of the emails so far ("" before any outcome): each non-zero count."""
    counts = [
        (job.emails_delivered, "delivered"),
        (job.emails_bounced, "bounced"),
        (job.emails_complained, "complained"),
        (job.emails_delayed, "delayed"),
    ]
    return ", ".join(f"{count:,} {what}" for count, what in counts if count)


def progress_line(job: Job, eta: float | None, width: int | None = None) -> str:
    """The line `watch` shows; without its bar when that would not fit in `width` columns."""
    if job.status is JobStatus.SPLITTING:
        return f"{counts_text(job)}..."
    if job.total_rows is None:
        return counts_text(job)
    total = job.total_rows
    filled = _BAR_WIDTH if finished(job) or not total else _BAR_WIDTH * min(job.rows_done, total) // total
    bar = "[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "]"
    tail = "done" if finished(job) else ("ETA --" if eta is None else f"ETA {duration(eta)}")
    text = f"{counts_text(job)}  {tail}"
    line = f"{bar} {text}"
    return text if width is not None and len(line) > width else line


class ProgressDisplay:
    """One line redrawn in place on a terminal; elsewhere (a log, a pipe) a plain line whenever the counts move."""

    def __init__(self, stream: TextIO, *, live: bool | None = None) -> None:
        self._stream = stream
        self._live = stream.isatty() if live is None else live
        self._drawn = False
        self._last_counts: str | None = None

    def show(self, job: Job, eta: float | None) -> None:
        counts = f"{job.status.value} {finished(job)} {counts_text(job)}"
        if self._live:
            width = shutil.get_terminal_size().columns - 1  # a line that wraps cannot be redrawn with \r
            self._stream.write("\r" + progress_line(job, eta, width)[:width] + "\x1b[K")
            self._drawn = True
        elif counts != self._last_counts:
            self._stream.write(progress_line(job, eta) + "\n")
        self._last_counts = counts
        self._stream.flush()

    def close(self) -> None:
        if self._live and self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


class StillRunning(Exception):
    """The job had not finished when the watch's time ran out."""

    def __init__(self, job: Job, waited: float) -> None:
        super().__init__(job.job_id)
        self.job = job
        self.waited = waited


def follow(
    read: Callable[[], Job],
    display: ProgressDisplay,
    *,
    interval: float,
    timeout: float | None = None,
    email_rate: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Job:
    """Reads the job every `interval` seconds and shows its progress until it is finished; returns the last read.
    `email_rate` is the stack's configured sending rate, if known."""
    rows, emails = Rate(), Rate(prior=email_rate)
    started = clock()
    try:
        while True:
            job = read()
            now = clock()
            rows.observe(now, job.rows_done, pending=job.status not in TERMINAL)
            emails.observe(now, job.emails_done, pending=job.emails_queued > job.emails_done)
            display.show(job, eta_seconds(job, rows, emails, now))
            if finished(job) or held(job):
                return job
            if timeout is not None and now - started >= timeout:
                raise StillRunning(job, now - started)
            sleep(interval)
    finally:
        display.close()
