"""moto-backed fixtures: a feature table shaped like the component's, and call counting."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from handlers.common import aws as aws_clients
from handlers.common.dynamo import from_dynamo
from handlers.feature_store.enrich import feature_write_policy
from handlers.feature_store.store import FeatureTable
from tests.conftest import FAKE_CREDENTIALS, moto_account
from tests.http_sends import SendCounter, moto_server, no_backoff_sleep  # noqa: F401 - fixture

REGION = "eu-west-1"
TABLE = "platform-test-featurestore-features"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with moto_account(monkeypatch, REGION):
        yield


def create_feature_table(client: Any, name: str = TABLE) -> None:
    """The table as the component declares it: userId hash key, on-demand, TTL on expiresAt."""
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})


class CallCounter:
    """Counts the DynamoDB API calls a client really sends (botocore events, not our own bookkeeping)."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    create_feature_table(client)
    return client


@pytest.fixture
def counter(dynamodb: Any) -> CallCounter:
    return CallCounter(dynamodb)


def new_table(client: Any, **overrides: Any) -> FeatureTable:
    """A writer as one container would hold it, with a fixed clock and no real sleeping."""
    settings: dict[str, Any] = {
        "client": client,
        "table_name": TABLE,
        "ttl_seconds": 30 * 86_400,
        "clock": lambda: 1_795_428_000.0,
        "sleep": lambda _seconds: None,
    }
    settings.update(overrides)
    return FeatureTable(**settings)


def stored(client: Any, user: str) -> dict[str, Any] | None:
    raw = client.get_item(TableName=TABLE, Key={"userId": {"S": user}}, ConsistentRead=True).get("Item")
    return from_dynamo(raw) if raw else None


def features(client: Any, user: str) -> dict[str, Any]:
    """The user's `features` map (what the model reads); fails if the user has no item."""
    item = stored(client, user)
    assert item is not None, f"no item for {user!r}"
    return item["features"]


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, ListHandler]]:
    logger = logging.getLogger("tests.feature_store.captured")
    handler = ListHandler()
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, handler
    logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def fresh_aws_clients() -> Iterator[None]:
    """Each test starts, and leaves, with no cached client: as a new Lambda container would."""
    aws_clients.clear_clients()
    yield
    aws_clients.clear_clients()


@pytest.fixture
def http_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, SendCounter]]:
    """The enrichment function's own DynamoDB client (its retry policy), talking HTTP to a moto server,
    with every HTTP send counted: what a throttled call really costs."""
    for key, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with moto_server() as endpoint:
        requests.post(f"{endpoint}/moto-api/reset", timeout=5).raise_for_status()
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        client = aws_clients.client("dynamodb", feature_write_policy(8))
        create_feature_table(client)
        yield client, SendCounter(client)
