"""Typed arguments of the FeatureStore component: the `featureStore` section of the stack configuration."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from components.config_types import ComponentConfig, ConfigModel, RuleProblem, rule

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>(:<tag>|@sha256:<digest>)
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})$"
)
_S3_OBJECT = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")


def ecr_repository(image: str) -> tuple[str, str, str]:
    """(account, region, repository) of an ECR image URI already validated by the config."""
    match = _ECR_IMAGE.match(image)
    if match is None:
        raise ValueError(f"{image!r} is not an ECR image URI")
    return match["account"], match["region"], match["repository"]


def s3_object(url: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URL already validated by the config."""
    match = _S3_OBJECT.match(url)
    if match is None:
        raise ValueError(f"{url!r} is not an s3://bucket/key URL")
    return match["bucket"], match["key"]


class EndpointAutoscalingArgs(ConfigModel):
    """Target-tracking autoscaling of a provisioned endpoint's instance count."""

    min_capacity: int = Field(1, ge=1, le=100, description="Fewest instances the endpoint scales in to.")
    max_capacity: int = Field(4, ge=1, le=100, description="Most instances the endpoint scales out to.")
    target_invocations_per_instance: int = Field(
        100,
        ge=1,
        le=100_000,
        description="SageMakerVariantInvocationsPerInstance (per minute) the policy keeps each instance at.",
    )
    scale_in_cooldown_seconds: int = Field(300, ge=0, le=3600, description="Wait after a scale-in.")
    scale_out_cooldown_seconds: int = Field(60, ge=0, le=3600, description="Wait after a scale-out.")

    @rule("min_capacity", "max_capacity")
    def _range(self) -> list[RuleProblem]:
        if self.max_capacity < self.min_capacity:
            return [
                f"maxCapacity {self.max_capacity} is below minCapacity {self.min_capacity}; "
                "maxCapacity must be at least minCapacity"
            ]
        return []


class InferenceArgs(ConfigModel):
    """The SageMaker model, endpoint and the inference API in front of it."""

    mode: Literal["serverless", "provisioned"] = Field(
        "serverless", description="serverless (pay per request, for dev) or provisioned instances (article)."
    )
    image: str = Field(
        description="Inference container image in ECR: <account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>."
    )
    model_data_url: str = Field(description="Model artifact: s3://<bucket>/<key>.tar.gz.")
    model_data_kms_key_arn: str | None = Field(
        None, description="KMS key encrypting the model artifact, if the bucket uses SSE-KMS."
    )
    instance_type: str = Field(
        "ml.m5.large",
        pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
        description="Provisioned instance type (EBS-backed: its volume is encrypted with the component key).",
    )
    instance_count: int = Field(1, ge=1, le=100, description="Provisioned instances at creation (article: 1).")
    serverless_memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = Field(
        2048, description="Serverless endpoint memory (1 GB steps)."
    )
    serverless_max_concurrency: int = Field(5, ge=1, le=200, description="Serverless concurrent invocations.")
    autoscaling: EndpointAutoscalingArgs | None = Field(
        None, description="Target-tracking autoscaling (provisioned mode only; set it in prod)."
    )
    api_authorization: Literal["AWS_IAM", "NONE"] = Field(
        "AWS_IAM", description="Who may call POST /predict: SigV4-signed IAM principals, or anyone."
    )
    api_throttle_rate: float = Field(50.0, gt=0, le=10_000, description="Steady requests per second on the API.")
    api_throttle_burst: int = Field(100, ge=1, le=5_000, description="Burst requests on the API.")
    api_latency_alarm_ms: int = Field(
        3000, ge=100, le=30_000, description="Alarm when the API's p99 latency stays above this (3 minutes)."
    )
    model_latency_alarm_ms: int = Field(
        1000, ge=10, le=60_000, description="Alarm when the model's p99 latency stays above this (3 minutes)."
    )
    predict_reserved_concurrency: int | None = Field(
        None, ge=1, le=1000, description="Reserved concurrency of the predict function (None: unreserved)."
    )

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not _ECR_IMAGE.match(value):
            raise ValueError(
                f"{value!r} is not an ECR image URI such as "
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-model:1.4.2"
            )
        return value

    @field_validator("model_data_url")
    @classmethod
    def _model_data(cls, value: str) -> str:
        if not _S3_OBJECT.match(value):
            raise ValueError(f"{value!r} is not an s3://bucket/key URL such as s3://models/churn/model.tar.gz")
        return value

    @field_validator("model_data_kms_key_arn")
    @classmethod
    def _kms_arn(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$", value):
            raise ValueError(f"{value!r} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<uuid>)")
        return value

    @rule("mode", "autoscaling")
    def _serverless_scales_itself(self) -> list[RuleProblem]:
        if self.mode == "serverless" and self.autoscaling is not None:
            return [
                "autoscaling is set but mode is 'serverless'; serverless endpoints scale on their own, "
                "use mode: provisioned to autoscale instances"
            ]
        return []

    @rule("instance_count", "autoscaling")
    def _instances_within_scaling(self) -> list[RuleProblem]:
        scaling = self.autoscaling
        if scaling is not None and not scaling.min_capacity <= self.instance_count <= scaling.max_capacity:
            return [
                f"instanceCount {self.instance_count} lies outside autoscaling "
                f"minCapacity..maxCapacity {scaling.min_capacity}..{scaling.max_capacity}"
            ]
        return []


class FeatureStoreArgs(ComponentConfig):
    """Settings of the FeatureStore component, with production-sensible defaults."""

    stream_mode: Literal["PROVISIONED", "ON_DEMAND"] = Field(
        "PROVISIONED", description="Kinesis capacity mode: fixed shards, or on-demand."
    )
    shard_count: int = Field(2, ge=1, le=500, description="Shards in PROVISIONED mode (article: 2).")
    stream_retention_hours: int = Field(24, ge=24, le=8760, description="How long Kinesis keeps records.")
    batch_size: int = Field(500, ge=1, le=10_000, description="Most records per enrichment invocation.")
    batching_window_seconds: int = Field(
        1, ge=0, le=300, description="How long Lambda gathers records before invoking."
    )
    parallelization_factor: int = Field(
        1,
        ge=1,
        le=10,
        description="Concurrent batches per shard; above 1, producers must use the userId as partition key.",
    )
    maximum_retry_attempts: int = Field(
        5, ge=0, le=10_000, description="Retries of a failing batch before it is parked in the failure bucket."
    )
    maximum_record_age_seconds: int = Field(
        3600, ge=60, le=604_800, description="Records older than this are parked in the failure bucket unprocessed."
    )
    failure_retention_days: int = Field(
        14,
        ge=1,
        le=3650,
        description="Days a parked batch stays in the failure bucket (for the replay command) before it expires.",
    )
    feature_ttl_days: int = Field(
        30, ge=1, le=3650, description="Features of a user without events for this long expire (TTL)."
    )
    future_skew_seconds: int = Field(
        300,
        ge=0,
        le=86_400,
        description="How far after its arrival in the stream an event may be stamped; later ones are malformed "
        "(parked, never applied).",
    )
    enrich_memory_mb: int = Field(512, ge=128, le=10_240, description="Memory of the enrichment function.")
    enrich_timeout_seconds: int = Field(60, ge=3, le=900, description="Timeout of the enrichment function.")
    enrich_reserved_concurrency: int | None = Field(
        None, ge=1, le=1000, description="Reserved concurrency of the enrichment function (None: unreserved)."
    )
    write_concurrency: int = Field(8, ge=1, le=64, description="Parallel DynamoDB writes inside one invocation.")
    iterator_age_alarm_seconds: int = Field(
        300, ge=60, le=86_400, description="Alarm when the oldest unprocessed record is older than this."
    )
    alarm_email: str | None = Field(
        None,
        pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
        description="Subscribe this address to the alarm topic (required in prod: alarms nobody receives help no one).",
    )
    inference: InferenceArgs | None = Field(
        None, description="SageMaker endpoint and inference API; omit for a features-only pipeline."
    )

    @rule("stream_mode", "shard_count", "parallelization_factor", "enrich_reserved_concurrency")
    def _concurrency_covers_shards(self) -> list[RuleProblem]:
        # A Kinesis mapping runs shardCount x parallelizationFactor invocations at once; a smaller
        # reservation throttles the stream and grows the iterator age for ever.
        needed = self.shard_count * self.parallelization_factor
        reserved = self.enrich_reserved_concurrency
        if self.stream_mode == "PROVISIONED" and reserved is not None and reserved < needed:
            return [
                f"enrichReservedConcurrency {reserved} is below shardCount x parallelizationFactor "
                f"({self.shard_count} x {self.parallelization_factor} = {needed}); reserve at least {needed}"
            ]
        return []
