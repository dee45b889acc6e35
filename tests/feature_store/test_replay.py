"""Parked records: from the S3 on-failure destination back into the table, each exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from handlers.common import aws as aws_clients
from handlers.feature_store import replay
from handlers.feature_store.enrich import process_batch
from handlers.feature_store.features import (
    UserFeatures,
    decode_record,
    item_attributes,
    merge_events,
    state_from_item,
)
from tests.feature_store.conftest import features, new_table
from tests.feature_store.streams import STREAM_ARN, event, record, sequence_number
from tests.http_sends import SendCounter

BUCKET = "platform-test-featurestore-parked"
MAPPING_UUID = "a1b2c3d4-5678-4abc-9def-0123456789ab"
SHARD = "shardId-000000000000"


def on_failure_record(records: list[dict[str, Any]], *, condition: str = "RetryAttemptsExhausted") -> dict[str, Any]:
    """What Lambda writes to an S3 on-failure destination for a Kinesis mapping (Lambda developer
    guide; shape as AWS returns it): the metadata SQS/SNS get too, plus the whole invocation payload."""
    return {
        "requestContext": {
            "requestId": "316aa6d0-8154-4e5b-9af7-85d5f4a6bc81",
            "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:platform-test-featurestore-enrich",
            "condition": condition,
            "approximateInvokeCount": 4,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None},
        "version": "1.0",
        "timestamp": "2026-11-23T10:05:12.118Z",
        "KinesisBatchInfo": {
            "shardId": SHARD,
            "startSequenceNumber": records[0]["kinesis"]["sequenceNumber"],
            "endSequenceNumber": records[-1]["kinesis"]["sequenceNumber"],
            "approximateArrivalOfFirstRecord": "2026-11-23T10:00:00.850Z",
            "approximateArrivalOfLastRecord": "2026-11-23T10:01:00.850Z",
            "batchSize": len(records),
            "streamArn": STREAM_ARN,
        },
        "payload": {"Records": records},
    }


def summary_of(out: str) -> dict[str, Any]:
    """The JSON summary the command prints last (after its EMF line and any log lines)."""
    return json.loads(out[out.rindex('{\n  "RecordsReplayed"') :])


def park(client_s3: Any, document: dict[str, Any], stamp: str) -> str:
    key = f"aws/lambda/{MAPPING_UUID}/{SHARD}/2026/11/23/2026-11-23T{stamp}-{MAPPING_UUID[:8]}"
    client_s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())
    return key


@pytest.fixture
def parked_bucket(http_dynamodb: tuple[Any, SendCounter]) -> Any:
    s3 = aws_clients.client("s3", replay.S3_READS)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return s3


def test_replay_applies_a_parked_record_behind_the_watermark_exactly_once(
    http_dynamodb: tuple[Any, SendCounter], parked_bucket: Any, no_backoff_sleep: list[float], capsys
) -> None:
    client, sends = http_dynamodb
    table = new_table(client)
    batch = [
        record(event("u1", 0, eventType="view"), sequence=1),
        record(event("u2", 0, eventType="view"), sequence=2),
    ]
    # u1's write stays throttled through every retry: Lambda parks the batch (u2's record included:
    # it had succeeded) in the S3 on-failure destination and moves on.
    sends.throttle_when(lambda op, body: op == "UpdateItem" and body["Key"]["userId"]["S"] == "u1")
    assert process_batch(batch, table) == {"batchItemFailures": [{"itemIdentifier": sequence_number(1)}]}
    park(parked_bucket, on_failure_record(batch), "10.05.12")
    sends.throttle_when(lambda _op, _body: False)
    # The stream goes on: u1's watermark moves past the parked record.
    assert process_batch([record(event("u1", 1, eventType="buy"), sequence=3)], table) == {"batchItemFailures": []}
    assert features(client, "u1")["totalCount"] == 1
    capsys.readouterr()

    assert replay.main(["--table", table.table_name, "--bucket", BUCKET], env={}) == 0
    summary = summary_of(capsys.readouterr().out)
    assert summary["RecordsReplayed"] == 1 and summary["ReplayAlreadyApplied"] == 1  # u1's; u2's was applied
    assert features(client, "u1")["totalCount"] == 2
    assert features(client, "u1")["lastEventType"] == "buy"  # the replayed event is older: counts, moves nothing
    assert features(client, "u2")["totalCount"] == 1

    # Replaying again (or an overlapping object) changes nothing: each record counts once.
    assert replay.main(["--table", table.table_name, "--bucket", BUCKET], env={}) == 0
    summary = summary_of(capsys.readouterr().out)
    assert summary["RecordsReplayed"] == 0 and summary["ReplayAlreadyApplied"] == 2
    assert features(client, "u1")["totalCount"] == 2 and features(client, "u2")["totalCount"] == 1
    # The stream redelivering the later record changes nothing either.
    process_batch([record(event("u1", 1, eventType="buy"), sequence=3)], new_table(client))
    assert features(client, "u1")["totalCount"] == 2


def test_replay_reports_records_that_are_still_malformed(
    http_dynamodb: tuple[Any, SendCounter], parked_bucket: Any, capsys
) -> None:
    client, _ = http_dynamodb
    future = record({"userId": "u1", "eventType": "bot", "timestamp": "9999-01-01T00:00:00Z"}, sequence=7)
    future["kinesis"]["approximateArrivalTimestamp"] = datetime(2026, 11, 23, 10, tzinfo=UTC).timestamp()
    park(parked_bucket, on_failure_record([future, record(event("u1", 0), sequence=8)]), "10.06.00")
    assert replay.main(["--table", "platform-test-featurestore-features", "--bucket", BUCKET], env={}) == 1
    summary = summary_of(capsys.readouterr().out)
    assert summary["ReplayMalformed"] == 1 and summary["RecordsReplayed"] == 1
    assert "after the record reached the stream" in summary["malformed"][f"{SHARD}:{sequence_number(7)}"]
    assert features(client, "u1")["totalCount"] == 1


def test_replay_never_guesses_about_records_older_than_the_applied_log() -> None:
    events = [decode_record(record(event("u1", i / 10), sequence=i)) for i in range(1, 5)]
    state = merge_events(UserFeatures("u1"), events[1:], log_size=2).state  # applies 2, 3, 4; log keeps 3, 4
    assert state is not None and state.verified_from == {SHARD: int(sequence_number(2))}
    replayed = merge_events(state, [events[0], events[1], events[3]], replay=True, log_size=2)
    # 1 and 2 are at or below verifiedFrom (the log lost 2): unverifiable, whatever happened to them.
    assert [e.sequence for e in replayed.unverifiable] == [events[0].sequence, events[1].sequence]
    assert [e.sequence for e in replayed.skipped] == [events[3].sequence]
    assert replayed.state is None


def test_items_written_before_the_applied_log_existed_replay_nothing_they_cannot_verify() -> None:
    legacy = {
        "features": {"totalCount": 1, "lastEventTime": "2026-11-23T10:00:00.000Z"},
        "state": {"version": 1, "shardSequences": {SHARD: sequence_number(5)}},
    }
    state = state_from_item("u1", legacy)
    parked = decode_record(record(event("u1", 0), sequence=3))
    assert merge_events(state, [parked], replay=True).unverifiable == (parked,)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "an on-failure record is a JSON object, got list"),
        ({"requestContext": {}, "version": "1.0"}, "KinesisBatchInfo must be a JSON dict"),
        (
            {"requestContext": {}, "KinesisBatchInfo": {"shardId": SHARD}},
            "no payload; only S3 on-failure destinations carry the records",
        ),
        ({"requestContext": {}, "KinesisBatchInfo": {"shardId": SHARD}, "payload": {}}, "Records must be a JSON list"),
        (
            {
                "requestContext": {},
                "KinesisBatchInfo": {"shardId": SHARD},
                "payload": {"Records": [{"eventID": "x:1"}]},
            },
            "payload record 0 is not a Kinesis record of shardId-000000000000",
        ),
    ],
)
def test_objects_that_are_not_s3_on_failure_records_are_refused_with_the_reason(document: Any, message: str) -> None:
    with pytest.raises(replay.ParkedRecordError, match=message):
        replay.parse_parked(document, "s3://b/k")


def test_a_payload_serialised_as_text_is_read_too() -> None:
    document = on_failure_record([record(event("u1", 0), sequence=1)])
    document["payload"] = json.dumps(document["payload"])
    parked = replay.parse_parked(document, "f.json")
    assert parked.shard_id == SHARD and len(parked.records) == 1 and parked.condition == "RetryAttemptsExhausted"


def test_the_applied_log_round_trips_through_the_item_and_forgets_what_it_cannot_pack() -> None:
    near = [decode_record(record(event("u1", i / 10), sequence=i)) for i in (1, 2)]
    state = merge_events(UserFeatures("u1"), near).state
    assert state is not None and state.applied_log == {SHARD: (near[0].sequence, near[1].sequence)}
    item = {"userId": "u1", **item_attributes(state, expires_at=1)}
    assert len(item["state"]["appliedLog"][SHARD]) == 32 and item["state"]["verifiedFrom"] == {}
    assert state_from_item("u1", item) == state
    # A record 2**128 sequence numbers later: the old entries no longer fit 16 bytes and are forgotten.
    far = decode_record(record(event("u1", 1), sequence=2**128 + 5))
    later = merge_events(state, [far]).state
    assert later is not None and later.applied_log == {SHARD: (far.sequence,)}
    assert later.verified_from == {SHARD: near[1].sequence}
    assert state_from_item("u1", {"userId": "u1", **item_attributes(later, expires_at=1)}) == later
