"""An import file's key is chosen by whoever drops it, and may hold an escape sequence, a line break or a bidi
override. Every place a person reads the key (the notifications, `status`, `jobs`, `watch`) shows those characters
as their escapes, on one line, as error texts show a file's values."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from portal_import.domain.job import JobStatus
from portal_import.domain.notification import compose, compose_emails_sent
from portal_import_cli.progress import counts_text
from portal_import_cli.rendering import print_jobs, print_report

from .sample_jobs import a_job

# Clears the terminal and writes a line of its own; a newline, a tab and a right-to-left override that makes
# "imports/xslx.exe" read as a spreadsheet; a line separator.
KEY = "imports/\x1b[2J\x1b[1;1Hall good\n\tRows: 0\u202exslx.csv\u2028"
SHOWN = "imports/\\x1b[2J\\x1b[1;1Hall good\\n\\tRows: 0\\u202exslx.csv\\u2028"
SUMMARY: dict[str, Any] = {
    "jobId": "20261125T101500Z-abc",
    "sourceKey": KEY,
    "status": "COMPLETED",
    "error": None,
    "mode": "import",
    "totalRows": 2,
    "succeeded": 2,
    "failed": 0,
    "sendActivationEmail": False,
    "emailsQueued": 0,
}
LINKS = {f"{n}{k}": f"{k.lower()}-{n}" for n in ("successKey", "failureKey", "summaryKey") for k in ("Uri", "Url")}


def _raw_characters(text: str) -> set[str]:
    return {char for char in text if char in "\x1b\t\u202e\u2028"}


@pytest.mark.parametrize(
    "summary",
    [SUMMARY, {**SUMMARY, "status": "FAILED", "error": "The file holds no header.", "totalRows": 0, "succeeded": 0}],
)
def test_the_results_notification_shows_the_key_escaped(summary: dict[str, Any]) -> None:
    # Given / When
    subject, message = compose(summary, Counter(), LINKS, 3600)

    # Then the body names the key, whole, on one line, with its escapes: nothing of it acts on the reader's screen
    assert f"of {SHOWN} " in next(line for line in message.splitlines() if "imports/" in line)
    assert not _raw_characters(message)
    # and the subject (ASCII only) shows the escapes too, not question marks
    assert subject.startswith("Portal user import ") and "\\x1b[2J" in subject and "\\u202e" in subject


def test_the_emails_sent_notice_shows_the_key_escaped() -> None:
    # Given / When
    subject, message = compose_emails_sent(source_key=KEY, job_id="J", sent=2, failed=0, link_ttl_hours=72)

    # Then
    assert f"the import of {SHOWN} (job J)" in message
    assert not _raw_characters(message + subject)
    assert "\\x1b[2J" in subject


def test_status_shows_the_key_escaped_on_its_file_line(capsys: pytest.CaptureFixture[str]) -> None:
    # Given / When
    print_report(a_job(source_key=KEY))

    # Then
    out = capsys.readouterr().out
    assert f"  file     {SHOWN} (import, activation emails on)\n" in out
    assert not _raw_characters(out)


def test_jobs_shows_the_key_escaped_in_its_row(capsys: pytest.CaptureFixture[str]) -> None:
    # Given / When
    print_jobs([a_job(source_key=KEY), a_job(job_id="20261125T101600Z-def")])

    # Then each job is one line, the key last and escaped
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[1].endswith(f"  {SHOWN}") and lines[2].endswith("  imports/partners.csv")
    assert not _raw_characters("".join(lines))


@pytest.mark.parametrize(
    ("status", "shown"),
    [(JobStatus.SPLITTING, f"reading {SHOWN}"), (JobStatus.FAILED, f"{SHOWN}: rejected")],
    ids=["reading", "rejected"],
)
def test_watch_shows_the_key_escaped(status: JobStatus, shown: str) -> None:
    # Given / When / Then
    assert counts_text(a_job(source_key=KEY, status=status)) == shown
