"""Replay parked Kinesis records into the feature table, each exactly once.

When the enrichment mapping gives up on a batch (retries exhausted, record too old), Lambda writes an
invocation record to the S3 on-failure destination, under `aws/lambda/<mapping-uuid>/<shardId>/
YYYY/MM/DD/...`. For S3 destinations (unlike SQS/SNS ones, which hold only shard/sequence pointers
into a stream that keeps data 24 h in dev) it carries the whole invocation as `payload`:

    {"requestContext": {"requestId", "functionArn", "condition": "RetryAttemptsExhausted", ...},
     "responseContext": {"statusCode", "executedVersion", "functionError"},
     "version": "1.0", "timestamp": "...",
     "KinesisBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
                          "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord",
                          "batchSize", "streamArn"},
     "payload": {"Records": [<the Kinesis event records, exactly as the function received them>]}}

Replay decodes those records and merges them with the same pure functions as the stream handler
(features.decode_record, features.merge_events), in replay mode: the shard watermark has usually
moved past them, so a record at or below it is applied unless the item's applied log shows it was
applied already (a parked batch also holds records that had succeeded). Running a replay twice, or on
overlapping objects, applies nothing twice. Records it cannot settle are reported and counted, never
dropped: still malformed (fix the producer), unverifiable (older than the applied log reaches), or
failed to write (run again).

    python -m handlers.feature_store.replay --table TABLE --bucket BUCKET [--prefix aws/lambda/<uuid>/]
    python -m handlers.feature_store.replay --table TABLE --file parked.json [--file ...]

Exit status 0 when every record is applied or was already; 1 otherwise. Prints a JSON summary and
one CloudWatch EMF line (Platform/FeatureStore: RecordsReplayed, ReplayAlreadyApplied,
ReplayUnverifiable, ReplayMalformed, ReplayFailed).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from handlers.common import aws
from handlers.common.log import get_logger
from handlers.common.metrics import put_metrics
from handlers.feature_store.enrich import METRICS_NAMESPACE, feature_write_policy, future_skew_from_env
from handlers.feature_store.features import (
    DEFAULT_FUTURE_SKEW,
    FeatureEvent,
    MalformedRecordError,
    decode_record,
    group_by_user,
)
from handlers.feature_store.store import FeatureTable

LOGGER = get_logger("feature_store.replay")
S3_READS = aws.CallPolicy(attempts=4, connect_timeout=3.0, read_timeout=30.0)
DEFAULT_TTL_DAYS = 30


class ParkedRecordError(ValueError):
    """An object that is not a Kinesis on-failure record with its payload; the message says why."""


@dataclass(frozen=True)
class ParkedBatch:
    """One on-failure record: where it came from and the Kinesis records it parked."""

    source: str
    condition: str
    shard_id: str
    stream_arn: str
    records: tuple[Mapping[str, Any], ...]


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)
    unverifiable: list[str] = field(default_factory=list)
    malformed: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        return not (self.unverifiable or self.malformed or self.failed)

    def counts(self) -> dict[str, int]:
        return {
            "RecordsReplayed": len(self.replayed),
            "ReplayAlreadyApplied": len(self.already_applied),
            "ReplayUnverifiable": len(self.unverifiable),
            "ReplayMalformed": len(self.malformed),
            "ReplayFailed": len(self.failed),
        }


def _require(document: Mapping[str, Any], key: str, kind: type, source: str) -> Any:
    value = document.get(key)
    if not isinstance(value, kind):
        raise ParkedRecordError(f"{source}: {key} must be a JSON {kind.__name__}, got {type(value).__name__}")
    return value


def parse_parked(document: Any, source: str) -> ParkedBatch:
    """An S3 on-failure record of a Kinesis event source mapping (shape in the module docstring)."""
    if not isinstance(document, dict):
        raise ParkedRecordError(f"{source}: an on-failure record is a JSON object, got {type(document).__name__}")
    info = _require(document, "KinesisBatchInfo", dict, source)
    context = _require(document, "requestContext", dict, source)
    if "payload" not in document:
        raise ParkedRecordError(
            f"{source}: no payload; only S3 on-failure destinations carry the records (SQS and SNS ones "
            "hold pointers to the stream: read them from the stream before it trims them)"
        )
    payload = document["payload"]
    if isinstance(payload, str):  # tolerate a payload serialised as a JSON string
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as error:
            raise ParkedRecordError(f"{source}: payload is text but not JSON ({error.msg})") from None
    if not isinstance(payload, dict):
        raise ParkedRecordError(f"{source}: payload must be the invocation event object")
    records = _require(payload, "Records", list, f"{source} payload")
    shard_id = _require(info, "shardId", str, f"{source} KinesisBatchInfo")
    for position, record in enumerate(records):
        event_id = str(record.get("eventID", "")) if isinstance(record, dict) else ""
        if not event_id.startswith(f"{shard_id}:"):
            raise ParkedRecordError(f"{source}: payload record {position} is not a Kinesis record of {shard_id}")
    return ParkedBatch(
        source=source,
        condition=str(context.get("condition", "")),
        shard_id=shard_id,
        stream_arn=str(info.get("streamArn", "")),
        records=tuple(records),
    )


def _record_id(record: Mapping[str, Any]) -> str:
    return str(record.get("eventID") or (record.get("kinesis") or {}).get("sequenceNumber", "?"))


def replay_records(
    records: Sequence[Mapping[str, Any]],
    table: FeatureTable,
    *,
    future_skew: timedelta = DEFAULT_FUTURE_SKEW,
    logger: logging.Logger = LOGGER,
    report: ReplayReport | None = None,
) -> ReplayReport:
    """Re-apply parked records through the stream's own decode and merge, each at most once."""
    report = ReplayReport() if report is None else report
    events: list[FeatureEvent] = []
    for record in records:
        try:
            events.append(decode_record(record, future_skew=future_skew))
        except MalformedRecordError as error:
            report.malformed[_record_id(record)] = str(error)
    for user_id, user_events in group_by_user(events).items():
        ids = [f"{e.shard_id}:{e.sequence_number}" for e in user_events]
        try:
            merge = table.apply(user_id, user_events, replay=True)
        except Exception as error:  # reported with every record id; a rerun retries them
            report.failed.update(dict.fromkeys(ids, f"{type(error).__name__}: {error}"))
            continue
        report.replayed += [f"{e.shard_id}:{e.sequence_number}" for e in merge.applied]
        report.already_applied += [f"{e.shard_id}:{e.sequence_number}" for e in merge.skipped]
        report.unverifiable += [f"{e.shard_id}:{e.sequence_number}" for e in merge.unverifiable]
    for record_id in report.unverifiable:
        logger.error(
            "parked record older than the applied log: not replayed, it may have been applied",
            extra={"eventID": record_id},
        )
    for record_id, reason in {**report.malformed, **report.failed}.items():
        logger.error("parked record not replayed", extra={"eventID": record_id, "reason": reason})
    return report


def replay_batches(
    batches: Iterable[ParkedBatch], table: FeatureTable, *, future_skew: timedelta = DEFAULT_FUTURE_SKEW
) -> ReplayReport:
    report = ReplayReport()
    for batch in batches:
        LOGGER.info(
            "replaying parked batch",
            extra={"source": batch.source, "condition": batch.condition, "records": len(batch.records)},
        )
        replay_records(batch.records, table, future_skew=future_skew, report=report)
    return report


def s3_batches(s3: Any, bucket: str, prefix: str) -> Iterator[ParkedBatch]:
    """Every on-failure record under `prefix`, oldest key first (keys carry the date)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
            source = f"s3://{bucket}/{entry['Key']}"
            try:
                document = json.loads(body)
            except json.JSONDecodeError as error:
                raise ParkedRecordError(f"{source}: not JSON ({error.msg})") from None
            yield parse_parked(document, source)


def file_batches(paths: Sequence[str]) -> Iterator[ParkedBatch]:
    for path in paths:
        try:
            document = json.loads(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise ParkedRecordError(f"{path}: not JSON ({error.msg})") from None
        yield parse_parked(document, path)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    import os

    environment = os.environ if env is None else env
    parser = argparse.ArgumentParser(prog="python -m handlers.feature_store.replay", description=__doc__.split("\n")[0])
    parser.add_argument("--table", required=True, help="the feature table (the component's tableName output)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bucket", help="the S3 on-failure destination bucket")
    source.add_argument("--file", action="append", help="a downloaded on-failure record (repeatable)")
    parser.add_argument("--prefix", default="aws/lambda/", help="key prefix, e.g. aws/lambda/<mapping-uuid>/")
    parser.add_argument("--ttl-days", type=int, default=int(environment.get("FEATURE_TTL_DAYS", DEFAULT_TTL_DAYS)))
    args = parser.parse_args(argv)
    table = FeatureTable(
        client=aws.client("dynamodb", feature_write_policy(1)),
        table_name=args.table,
        ttl_seconds=args.ttl_days * 86_400,
    )
    try:
        batches = (
            s3_batches(aws.client("s3", S3_READS), args.bucket, args.prefix) if args.bucket else file_batches(args.file)
        )
        report = replay_batches(batches, table, future_skew=future_skew_from_env(environment))
    except ParkedRecordError as error:
        print(f"replay: {error}", file=sys.stderr)
        return 2
    put_metrics(report.counts(), namespace=METRICS_NAMESPACE, dimensions={"Table": args.table})
    print(
        json.dumps(
            {
                **report.counts(),
                "unverifiable": report.unverifiable,
                "malformed": report.malformed,
                "failed": report.failed,
            },
            indent=2,
        )
    )
    return 0 if report.settled else 1


if __name__ == "__main__":
    raise SystemExit(main())
