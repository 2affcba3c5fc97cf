"""The template in both forms: as written (SAM) and as CloudFormation deploys it (transformed offline by SAM)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from portal_import_local.template import load_template, transform_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="session")
def transformed(sam_template: dict[str, Any]) -> dict[str, Any]:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        return transform_template(sam_template, artifact_bucket="artifacts", parameters={}, iam_client=iam)
