"""Builders for Kinesis event-source records and events, shared by the tests and the benchmark."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

# A real-looking Kinesis sequence number (56 digits: past DynamoDB's 38-digit numbers on purpose).
BASE_SEQUENCE = 49590338271490256608559692538361571095921575989136588898
STREAM_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/platform-dev-featurestore-events"
T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


def at(minutes: float = 0, *, seconds: float = 0) -> str:
    """An ISO-8601 UTC timestamp `minutes`/`seconds` after T0."""
    return (T0 + timedelta(minutes=minutes, seconds=seconds)).isoformat().replace("+00:00", "Z")


ARRIVAL_LAG = timedelta(milliseconds=850)  # producer -> stream, as a healthy producer shows


def raw_record(
    data: str, *, sequence: int, shard: str = "shardId-000000000000", key: str = "k", arrival: float | None = None
) -> dict[str, Any]:
    """A Kinesis record exactly as Lambda delivers it, with `data` already base64 (or not, on purpose).

    `arrival`: approximateArrivalTimestamp (epoch seconds); by default just after T0.
    """
    sequence_number = str(BASE_SEQUENCE + sequence)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": key,
            "sequenceNumber": sequence_number,
            "data": data,
            "approximateArrivalTimestamp": (T0 + ARRIVAL_LAG).timestamp() if arrival is None else arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/platform-dev-featurestore-enrich-fn",
        "awsRegion": "eu-west-1",
        "eventSourceARN": STREAM_ARN,
    }


def arrival_of(payload: Any) -> float | None:
    """When a record carrying `payload` reaches the stream: its event time plus ARRIVAL_LAG."""
    stamp = payload.get("timestamp") if isinstance(payload, dict) else None
    try:
        moment = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment + ARRIVAL_LAG).timestamp()


def record(
    payload: Any, *, sequence: int, shard: str = "shardId-000000000000", arrival: float | None = None
) -> dict[str, Any]:
    """A Kinesis record carrying `payload` as JSON, base64-encoded as producers' data arrives; it
    reaches the stream ARRIVAL_LAG after its event time unless `arrival` says otherwise."""
    data = base64.b64encode(json.dumps(payload).encode()).decode()
    key = payload.get("userId", "k") if isinstance(payload, dict) else "k"
    return raw_record(data, sequence=sequence, shard=shard, key=str(key), arrival=arrival or arrival_of(payload))


def event(user: str, minutes: float = 0, *, seconds: float = 0, **fields: Any) -> dict[str, Any]:
    """An event `{userId, timestamp, ...}`; eventType defaults to `click` unless a metric is given."""
    body: dict[str, Any] = {"userId": user, "timestamp": at(minutes, seconds=seconds)}
    if not fields:
        fields = {"eventType": "click"}
    body.update(fields)
    return body


def sequence_number(sequence: int) -> str:
    return str(BASE_SEQUENCE + sequence)
