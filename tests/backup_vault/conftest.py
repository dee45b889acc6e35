"""Shared fixtures of the BackupVault tests: fake credentials, the two regions, stream events."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest

from handlers.common import aws as aws_clients
from tests.conftest import moto_account
from tests.http_sends import no_backoff_sleep  # noqa: F401 - fixture

PRIMARY_REGION = "us-east-1"
DR_REGION = "us-west-2"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An in-process moto account, reachable in both regions, with credentials that cannot leak."""
    with moto_account(monkeypatch, PRIMARY_REGION):
        yield


def streams_client(region: str) -> Any:
    # botocore routes DescribeStream to an account-scoped host moto does not serve; use the regional one.
    return boto3.client(
        "dynamodbstreams", region_name=region, endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com"
    )


def _lambda_json(value: Any) -> Any:
    """Lambda delivers stream records as JSON: binary base64, times as epoch seconds."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(type(value).__name__)


def lambda_stream_event(table_stream_arn: str, region: str) -> dict[str, Any]:
    """Everything in the table's stream so far, shaped exactly like the event Lambda hands the function."""
    streams = streams_client(region)
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=table_stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=table_stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    for record in records:
        record["eventSourceARN"] = table_stream_arn
    return json.loads(json.dumps({"Records": records}, default=_lambda_json))


@pytest.fixture(autouse=True)
def fresh_aws_clients() -> Iterator[None]:
    """Each test starts, and leaves, with no cached client: as a new Lambda container would."""
    aws_clients.clear_clients()
    yield
    aws_clients.clear_clients()
