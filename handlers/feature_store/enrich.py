"""Kinesis -> feature table. Entry point of the enrichment function (`handler`).

Per batch: decode every record (a malformed one is logged with its sequence number and reported, the
rest still apply), group the events per user, and write each user once, atomically and idempotently
(see store.py). A user whose write fails (throttled past its retries, or any other error) has all of
its records reported in `batchItemFailures`: Lambda retries them, then sends them to the on-failure
queue. Nothing is dropped silently.

Records at or below their shard's watermark in the user's item were applied before (a redelivery);
they are skipped, logged with their sequence numbers and counted (metric below), never silently.
Every batch prints one CloudWatch EMF line (namespace Platform/FeatureStore, dimension FunctionName):
MalformedRecords, RecordsSkippedBehindWatermark, RecordsFailed, RecordsApplied.

Environment: TABLE_NAME, FEATURE_TTL_DAYS, WRITE_CONCURRENCY, PARALLELIZATION_FACTOR (set by the
component); FUTURE_SKEW_SECONDS (default 300): how far after its arrival in the stream an event may
be stamped before it is refused as malformed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any

from handlers.common import aws
from handlers.common.batch import BatchResponse, batch_response
from handlers.common.log import get_logger
from handlers.common.metrics import put_metrics
from handlers.feature_store.features import (
    DEFAULT_FUTURE_SKEW,
    FeatureEvent,
    MalformedRecordError,
    decode_record,
    group_by_user,
)
from handlers.feature_store.store import FeatureTable

LOGGER = get_logger("feature_store.enrich")
METRICS_NAMESPACE = "Platform/FeatureStore"


def feature_write_policy(writers: int) -> aws.CallPolicy:
    """The enrichment function's DynamoDB calls: a throttled write costs at most 3 sends.

    One HTTP connection per writer thread: botocore's default pool (10) would make the others wait
    and churn connections ("Connection pool is full") whenever WRITE_CONCURRENCY is above it.
    """
    return aws.CallPolicy(attempts=3, connect_timeout=1.0, read_timeout=3.0, pool_size=max(writers, 1))


# A user's write starts only while the invocation has this much time left (one write's worst case,
# 3 x 4 s + 3 s of backoff, plus a second): otherwise its records are reported for Lambda to retry,
# instead of the function timing out and the whole batch being retried (and bisected).
WRITE_RESERVE_SECONDS = feature_write_policy(1).worst_case_seconds() + 1.0


def decode_batch(
    records: Sequence[Mapping[str, Any]],
    logger: logging.Logger,
    request_id: str | None = None,
    *,
    user_partition_key: bool = False,
    future_skew: timedelta = DEFAULT_FUTURE_SKEW,
) -> tuple[list[FeatureEvent], list[str]]:
    """The valid events, and the sequence numbers of records that can never be applied."""
    events: list[FeatureEvent] = []
    malformed: list[str] = []
    for record in records:
        try:
            events.append(decode_record(record, user_partition_key=user_partition_key, future_skew=future_skew))
        except MalformedRecordError as error:
            sequence_number = str((record.get("kinesis") or {}).get("sequenceNumber", ""))
            if not sequence_number:
                # Unreportable: fail the invocation so Lambda bisects, retries and parks the batch.
                raise ValueError(f"record without kinesis.sequenceNumber: {error}") from error
            logger.error(
                "malformed record",
                extra={
                    "requestId": request_id,
                    "sequenceNumber": sequence_number,
                    "eventID": record.get("eventID"),
                    "reason": str(error),
                },
            )
            malformed.append(sequence_number)
    return events, malformed


@dataclass
class UserOutcome:
    failed: list[str] = field(default_factory=list)
    applied: int = 0
    skipped: list[str] = field(default_factory=list)


def _write_user(
    table: FeatureTable,
    user_id: str,
    events: list[FeatureEvent],
    logger: logging.Logger,
    request_id: str | None,
    time_left: Callable[[], float] | None = None,
) -> UserOutcome:
    """Write one user's events: how many were applied, skipped behind the watermark, or failed."""
    if time_left is not None and (left := time_left()) < WRITE_RESERVE_SECONDS:
        logger.error(
            "feature write not attempted: too little time left in the invocation",
            extra={
                "requestId": request_id,
                "userId": user_id,
                "secondsLeft": round(left, 3),
                "sequenceNumbers": [e.sequence_number for e in events],
            },
        )
        return UserOutcome(failed=[e.sequence_number for e in events])
    try:
        merge = table.apply(user_id, events)
    except Exception as error:
        # Any failure (throttled past retries, conflicts, access) must come back as a retry, never a drop.
        logger.error(
            "feature write failed",
            extra={
                "requestId": request_id,
                "userId": user_id,
                "error": f"{type(error).__name__}: {error}",
                "sequenceNumbers": [e.sequence_number for e in events],
            },
        )
        return UserOutcome(failed=[e.sequence_number for e in events])
    return UserOutcome(applied=len(merge.applied), skipped=[e.sequence_number for e in merge.skipped])


def process_batch(
    records: Sequence[Mapping[str, Any]],
    table: FeatureTable,
    *,
    logger: logging.Logger = LOGGER,
    executor: ThreadPoolExecutor | None = None,
    request_id: str | None = None,
    user_partition_key: bool = False,
    future_skew: timedelta = DEFAULT_FUTURE_SKEW,
    time_left: Callable[[], float] | None = None,
) -> BatchResponse:
    """Apply a Kinesis batch and report exactly the records that did not make it.

    `user_partition_key`: refuse records not keyed by their userId (see features.decode_record).
    `time_left`: seconds left in the invocation; writes that might not finish in time are not started.
    """
    events, malformed = decode_batch(
        records, logger, request_id, user_partition_key=user_partition_key, future_skew=future_skew
    )
    by_user = group_by_user(events)
    try:
        table.prefetch(by_user)
    except Exception as error:
        # The read only warms the version cache; the conditional writes are correct without it.
        logger.warning("prefetch failed; writing optimistically", extra={"requestId": request_id, "error": str(error)})
    jobs = list(by_user.items())
    if executor is None or len(jobs) < 2:
        outcomes = [_write_user(table, user, user_events, logger, request_id, time_left) for user, user_events in jobs]
    else:
        outcomes = list(executor.map(lambda job: _write_user(table, *job, logger, request_id, time_left), jobs))
    write_failed = [seq for outcome in outcomes for seq in outcome.failed]
    skipped = [seq for outcome in outcomes for seq in outcome.skipped]
    if skipped:
        logger.warning(
            "records skipped behind the shard watermark (already applied)",
            extra={"requestId": request_id, "skipped": len(skipped), "sequenceNumbers": skipped},
        )
    applied = sum(outcome.applied for outcome in outcomes)
    put_metrics(
        {
            "MalformedRecords": len(malformed),
            "RecordsSkippedBehindWatermark": len(skipped),
            "RecordsFailed": len(write_failed),
            "RecordsApplied": applied,
        },
        namespace=METRICS_NAMESPACE,
        properties={"requestId": request_id},
    )
    logger.info(
        "batch applied",
        extra={
            "requestId": request_id,
            "records": len(records),
            "users": len(by_user),
            "applied": applied,
            "skipped": len(skipped),
            "failed": len(malformed) + len(write_failed),
        },
    )
    return batch_response([*malformed, *write_failed])


@cache
def _container() -> tuple[FeatureTable, ThreadPoolExecutor]:
    """Client, table and writer pool, created once per container from the component's settings."""
    writers = int(os.environ.get("WRITE_CONCURRENCY", "8"))
    table = FeatureTable(
        client=aws.client("dynamodb", feature_write_policy(writers)),
        table_name=os.environ["TABLE_NAME"],
        ttl_seconds=int(os.environ.get("FEATURE_TTL_DAYS", "30")) * 86_400,
    )
    return table, ThreadPoolExecutor(max_workers=writers)


def handler(event: Mapping[str, Any], context: Any) -> BatchResponse:
    table, executor = _container()
    request_id = getattr(context, "aws_request_id", None)
    # Concurrent batches per shard keep the order per partition key only: a user's records need one.
    user_partition_key = int(os.environ.get("PARALLELIZATION_FACTOR", "1")) > 1
    return process_batch(
        event.get("Records", []),
        table,
        executor=executor,
        request_id=request_id,
        user_partition_key=user_partition_key,
        future_skew=future_skew_from_env(os.environ),
        time_left=_time_left(context),
    )


def _time_left(context: Any) -> Callable[[], float] | None:
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining_ms is None else lambda: remaining_ms() / 1000


def future_skew_from_env(env: Mapping[str, str]) -> timedelta:
    """FUTURE_SKEW_SECONDS (default 300): a whole number of seconds, at least 0."""
    text = env.get("FUTURE_SKEW_SECONDS", "")
    if not text:
        return DEFAULT_FUTURE_SKEW
    if not text.isdigit():
        raise ValueError(f"FUTURE_SKEW_SECONDS must be a whole number of seconds, got {text!r}")
    return timedelta(seconds=int(text))
