"""Feeds into the lake: the ingestion trigger (S3 object created -> that feed's crawler) and the
optional sample-data generator."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.data_lake.args import DataLakeArgs
from components.data_lake.buckets import LakeBuckets, objects
from components.data_lake.etl import Crawlers
from components.iam import Statement
from components.lambda_function import FunctionSpec, PythonFunction
from components.scope import Scope
from glue.etl.tables import RAW_ENTITIES, RAW_PREFIX


@dataclass
class Ingestion:
    trigger_dlq: aws.sqs.Queue
    trigger: PythonFunction
    sample_generator: PythonFunction | None


def ingestion(
    scope: Scope, args: DataLakeArgs, buckets: LakeBuckets, crawlers: Crawlers, key_arn: pulumi.Input[str]
) -> Ingestion:
    ctx = scope.ctx
    trigger_dlq = scope.queue("ingestion-trigger-dlq")
    routes = {entity.prefix: crawlers.raw_names[entity.name] for entity in RAW_ENTITIES}
    trigger = scope.function(
        FunctionSpec(
            purpose="ingestion-trigger",
            module="data_lake.ingestion_trigger",
            description="Starts the crawler of the feed an object was written to under raw/",
            statements=[
                Statement(
                    sid="StartFeedCrawlers",
                    actions=["glue:StartCrawler"],
                    resources=[scope.arn("glue", f"crawler/{crawler}") for crawler in routes.values()],
                ),
                Statement(
                    sid="EncryptDeadLetters", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key_arn]
                ),
            ],
            environment={"CRAWLER_ROUTES": json.dumps(routes, sort_keys=True)},
            timeout=30,
            memory_size=256,
            reserved_concurrency=args.trigger_reserved_concurrency,
            dead_letter_arn=trigger_dlq.arn,
            log_retention_days=args.lambda_log_retention_days,
        ),
        depends_on=list(crawlers.raw.values()),
    )
    permission = aws.lambda_.Permission(
        scope.child("raw-bucket-invoke"),
        action="lambda:InvokeFunction",
        function=trigger.function.name,
        principal="s3.amazonaws.com",
        source_arn=buckets.raw.arn,
        source_account=ctx.account_id,
        opts=scope.opts(),
    )
    aws.s3.BucketNotification(
        scope.child("raw-notifications"),
        bucket=buckets.raw.bucket.id,
        lambda_functions=[
            {
                "lambda_function_arn": trigger.function.arn,
                "events": ["s3:ObjectCreated:*"],
                "filter_prefix": RAW_PREFIX,
            }
        ],
        # Object-created events also reach EventBridge, where they start a lake refresh.
        eventbridge=args.refresh_on_new_data,
        opts=scope.opts(depends_on=[permission]),
    )
    sample_generator: PythonFunction | None = None
    if args.sample_data_generator:
        sample_generator = scope.function(
            FunctionSpec(
                purpose="sample-data",
                module="data_lake.sample_data",
                description="Writes sample customer, product and transaction feeds under raw/",
                statements=[
                    Statement(
                        sid="WriteRawFeeds", actions=["s3:PutObject"], resources=objects(buckets.raw.arn, RAW_PREFIX)
                    ),
                    Statement(sid="EncryptRawFeeds", actions=["kms:GenerateDataKey"], resources=[key_arn]),
                ],
                environment={"RAW_BUCKET": buckets.raw.name},
                timeout=300,
                memory_size=512,
                log_retention_days=args.lambda_log_retention_days,
            )
        )
    return Ingestion(trigger_dlq=trigger_dlq, trigger=trigger, sample_generator=sample_generator)
