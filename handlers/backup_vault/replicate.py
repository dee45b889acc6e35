"""DynamoDB Streams -> replica table in the DR region, keeping every attribute type exactly.

Stream images are already DynamoDB-typed (`{"N": "1.50"}`, `{"M": {...}}`), so they are written as
they are with the low-level client instead of being flattened (the article turned numbers into
strings and broke maps). The only conversion is binary: Lambda delivers `B`/`BS` base64-encoded in
the JSON event, and the raw bytes must be written back, not their base64 text.

INSERT/MODIFY put the full new image, REMOVE deletes by key: both are idempotent, so a redelivered
batch converges on the source table's state. Records are applied in stream order; the first record
that cannot be applied is reported (Lambda resumes from it) and the rest of the batch is left for
that retry, so a later change to an item is never overwritten by an earlier one.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from handlers.common import aws
from handlers.common.batch import BatchResponse, batch_response, record_id
from handlers.common.log import get_logger

LOG = get_logger("backup_vault.replicate")
# Cross-region writes: a throttled write costs at most 4 sends (botocore's standard backoff between
# them); a record still failing is reported and Lambda retries the batch from it.
REPLICA_WRITES = aws.CallPolicy(attempts=4, connect_timeout=3.0, read_timeout=10.0)

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

SCALAR_TYPES = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS"})


class InvalidRecordError(ValueError):
    """A stream record that cannot be replicated as delivered."""


@dataclass(frozen=True)
class Change:
    """One replicated change: a full item to put, or the key of an item to delete."""

    kind: Literal["put", "delete"]
    item: Item
    sequence_number: str


def _decode_binary(encoded: Any, where: str) -> bytes:
    if isinstance(encoded, (bytes, bytearray)):
        return bytes(encoded)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, TypeError) as error:
        raise InvalidRecordError(f"{where}: binary value is not base64 ({error})") from None


def from_stream_value(value: Mapping[str, Any], where: str) -> AttributeValue:
    """One attribute value from the Lambda event, as the DynamoDB API expects it."""
    if len(value) != 1:
        raise InvalidRecordError(f"{where}: expected exactly one type key, got {sorted(value)}")
    ((type_key, payload),) = value.items()
    if type_key in SCALAR_TYPES:
        return {type_key: payload}
    if type_key == "B":
        return {"B": _decode_binary(payload, where)}
    if type_key == "BS":
        return {"BS": [_decode_binary(v, f"{where}[{i}]") for i, v in enumerate(payload)]}
    if type_key == "M":
        return {"M": from_stream_image(payload, where)}
    if type_key == "L":
        return {"L": [from_stream_value(v, f"{where}[{i}]") for i, v in enumerate(payload)]}
    raise InvalidRecordError(f"{where}: unknown DynamoDB type {type_key!r}")


def from_stream_image(image: Mapping[str, Mapping[str, Any]], where: str = "") -> Item:
    """A whole image (NewImage, Keys) from the Lambda event, types preserved."""
    return {name: from_stream_value(value, f"{where}.{name}" if where else name) for name, value in image.items()}


def parse_change(record: Mapping[str, Any]) -> Change:
    """The change a stream record asks for; raises InvalidRecordError naming what is missing."""
    event_name = record.get("eventName")
    stream = record.get("dynamodb")
    if not isinstance(stream, Mapping):
        raise InvalidRecordError("record has no 'dynamodb' section; is this a DynamoDB Streams event?")
    sequence = str(stream.get("SequenceNumber", ""))
    if event_name in ("INSERT", "MODIFY"):
        image = stream.get("NewImage")
        if not image:
            raise InvalidRecordError(
                f"{event_name} record {sequence} has no NewImage; the stream view type must include new images"
            )
        return Change("put", from_stream_image(image), sequence)
    if event_name == "REMOVE":
        keys = stream.get("Keys")
        if not keys:
            raise InvalidRecordError(f"REMOVE record {sequence} has no Keys")
        return Change("delete", from_stream_image(keys), sequence)
    raise InvalidRecordError(f"record {sequence} has eventName {event_name!r}; expected INSERT, MODIFY or REMOVE")


@dataclass(frozen=True)
class ReplicaWriter:
    """Applies changes to the replica table (its client retries throttled writes, see REPLICA_WRITES)."""

    client: Any
    table_name: str

    def apply(self, change: Change) -> None:
        if change.kind == "put":
            self.client.put_item(TableName=self.table_name, Item=change.item)
        else:
            self.client.delete_item(TableName=self.table_name, Key=change.item)


def replicate(records: Iterable[Mapping[str, Any]], writer: ReplicaWriter) -> BatchResponse:
    """Apply records in order; report the first one that fails so Lambda retries from there."""
    applied = 0
    for record in records:
        identifier = record_id(dict(record))
        try:
            writer.apply(parse_change(record))
        except Exception as error:  # every failure is reported, never swallowed
            LOG.error(
                "replication failed; the batch resumes from this record",
                extra={
                    "sequenceNumber": identifier,
                    "error": str(error),
                    "errorType": type(error).__name__,
                    "applied": applied,
                },
            )
            return batch_response([identifier])
        applied += 1
    LOG.info("replicated batch", extra={"applied": applied, "table": writer.table_name})
    return batch_response([])


@cache
def _writer() -> ReplicaWriter:
    client = aws.client("dynamodb", REPLICA_WRITES, region=os.environ["REPLICA_REGION"])
    return ReplicaWriter(client, os.environ["REPLICA_TABLE_NAME"])


def handler(event: Mapping[str, Any], context: Any) -> BatchResponse:
    return replicate(event.get("Records", []), _writer())
