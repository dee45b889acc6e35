"""The platform's events in the lake: EventBridge -> Kinesis Data Firehose -> `raw/events/` (plain data).

Firehose dynamic partitioning evaluates `PARTITION_QUERY` (JQ) on each event and renders
`EVENTS_PREFIX` with the keys it extracted, so objects land in Hive-style folders
`raw/events/event_source=<source>/event_date=<yyyy-MM-dd>/` that the events crawler turns into the
`raw_events` table partitioned by source and event date (the event's own time, not its arrival).
Records Firehose cannot partition or deliver go under `EVENTS_ERROR_PREFIX`, outside the crawled tree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import Statement, policy_document, service_trust_policy
from components.scope import Scope
from glue.etl.tables import RAW_PREFIX, RAW_TABLE_PREFIX

EVENTS_NAME = "events"
EVENTS_ROOT = f"{RAW_PREFIX}{EVENTS_NAME}/"
EVENTS_TABLE = f"{RAW_TABLE_PREFIX}{EVENTS_NAME}"
# Not `source`/`date`: a partition key named like a column of the event makes the crawled table
# unreadable (duplicate column), and `date` is a reserved word in Athena.
PARTITION_KEYS = ("event_source", "event_date")
PARTITION_QUERY = "{event_source: .source, event_date: .time[0:10]}"
EVENTS_PREFIX = (
    f"{EVENTS_ROOT}event_source=!{{partitionKeyFromQuery:event_source}}"
    "/event_date=!{partitionKeyFromQuery:event_date}/"
)
EVENTS_ERRORS_ROOT = f"{RAW_PREFIX}events-errors/"
EVENTS_ERROR_PREFIX = f"{EVENTS_ERRORS_ROOT}!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/"
# Dynamic partitioning needs buffers of at least 64 MiB; an hour at most keeps partitions timely.
BUFFER_MIB = 64
BUFFER_SECONDS = 900
# The platform's business events: everything the OrderWorkflow bus carries from its own sources.
EVENT_SOURCES_PATTERN: dict[str, Any] = {"source": [{"prefix": "ecommerce."}]}
# One event per line, so the crawler's JSON classifier and Athena read one row per event.
RECORD_DELIMITER = "\\n"

_PARTITION_KEY = re.compile(r"!\{partitionKeyFromQuery:([A-Za-z_]+)\}")


def render_prefix(template: str, keys: Mapping[str, str]) -> str:
    """The S3 prefix Firehose writes an event to, given the keys the JQ query extracted from it."""
    missing = sorted(set(_PARTITION_KEY.findall(template)) - set(keys))
    if missing:
        raise ValueError(f"partition keys {missing} not extracted; the query yields {sorted(keys)}")
    return _PARTITION_KEY.sub(lambda match: str(keys[match.group(1)]), template)


# -- resources ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventBusRef:
    """The bus whose events the lake receives (the OrderWorkflow bus)."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str]


@dataclass
class EventsDelivery:
    stream: aws.kinesis.FirehoseDeliveryStream
    rule: aws.cloudwatch.EventRule
    crawler: aws.glue.Crawler
    crawler_name: str


def _objects(bucket_arn: pulumi.Input[str], prefix: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(bucket_arn, "/", prefix, "*")


def delivery_statements(raw_bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str], region: str) -> list[Statement]:
    """What Firehose may do: write under raw/events/ and raw/events-errors/ only, with the lake key through S3."""
    return [
        Statement(
            sid="WriteEvents",
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[_objects(raw_bucket_arn, EVENTS_ROOT), _objects(raw_bucket_arn, EVENTS_ERRORS_ROOT)],
        ),
        Statement(
            sid="RawBucket",
            actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            resources=[raw_bucket_arn],
        ),
        Statement(
            sid="EncryptEvents",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        ),
    ]


def delivery_stream_destination(
    role_arn: pulumi.Input[str], raw_bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str]
) -> dict[str, Any]:
    """Extended S3 destination: dynamic partitioning by source and event date, GZIP, one event per line."""
    return {
        "role_arn": role_arn,
        "bucket_arn": raw_bucket_arn,
        "prefix": EVENTS_PREFIX,
        "error_output_prefix": EVENTS_ERROR_PREFIX,
        "buffering_size": BUFFER_MIB,
        "buffering_interval": BUFFER_SECONDS,
        "compression_format": "GZIP",
        "kms_key_arn": key_arn,
        "dynamic_partitioning_configuration": {"enabled": True, "retry_duration": 300},
        "processing_configuration": {
            "enabled": True,
            "processors": [
                {
                    "type": "MetadataExtraction",
                    "parameters": [
                        {"parameter_name": "MetadataExtractionQuery", "parameter_value": PARTITION_QUERY},
                        {"parameter_name": "JsonParsingEngine", "parameter_value": "JQ-1.6"},
                    ],
                },
                {
                    "type": "AppendDelimiterToRecord",
                    "parameters": [{"parameter_name": "Delimiter", "parameter_value": RECORD_DELIMITER}],
                },
            ],
        },
    }


def deliver_events(
    scope: Scope,
    bus: EventBusRef,
    *,
    raw_bucket_arn: pulumi.Input[str],
    raw_bucket_name: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    crawler: dict[str, Any],
    dead_letter_arn: pulumi.Input[str],
) -> EventsDelivery:
    """Rule on the bus -> Firehose -> raw/events/, and the crawler that catalogs `raw_events`.

    `crawler` holds the settings every raw crawler shares (role, database, prefix, policies).
    """
    ctx = scope.ctx
    role, policy = scope.service_role(
        "events-delivery",
        name=scope.physical("events-firehose", service="iam"),
        description="Kinesis Data Firehose delivering the platform's events into raw/events/",
        trust=service_trust_policy("firehose.amazonaws.com", external_id=ctx.account_id),
        statements=delivery_statements(raw_bucket_arn, key_arn, scope.where),
    )
    stream = aws.kinesis.FirehoseDeliveryStream(
        scope.child("events-delivery"),
        name=scope.physical("events", service="kinesis"),
        destination="extended_s3",
        server_side_encryption={"enabled": True, "key_type": "CUSTOMER_MANAGED_CMK", "key_arn": key_arn},
        extended_s3_configuration=delivery_stream_destination(role.arn, raw_bucket_arn, key_arn),
        opts=scope.opts(depends_on=[policy]),
    )
    sender = aws.iam.Role(
        scope.child("events-rule-role"),
        name=scope.physical("events-to-firehose", service="iam"),
        description="EventBridge putting the bus's events into the lake's delivery stream",
        assume_role_policy=service_trust_policy("events.amazonaws.com"),
        opts=scope.opts(),
    )
    aws.iam.RolePolicy(
        scope.child("events-rule-policy"),
        role=sender.id,
        name="put-records",
        policy=policy_document(
            Statement(
                sid="PutRecords", actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resources=[stream.arn]
            )
        ),
        opts=scope.opts(),
    )
    rule = aws.cloudwatch.EventRule(
        scope.child("events-to-lake"),
        name=scope.physical("events-to-lake", service="events"),
        description="Every platform event on the orders bus, archived into the lake",
        event_bus_name=bus.name,
        event_pattern=json.dumps(EVENT_SOURCES_PATTERN, sort_keys=True),
        opts=scope.opts(),
    )
    aws.cloudwatch.EventTarget(
        scope.child("events-to-lake-target"),
        rule=rule.name,
        event_bus_name=bus.name,
        target_id="lake-firehose",
        arn=stream.arn,
        role_arn=sender.arn,
        retry_policy={"maximum_event_age_in_seconds": 86_400, "maximum_retry_attempts": 20},
        dead_letter_config={"arn": dead_letter_arn},
        opts=scope.opts(),
    )
    crawler_name = scope.physical(f"{EVENTS_NAME}-crawler", service="glue")
    events_crawler = aws.glue.Crawler(
        scope.child(f"{EVENTS_NAME}-crawler"),
        name=crawler_name,
        description=f"Catalogs the events Firehose delivers as table {EVENTS_TABLE}",
        s3_targets=[{"path": pulumi.Output.concat("s3://", raw_bucket_name, "/", EVENTS_ROOT)}],
        **crawler,
    )
    return EventsDelivery(stream=stream, rule=rule, crawler=events_crawler, crawler_name=crawler_name)
