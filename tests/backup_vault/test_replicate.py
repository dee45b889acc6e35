"""The DynamoDB replication handler against two moto regions: real stream records in, exact items out."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from handlers.backup_vault import replicate as module
from handlers.backup_vault.replicate import (
    InvalidRecordError,
    ReplicaWriter,
    from_stream_value,
    parse_change,
    replicate,
)
from handlers.common import aws as aws_clients
from tests.backup_vault.conftest import DR_REGION, PRIMARY_REGION, lambda_stream_event
from tests.http_sends import SendCounter, moto_server

TABLE = "app-data"
REPLICA = "app-data-replica"
KEY_SCHEMA = [{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "timestamp", "KeyType": "RANGE"}]
ATTRIBUTES = [{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "timestamp", "AttributeType": "N"}]

# One item carrying every DynamoDB type, nested inside maps and lists as well.
EVERY_TYPE = {
    "id": {"S": "order#1"},
    "timestamp": {"N": "1700000000123"},
    "price": {"N": "19.90"},
    "negative": {"N": "-0.000001"},
    "wide": {"N": "12345678901234567890123456789012345678"},
    "blob": {"B": b"\x00\xffbinary\x10"},
    "flag_true": {"BOOL": True},
    "flag_false": {"BOOL": False},
    "nothing": {"NULL": True},
    "tags": {"SS": ["a", "b c"]},
    "scores": {"NS": ["1", "2.5", "-3"]},
    "chunks": {"BS": [b"\x01", b"\x02\x03"]},
    "empty_text": {"S": ""},
    "profile": {
        "M": {
            "name": {"S": "Ada"},
            "age": {"N": "36"},
            "avatar": {"B": b"\x89PNG"},
            "address": {"M": {"zip": {"S": "10115"}, "geo": {"L": [{"N": "52.5"}, {"N": "13.4"}]}}},
            "empty": {"M": {}},
        }
    },
    "history": {
        "L": [
            {"S": "created"},
            {"N": "2"},
            {"BOOL": True},
            {"NULL": True},
            {"B": b"\x07"},
            {"L": [{"SS": ["x"]}]},
            {"M": {"k": {"NS": ["7"]}}},
        ]
    },
}


def _table(client: Any, name: str, *, stream: bool) -> str | None:
    spec: dict[str, Any] = {
        "TableName": name,
        "KeySchema": KEY_SCHEMA,
        "AttributeDefinitions": ATTRIBUTES,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    return client.create_table(**spec)["TableDescription"].get("LatestStreamArn")


@pytest.fixture
def regions(aws: None) -> dict[str, Any]:
    source = boto3.client("dynamodb", region_name=PRIMARY_REGION)
    replica = boto3.client("dynamodb", region_name=DR_REGION)
    stream_arn = _table(source, TABLE, stream=True)
    _table(replica, REPLICA, stream=False)
    return {"source": source, "replica": replica, "stream_arn": stream_arn}


def _key(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["id"], "timestamp": item["timestamp"]}


def _items(client: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    items = client.scan(TableName=table)["Items"]
    return {(i["id"]["S"], i["timestamp"]["N"]): i for i in items}


def _event(regions: dict[str, Any]) -> dict[str, Any]:
    return lambda_stream_event(regions["stream_arn"], PRIMARY_REGION)


def test_every_attribute_type_arrives_unchanged_through_the_handler(regions, monkeypatch) -> None:
    regions["source"].put_item(TableName=TABLE, Item=EVERY_TYPE)
    monkeypatch.setenv("REPLICA_REGION", DR_REGION)
    monkeypatch.setenv("REPLICA_TABLE_NAME", REPLICA)
    module._writer.cache_clear()

    response = module.handler(_event(regions), None)

    assert response == {"batchItemFailures": []}
    replicated = regions["replica"].get_item(TableName=REPLICA, Key=_key(EVERY_TYPE))["Item"]
    original = regions["source"].get_item(TableName=TABLE, Key=_key(EVERY_TYPE))["Item"]
    assert replicated == original
    assert replicated["blob"] == {"B": b"\x00\xffbinary\x10"}  # bytes, not their base64 text
    assert replicated["wide"] == {"N": "12345678901234567890123456789012345678"}
    assert replicated["profile"]["M"]["address"]["M"]["geo"] == {"L": [{"N": "52.5"}, {"N": "13.4"}]}
    module._writer.cache_clear()


def test_modify_and_remove_are_applied_in_order(regions) -> None:
    source = regions["source"]
    first = {"id": {"S": "a"}, "timestamp": {"N": "1"}, "state": {"S": "new"}}
    second = {"id": {"S": "b"}, "timestamp": {"N": "2"}, "state": {"S": "new"}}
    source.put_item(TableName=TABLE, Item=first)
    source.put_item(TableName=TABLE, Item=second)
    source.update_item(
        TableName=TABLE,
        Key=_key(first),
        UpdateExpression="SET #s = :s, amount = :a",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":s": {"S": "paid"}, ":a": {"N": "42.5"}},
    )
    source.delete_item(TableName=TABLE, Key=_key(second))
    event = _event(regions)
    assert [r["eventName"] for r in event["Records"]] == ["INSERT", "INSERT", "MODIFY", "REMOVE"]

    assert replicate(event["Records"], ReplicaWriter(regions["replica"], REPLICA)) == {"batchItemFailures": []}

    assert _items(regions["replica"], REPLICA) == _items(source, TABLE)
    assert _items(regions["replica"], REPLICA)[("a", "1")]["amount"] == {"N": "42.5"}
    assert ("b", "2") not in _items(regions["replica"], REPLICA)


def test_redelivered_batches_converge_on_the_source_state(regions) -> None:
    source = regions["source"]
    item = {"id": {"S": "r"}, "timestamp": {"N": "5"}, "n": {"N": "1"}}
    gone = {"id": {"S": "g"}, "timestamp": {"N": "6"}, "n": {"N": "1"}}
    source.put_item(TableName=TABLE, Item=item)
    source.put_item(TableName=TABLE, Item=gone)
    source.put_item(TableName=TABLE, Item={**item, "n": {"N": "2"}})
    source.delete_item(TableName=TABLE, Key=_key(gone))
    records = _event(regions)["Records"]
    writer = ReplicaWriter(regions["replica"], REPLICA)

    # Whole batch delivered twice, then a retry that starts in the middle (as after a reported failure).
    assert replicate(records, writer) == {"batchItemFailures": []}
    assert replicate(copy.deepcopy(records), writer) == {"batchItemFailures": []}
    assert replicate(records[1:], writer) == {"batchItemFailures": []}

    assert _items(regions["replica"], REPLICA) == _items(source, TABLE)
    assert _items(regions["replica"], REPLICA)[("r", "5")]["n"] == {"N": "2"}


@pytest.fixture
def http_replica(regions, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, SendCounter]]:
    """The function's own replica client (its retry policy) sending real HTTP to a moto server that
    shares the in-process moto backend, with every HTTP send counted."""
    with moto_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        client = aws_clients.client("dynamodb", module.REPLICA_WRITES, region=DR_REGION)
        yield client, SendCounter(client)


def test_a_throttled_write_is_retried_by_the_client_and_lands(regions, http_replica, no_backoff_sleep) -> None:
    client, sends = http_replica
    regions["source"].put_item(TableName=TABLE, Item=EVERY_TYPE)
    sends.throttle_first("PutItem", 2)

    response = replicate(_event(regions)["Records"], ReplicaWriter(client, REPLICA))

    assert response == {"batchItemFailures": []}
    assert sends.sends["PutItem"] == 3 and len(no_backoff_sleep) == 2
    assert regions["replica"].get_item(TableName=REPLICA, Key=_key(EVERY_TYPE))["Item"] == EVERY_TYPE


def test_persistent_throttling_costs_the_configured_sends_then_stops_the_batch_there(
    regions, http_replica, no_backoff_sleep
) -> None:
    client, sends = http_replica
    source = regions["source"]
    items = [{"id": {"S": f"k{i}"}, "timestamp": {"N": str(i)}} for i in range(3)]
    for item in items:
        source.put_item(TableName=TABLE, Item=item)
    records = _event(regions)["Records"]
    # The first record is written; every write after it is throttled.
    sends.throttle_when(lambda op, body: op == "PutItem" and body["Item"]["id"]["S"] != "k0")

    response = replicate(records, ReplicaWriter(client, REPLICA))

    second_sequence = records[1]["dynamodb"]["SequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": second_sequence}]}
    assert sends.throttled["PutItem"] == module.REPLICA_WRITES.attempts == 4
    assert sends.sends["PutItem"] == 1 + 4  # k0 once, k1 four times, k2 never tried
    assert set(_items(regions["replica"], REPLICA)) == {("k0", "0")}


def test_a_record_without_new_image_is_reported_not_dropped(regions) -> None:
    regions["source"].put_item(TableName=TABLE, Item={"id": {"S": "x"}, "timestamp": {"N": "1"}})
    records = _event(regions)["Records"]
    del records[0]["dynamodb"]["NewImage"]  # what a KEYS_ONLY stream would deliver

    response = replicate(records, ReplicaWriter(regions["replica"], REPLICA))

    assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}
    assert _items(regions["replica"], REPLICA) == {}


def test_parse_change_names_the_problem() -> None:
    with pytest.raises(InvalidRecordError, match="NewImage; the stream view type must include new images"):
        parse_change({"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "7", "Keys": {"id": {"S": "a"}}}})
    with pytest.raises(InvalidRecordError, match="eventName 'UPSERT'"):
        parse_change({"eventName": "UPSERT", "dynamodb": {"SequenceNumber": "8"}})
    with pytest.raises(InvalidRecordError, match="no 'dynamodb' section"):
        parse_change({"eventName": "INSERT", "kinesis": {}})
    with pytest.raises(InvalidRecordError, match=r"profile.pic: binary value is not base64"):
        from_stream_value({"M": {"pic": {"B": "not base64!"}}}, "profile")
    with pytest.raises(InvalidRecordError, match="unknown DynamoDB type 'X'"):
        from_stream_value({"X": "1"}, "attr")


def test_remove_becomes_a_delete_by_key_only() -> None:
    change = parse_change(
        {
            "eventName": "REMOVE",
            "dynamodb": {
                "SequenceNumber": "9",
                "Keys": {"id": {"S": "a"}, "timestamp": {"N": "3"}},
                "OldImage": {"id": {"S": "a"}, "timestamp": {"N": "3"}, "extra": {"S": "x"}},
            },
        }
    )
    assert change.kind == "delete"
    assert change.item == {"id": {"S": "a"}, "timestamp": {"N": "3"}}
