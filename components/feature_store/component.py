"""The FeatureStorePipeline component: Kinesis -> enrichment Lambda -> DynamoDB features -> SageMaker
endpoint behind an inference API, with the alarms an operator watches."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import BACKUP_TAG, StackContext
from components.feature_store.args import FeatureStoreArgs
from components.feature_store.dashboard import METRICS_NAMESPACE, dashboard_widgets
from components.feature_store.inference import VARIANT, InferenceApi, InferenceEndpoint
from components.iam import Statement, policy_document
from components.lambda_function import FunctionSpec, PythonFunction
from components.observability import Metric, lambda_errors
from components.scope import Scope, component_options
from components.storage import LifecycleRule, SecureBucket

# Physical-name slug of a feature store unless the program gives another one.
COMPONENT = "featurestore"
TTL_ATTRIBUTE = "expiresAt"
# What Lambda's Kinesis poller calls with the function's role (AWSLambdaKinesisExecutionRole minus
# ListStreams, which cannot be scoped and is not needed when the mapping names the stream).
KINESIS_READ_ACTIONS = [
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
]


class FeatureStorePipeline(pulumi.ComponentResource):
    """Streaming feature enrichment into DynamoDB and live inference over those features."""

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        args: FeatureStoreArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        slug: str = COMPONENT,
    ) -> None:
        super().__init__("platform:index:FeatureStorePipeline", name, None, component_options(ctx, opts))
        self._ctx = ctx
        self._args = args
        scope = Scope.of(self, ctx, name, slug)
        self.key = scope.key(
            "data",
            description=f"{ctx.project}-{ctx.stack} {slug}: stream, table, failure bucket, topic and logs",
            services=["logs", "cloudwatch"],
        )
        self._scope = scope = scope.with_key(self.key.arn)
        self.stream = self._stream()
        self.table = scope.table(
            "features",
            hash_key="userId",
            ttl_attribute=TTL_ATTRIBUTE,
            tags=BACKUP_TAG,
        )
        self.failure_bucket = self._failure_bucket()
        self.enrich = self._enrich_function()
        self.mapping = self._event_source_mapping()
        self.producer_policy = self._producer_policy()
        self.replay_policy = self._replay_policy()

        self.endpoint: InferenceEndpoint | None = None
        self.api: InferenceApi | None = None
        if args.inference is not None:
            self.endpoint = InferenceEndpoint(scope, args.inference)
            self.api = InferenceApi(
                scope, args.inference, endpoint=self.endpoint, table_name=self.table.name, table_arn=self.table.arn
            )
        self.alarm_topic = scope.alarm_topic(email=args.alarm_email)
        self._scope = scope.with_alarm_topic(self.alarm_topic.arn)
        self._alarms()
        self.dashboard = self._dashboard()
        self.register_outputs(self.stack_outputs())

    # --- data ---------------------------------------------------------------------------------

    def _stream(self) -> aws.kinesis.Stream:
        args = self._args
        provisioned = args.stream_mode == "PROVISIONED"
        return aws.kinesis.Stream(
            self._scope.child("events"),
            name=self._scope.physical("events", service="kinesis"),
            stream_mode_details={"stream_mode": args.stream_mode},
            shard_count=args.shard_count if provisioned else None,
            retention_period=args.stream_retention_hours,
            encryption_type="KMS",
            kms_key_id=self.key.arn,
            opts=self._scope.opts(stateful=True),
        )

    def _failure_bucket(self) -> SecureBucket:
        """Where the mapping parks the batches it gave up on: whole invocation records (the Kinesis
        records themselves), which `python -m handlers.feature_store.replay` re-applies."""
        scope = self._scope
        return SecureBucket(
            scope.child("enrich-failures"),
            scope.ctx,
            component=scope.slug,
            purpose="failures",
            kms_key_arn=scope.key_arn,
            opts=scope.opts(),
            lifecycle=[
                LifecycleRule(
                    id="expire-parked-batches",
                    prefix="",
                    expiration_days=self._args.failure_retention_days,
                    abort_incomplete_upload_days=1,
                )
            ],
            # An expired object leaves a noncurrent version: gone a day later.
            noncurrent_version_expiration_days=1,
            region=scope.where,
        )

    # --- enrichment ---------------------------------------------------------------------------

    def _enrich_function(self) -> PythonFunction:
        args = self._args
        return self._scope.function(
            FunctionSpec(
                purpose="enrich",
                module="feature_store.enrich",
                include=["features", "store"],
                description="Kinesis events -> per-user features, one conditional write per user and batch",
                statements=[
                    Statement(sid="ReadStream", actions=KINESIS_READ_ACTIONS, resources=[self.stream.arn]),
                    Statement(
                        sid="WriteFeatures",
                        # store.FeatureTable: BatchGetItem reads the users' items, PutItem writes each one back
                        # under a condition on its version.
                        actions=["dynamodb:PutItem", "dynamodb:BatchGetItem"],
                        resources=[self.table.arn],
                    ),
                    # What Lambda's stream poller calls with this role to park a batch in an S3 on-failure
                    # destination (Lambda developer guide: s3:PutObject and s3:ListBucket).
                    Statement(sid="FindParkedBatches", actions=["s3:ListBucket"], resources=[self.failure_bucket.arn]),
                    Statement(
                        sid="ParkFailedBatches",
                        actions=["s3:PutObject"],
                        resources=[pulumi.Output.concat(self.failure_bucket.arn, "/*")],
                    ),
                    # Decrypt the stream's records; encrypt parked batches into the bucket (SSE-KMS).
                    Statement(
                        sid="UseDataKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.arn]
                    ),
                ],
                environment={
                    "TABLE_NAME": self.table.name,
                    "FEATURE_TTL_DAYS": str(args.feature_ttl_days),
                    "WRITE_CONCURRENCY": str(args.write_concurrency),
                    # Above 1 the handler requires records keyed by userId (order is kept per key only).
                    "PARALLELIZATION_FACTOR": str(args.parallelization_factor),
                    # Events stamped later than their arrival plus this are malformed (parked, never applied).
                    "FUTURE_SKEW_SECONDS": str(args.future_skew_seconds),
                },
                timeout=args.enrich_timeout_seconds,
                memory_size=args.enrich_memory_mb,
                reserved_concurrency=args.enrich_reserved_concurrency,
            )
        )

    def _event_source_mapping(self) -> aws.lambda_.EventSourceMapping:
        args = self._args
        return aws.lambda_.EventSourceMapping(
            self._scope.child("enrich-mapping"),
            function_name=self.enrich.arn,
            event_source_arn=self.stream.arn,
            starting_position="TRIM_HORIZON",
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_seconds,
            parallelization_factor=args.parallelization_factor,
            function_response_types=["ReportBatchItemFailures"],
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=args.maximum_retry_attempts,
            maximum_record_age_in_seconds=args.maximum_record_age_seconds,
            destination_config={"on_failure": {"destination_arn": self.failure_bucket.arn}},
            opts=self._scope.opts(depends_on=[self.enrich.policy, self.failure_bucket.policy]),
        )

    def _producer_policy(self) -> aws.iam.Policy:
        """A managed policy producers attach to put events on the stream (and nothing else)."""
        return aws.iam.Policy(
            self._scope.child("producer"),
            name=self._scope.physical("producer", service="iam"),
            description="Put feature events on the feature store stream",
            policy=policy_document(
                Statement(
                    sid="PutEvents",
                    actions=["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStreamSummary"],
                    resources=[self.stream.arn],
                ),
                Statement(sid="EncryptEvents", actions=["kms:GenerateDataKey"], resources=[self.key.arn]),
            ),
            opts=self._scope.opts(),
        )

    def _replay_policy(self) -> aws.iam.Policy:
        """A managed policy for operators who run `python -m handlers.feature_store.replay`: read the
        parked batches, read and write the users' items (the same calls as the enrichment function)."""
        bucket = self.failure_bucket.arn
        return aws.iam.Policy(
            self._scope.child("replay"),
            name=self._scope.physical("replay", service="iam"),
            description="Replay parked feature store batches from the failure bucket into the feature table",
            policy=policy_document(
                Statement(sid="ListParkedBatches", actions=["s3:ListBucket"], resources=[bucket]),
                Statement(
                    sid="ReadParkedBatches", actions=["s3:GetObject"], resources=[pulumi.Output.concat(bucket, "/*")]
                ),
                Statement(
                    sid="ApplyFeatures",
                    actions=["dynamodb:PutItem", "dynamodb:BatchGetItem"],
                    resources=[self.table.arn],
                ),
                Statement(sid="DecryptWithDataKey", actions=["kms:Decrypt"], resources=[self.key.arn]),
            ),
            opts=self._scope.opts(),
        )

    # --- alarms -------------------------------------------------------------------------------

    def _alarm(self, purpose: str, description: str, metric: Metric, threshold: float = 0) -> None:
        self._scope.alarm(purpose, description, metric, threshold)

    def _alarms(self) -> None:
        args = self._args
        self._alarm(
            "iterator-age",
            f"Enrichment is more than {args.iterator_age_alarm_seconds}s behind the stream",
            Metric(
                "AWS/Lambda",
                "IteratorAge",
                {"FunctionName": self.enrich.name},
                "Maximum",
                period=60,
                evaluation_periods=5,
            ),
            threshold=args.iterator_age_alarm_seconds * 1000,
        )
        self._function_alarms("enrich", "enrichment", self.enrich.name)
        for operation in ("Write", "Read"):
            self._alarm(
                f"table-{operation.lower()}-throttles",
                f"DynamoDB throttled {operation.lower()}s on the feature table",
                Metric("AWS/DynamoDB", f"{operation}ThrottleEvents", {"TableName": self.table.name}, "Sum"),
            )
        # Records the handler reports as failed are retried, then parked in the failure bucket: replay them.
        for purpose, metric, description in (
            ("enrich-failed-records", "RecordsFailed", "Feature writes failed; after retries they are parked"),
            ("enrich-malformed-records", "MalformedRecords", "Undecodable records (fix the producer) are parked"),
        ):
            self._alarm(
                purpose,
                f"{description}: replay them with python -m handlers.feature_store.replay",
                Metric(METRICS_NAMESPACE, metric, {"FunctionName": self.enrich.name}, "Sum"),
            )
        self._alarm(
            "enrich-parking-failures",
            "Lambda could not write a failed batch to the failure bucket: those records are lost when the stream "
            "trims them",
            Metric("AWS/Lambda", "DestinationDeliveryFailures", {"FunctionName": self.enrich.name}, "Sum"),
        )
        if self.api is not None and self.endpoint is not None:
            self._inference_alarms(self.api, self.endpoint)

    def _function_alarms(self, purpose: str, what: str, function_name: pulumi.Input[str]) -> None:
        self._alarm(f"{purpose}-errors", f"The {what} function failed invocations", lambda_errors(function_name))
        self._alarm(
            f"{purpose}-throttles",
            f"Lambda throttled invocations of the {what} function",
            Metric("AWS/Lambda", "Throttles", {"FunctionName": function_name}, "Sum"),
        )

    def _inference_alarms(self, api: InferenceApi, endpoint: InferenceEndpoint) -> None:
        inference = self._args.inference
        assert inference is not None
        self._function_alarms("predict", "predict", api.function.name)
        model = {"EndpointName": endpoint.endpoint.name, "VariantName": VARIANT}
        self._alarm(
            "model-errors",
            "The model endpoint answered with 5xx errors",
            Metric("AWS/SageMaker", "Invocation5XXErrors", model, "Sum"),
        )
        self._alarm(
            "model-latency",
            f"The model's p99 latency is above {inference.model_latency_alarm_ms} ms",
            Metric("AWS/SageMaker", "ModelLatency", model, "p99", evaluation_periods=3),
            threshold=inference.model_latency_alarm_ms * 1000,  # ModelLatency is in microseconds
        )
        stage = {"ApiId": api.api.id, "Stage": api.stage.name}
        self._alarm(
            "api-5xx", "The inference API answered with 5xx errors", Metric("AWS/ApiGateway", "5xx", stage, "Sum")
        )
        self._alarm(
            "api-latency",
            f"The inference API's p99 latency is above {inference.api_latency_alarm_ms} ms",
            Metric("AWS/ApiGateway", "Latency", stage, "p99", evaluation_periods=3),
            threshold=inference.api_latency_alarm_ms,
        )

    def _dashboard(self) -> aws.cloudwatch.Dashboard:
        return aws.cloudwatch.Dashboard(
            self._scope.child("dashboard"),
            dashboard_name=self._scope.physical("pipeline"),
            dashboard_body=pulumi.Output.json_dumps(
                {
                    "widgets": dashboard_widgets(
                        self._scope.where,
                        enrich=self.enrich.name,
                        table=self.table.name,
                        api=self.api,
                        endpoint=self.endpoint,
                    )
                }
            ),
            opts=self._scope.opts(),
        )

    def stack_outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {
            "streamName": self.stream.name,
            "streamArn": self.stream.arn,
            "tableName": self.table.name,
            "failureBucket": self.failure_bucket.name,
            "producerPolicyArn": self.producer_policy.arn,
            "replayPolicyArn": self.replay_policy.arn,
            "dashboardName": self.dashboard.dashboard_name,
            "alarmTopicArn": self.alarm_topic.arn,
        }
        if self.endpoint is not None and self.api is not None:
            outputs["endpointName"] = self.endpoint.endpoint.name
            outputs["apiUrl"] = self.api.url
            if self.api.client_policy is not None:
                outputs["apiClientPolicyArn"] = self.api.client_policy.arn
        return outputs
