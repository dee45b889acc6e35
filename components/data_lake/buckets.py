"""The lake's buckets (raw, processed, Athena results, optional access logs) and S3 ARN helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.data_lake.args import DataLakeArgs
from components.data_lake.storage import LakeBucket, LifecycleRule
from components.iam import Statement
from components.scope import Scope
from glue.etl.tables import RAW_PREFIX, RUN_SUMMARY_PREFIX

TEMP_PREFIX = "temp/"
SPARK_LOGS_PREFIX = "spark-logs/"
ATHENA_RESULTS_PREFIX = "athena/"


def s3_uri(bucket: pulumi.Input[str], key: str = "") -> pulumi.Output[str]:
    return pulumi.Output.concat("s3://", bucket, "/", key)


def objects(bucket_arn: pulumi.Input[str], *prefixes: str) -> list[pulumi.Output[str]]:
    """ARNs of the objects under each key prefix."""
    return [pulumi.Output.concat(bucket_arn, "/", prefix, "*") for prefix in prefixes]


def listing(bucket_arn: pulumi.Input[str], *prefixes: str) -> Statement:
    """`s3:ListBucket` limited to the given key prefixes (Spark lists both `p` and `p/...`)."""
    allowed = sorted({form for prefix in prefixes for form in (prefix.rstrip("/"), prefix, f"{prefix}*")})
    return Statement(
        actions=["s3:ListBucket"],
        resources=[bucket_arn],
        conditions={"StringLike": {"s3:prefix": allowed}},
    )


@dataclass
class LakeBuckets:
    raw: LakeBucket
    processed: LakeBucket
    results: LakeBucket
    access_logs: LakeBucket | None


def lake_buckets(scope: Scope, args: DataLakeArgs, key_arn: pulumi.Input[str]) -> LakeBuckets:
    ctx = scope.ctx
    access_logs: LakeBucket | None = None
    if args.access_logging:
        # S3 server access logging cannot deliver into an SSE-KMS bucket: the target is SSE-S3
        # (still private, TLS-only, with lifecycle), and its policy lets only the logging service write.
        access_logs = LakeBucket(
            scope.child("access-logs"),
            ctx,
            component=scope.slug,
            purpose="access-logs",
            kms_key_arn=None,
            server_access_log_target=True,
            lifecycle=[LifecycleRule("expire-access-logs", "", expiration_days=args.access_log_expiration_days)],
            noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
            opts=scope.opts(),
        )
    common: dict[str, Any] = {
        "component": scope.slug,
        "kms_key_arn": key_arn,
        "noncurrent_version_expiration_days": args.noncurrent_version_expiration_days,
        "access_log_bucket": access_logs,
        "opts": scope.opts(),
    }
    raw = LakeBucket(
        scope.child("raw"),
        ctx,
        purpose="raw",
        lifecycle=[
            LifecycleRule(
                "raw-storage-tiering",
                RAW_PREFIX,
                # Only classes Glue reads without a restore: the jobs re-read the dimension feeds.
                transitions=(
                    (args.raw_infrequent_access_days, "STANDARD_IA"),
                    (args.raw_glacier_instant_days, "GLACIER_IR"),
                ),
            )
        ],
        **common,
    )
    processed = LakeBucket(
        scope.child("processed"),
        ctx,
        purpose="processed",
        lifecycle=[
            LifecycleRule("expire-glue-temp", TEMP_PREFIX, expiration_days=args.temp_expiration_days),
            LifecycleRule("expire-spark-logs", SPARK_LOGS_PREFIX, expiration_days=args.spark_logs_expiration_days),
            LifecycleRule("expire-run-summaries", RUN_SUMMARY_PREFIX, expiration_days=args.temp_expiration_days),
        ],
        **common,
    )
    results = LakeBucket(
        scope.child("athena-results"),
        ctx,
        purpose="athena-results",
        lifecycle=[LifecycleRule("expire-query-results", "", expiration_days=args.results_expiration_days)],
        **common,
    )
    return LakeBuckets(raw=raw, processed=processed, results=results, access_logs=access_logs)
