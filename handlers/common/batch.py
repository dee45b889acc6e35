"""Partial batch responses for Kinesis, DynamoDB Streams and SQS event source mappings.

Lambda retries only the items we report (and, for streams, everything after the first reported
sequence number), so a poison record never blocks or drops the rest of its batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict


class ItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


def batch_response(failed_ids: Iterable[str]) -> BatchResponse:
    """The `ReportBatchItemFailures` response; ids de-duplicated, order kept."""
    seen: dict[str, None] = dict.fromkeys(i for i in failed_ids if i)
    return {"batchItemFailures": [{"itemIdentifier": i} for i in seen]}


def record_id(record: dict[str, Any]) -> str:
    """The identifier Lambda expects back for one record of any supported source."""
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    if "dynamodb" in record:
        return record["dynamodb"]["SequenceNumber"]
    if "messageId" in record:
        return record["messageId"]
    raise ValueError("record is neither Kinesis, DynamoDB Streams nor SQS")
