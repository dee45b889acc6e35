"""A locked-down S3 bucket for the lake: versioned, encrypted, private, TLS-only, with lifecycle rules.

Written generically (nothing here is specific to the lake's feeds) so another component needing a
data bucket can reuse it instead of repeating the six resources S3 needs for one safe bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import Statement, policy_document

ABORT_INCOMPLETE_UPLOADS_DAYS = 7


@dataclass(frozen=True)
class LifecycleRule:
    """Objects under `prefix` ("" = the whole bucket) move through `transitions` then expire."""

    id: str
    prefix: str
    transitions: Sequence[tuple[int, str]] = ()
    expiration_days: int | None = None

    def render(self) -> dict:
        rule: dict = {"id": self.id, "status": "Enabled", "filter": {"prefix": self.prefix}}
        if self.transitions:
            rule["transitions"] = [{"days": days, "storage_class": cls} for days, cls in self.transitions]
        if self.expiration_days is not None:
            rule["expiration"] = {"days": self.expiration_days}
        return rule


def tls_only(bucket_arn: pulumi.Input[str]) -> Statement:
    """Deny every request that does not use TLS, whoever makes it."""
    return Statement(
        sid="DenyInsecureTransport",
        effect="Deny",
        principals={"AWS": "*"},
        actions=["s3:*"],
        resources=[bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )


class LakeBucket(pulumi.ComponentResource):
    """One bucket and its versioning, SSE-KMS encryption, public access block, ownership, policy and lifecycle."""

    bucket: aws.s3.Bucket

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        *,
        component: str,
        purpose: str,
        kms_key_arn: pulumi.Input[str],
        lifecycle: Sequence[LifecycleRule],
        noncurrent_version_expiration_days: int,
        access_log_bucket: LakeBucket | None = None,
        policy_statements: Callable[[pulumi.Output[str]], Sequence[Statement]] = lambda _arn: (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:storage:LakeBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=ctx.name(component, purpose, service="s3"),
            force_destroy=not ctx.is_prod,
            opts=ctx.stateful(child),
        )
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=self.bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
        )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=self.bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": kms_key_arn,
                    },
                    # One data key per bucket instead of per object: far fewer KMS calls from Spark.
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        self.policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            policy=policy_document(tls_only(self.bucket.arn), *policy_statements(self.bucket.arn)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.public_access_block]),
        )
        housekeeping = {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrent_version_expiration": {"noncurrent_days": noncurrent_version_expiration_days},
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOADS_DAYS},
        }
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[*(rule.render() for rule in lifecycle), housekeeping],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        if access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logging",
                bucket=self.bucket.id,
                target_bucket=access_log_bucket.bucket.id,
                target_prefix=f"{purpose}/",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[access_log_bucket.policy]),
            )
        self.register_outputs({"name": self.bucket.bucket, "arn": self.bucket.arn})
