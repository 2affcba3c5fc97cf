"""`local run` prints the results-ready message with the downloaded files' paths where the stack's message has
pre-signed links, which lead nowhere once the embedded AWS is gone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from portal_import.domain.notification import compose
from portal_import_local.shown_locally import message_shown_locally

JOB = "20261125T101500Z-abc"
SUMMARY: dict[str, Any] = {
    "jobId": JOB,
    "sourceKey": "imports/partners.csv",
    "status": "COMPLETED",
    "error": None,
    "mode": "import",
    "totalRows": 2,
    "succeeded": 1,
    "failed": 1,
    "sendActivationEmail": False,
    "emailsQueued": 0,
}
FILES = {"successKey": "success.csv", "failureKey": "failure.csv", "summaryKey": "summary.json"}
LINKS = {
    **{f"{key}Uri": f"s3://bucket/results/{JOB}/{name}" for key, name in FILES.items()},
    **{
        f"{key}Url": f"https://bucket.s3.amazonaws.com/results/{JOB}/{name}?X-Amz-Signature=1"
        for key, name in FILES.items()
    },
}
DETAIL = {"jobId": JOB, "links": LINKS, "linksExpireInSeconds": 3600}


def _message() -> str:
    return compose(SUMMARY, Counter({"Contact not found": 1}), LINKS, 3600)[1]


def test_each_link_becomes_the_files_path_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shown = message_shown_locally(_message(), DETAIL, Path("import-results") / JOB)
    assert "https://" not in shown and "links work until" not in shown
    assert (
        f"Result files (downloaded into import-results/{JOB}/; on AWS the message has links that work for up to "
        "1 hour instead):" in shown
    )
    assert f"  Success file: s3://bucket/results/{JOB}/success.csv\n    import-results/{JOB}/success.csv\n" in shown
    assert f"    import-results/{JOB}/failure.csv\n" in shown and f"    import-results/{JOB}/summary.json\n" in shown
    # and the rest of the message is the stack's, line for line
    assert shown.split("Result files")[0] == _message().split("Result files")[0]


def test_a_folder_outside_the_current_directory_is_shown_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    shown = message_shown_locally(_message(), DETAIL, Path("../out"))
    assert f"    {tmp_path.resolve() / 'out' / 'success.csv'}\n" in shown


def test_without_the_events_detail_the_message_is_printed_as_published() -> None:
    assert message_shown_locally(_message(), None, Path("r")) == _message()
    other = {**DETAIL, "links": {**LINKS, "successKeyUri": "s3://bucket/results/other/success.csv"}}
    assert message_shown_locally(_message(), other, Path("r")) == _message()
