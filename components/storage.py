"""A locked-down S3 bucket: versioned, SSE-KMS with the component's CMK, private, TLS-only, with lifecycle rules.

S3 needs several resources for one safe bucket (bucket, public access block, versioning, encryption,
policy, and optionally ownership controls, lifecycle and access logging); every component that keeps
data in S3 builds them here. The resources are parented as `opts` says, so a component may group a
bucket under a ComponentResource of its own (the data lake does) or keep it directly under itself.

A bucket that receives S3 server access logs is the one exception to SSE-KMS: S3's log delivery cannot
write to a bucket whose default encryption is SSE-KMS, so a log target (`server_access_log_target=True`)
uses SSE-S3 and lets the logging service put objects, from this account only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import Statement, policy_document

ABORT_INCOMPLETE_UPLOADS_DAYS = 7
S3_LOG_DELIVERY = "logging.s3.amazonaws.com"


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


def server_access_log_delivery(bucket_arn: pulumi.Input[str], account_id: pulumi.Input[str]) -> Statement:
    """S3 server access logging writes the logs of this account's buckets into the target bucket."""
    return Statement(
        sid="S3ServerAccessLogDelivery",
        principals={"Service": S3_LOG_DELIVERY},
        actions=["s3:PutObject"],
        resources=[pulumi.Output.concat(bucket_arn, "/*")],
        conditions={"StringEquals": {"aws:SourceAccount": account_id}},
    )


def _default_encryption(kms_key_arn: pulumi.Input[str] | None) -> dict:
    if kms_key_arn is None:
        return {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
    return {
        "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn},
        # One data key per bucket instead of per object: far fewer KMS calls.
        "bucket_key_enabled": True,
    }


@dataclass(frozen=True)
class BucketNames:
    """Suffixes appended to the caller's name to form the logical names of the bucket and of the resources
    whose suffix callers chose differently. Logical names are part of a resource's identity (URN): a
    component built before this module existed passes the suffixes it always used, so `pulumi up`
    does not replace its buckets. Versioning, encryption, ownership, lifecycle and logging are always
    `-versioning`, `-encryption`, `-ownership`, `-lifecycle`, `-access-logging`."""

    bucket: str = "-bucket"
    public_access_block: str = "-public-access-block"
    policy: str = "-policy"


class SecureBucket:
    """One bucket and its versioning, SSE-KMS encryption (bucket key), public access block, TLS-only policy,
    and optionally BucketOwnerEnforced ownership, lifecycle rules and server access logging."""

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        *,
        component: str,
        purpose: str,
        kms_key_arn: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions,
        lifecycle: Sequence[LifecycleRule] = (),
        noncurrent_version_expiration_days: int | None = None,
        access_log_bucket: SecureBucket | None = None,
        server_access_log_target: bool = False,
        policy_statements: Callable[[pulumi.Output[str]], Sequence[Statement]] = lambda _arn: (),
        enforce_ownership: bool = True,
        force_destroy_outside_prod: bool = True,
        tags: Mapping[str, str] | None = None,
        names: BucketNames = BucketNames(),
        region: str | None = None,
    ) -> None:
        """`noncurrent_version_expiration_days` adds the housekeeping rule (old versions expire, incomplete
        multipart uploads are aborted); without it and without `lifecycle` no lifecycle configuration
        is made. `force_destroy_outside_prod` lets dev/staging stacks delete non-empty buckets. `region` is
        where the bucket lives (the provider in `opts` decides it; the name carries it), the primary region
        unless given.
        `server_access_log_target` makes the bucket a target of S3 server access logging: SSE-S3 (pass
        `kms_key_arn=None`) and a policy letting the logging service write; every other bucket is SSE-KMS."""
        if server_access_log_target != (kms_key_arn is None):
            raise ValueError(
                f"{name}: an S3 server access log target is encrypted with SSE-S3 (kms_key_arn=None), because log "
                "delivery cannot write to an SSE-KMS bucket; every other bucket needs kms_key_arn"
            )
        self.server_access_log_target = server_access_log_target
        self.bucket = aws.s3.Bucket(
            f"{name}{names.bucket}",
            bucket=ctx.bucket_name(component, purpose, region=region),
            force_destroy=(not ctx.is_prod) if force_destroy_outside_prod else None,
            tags=dict(tags) if tags is not None else None,
            opts=ctx.stateful(opts),
        )
        self.name: pulumi.Output[str] = self.bucket.bucket
        self.arn: pulumi.Output[str] = self.bucket.arn
        if enforce_ownership:
            aws.s3.BucketOwnershipControls(
                f"{name}-ownership", bucket=self.bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=opts
            )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}{names.public_access_block}",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=self.bucket.id, versioning_configuration={"status": "Enabled"}, opts=opts
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[_default_encryption(kms_key_arn)],
            opts=opts,
        )
        statements = [tls_only(self.bucket.arn), *policy_statements(self.bucket.arn)]
        if server_access_log_target:
            statements.append(server_access_log_delivery(self.bucket.arn, ctx.account_id))
        self.policy = aws.s3.BucketPolicy(
            f"{name}{names.policy}",
            bucket=self.bucket.id,
            policy=policy_document(*statements),
            # S3 rejects policies while a public access block is being applied.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[self.public_access_block])),
        )
        rules = [rule.render() for rule in lifecycle]
        if noncurrent_version_expiration_days is not None:
            rules.append(
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {"noncurrent_days": noncurrent_version_expiration_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOADS_DAYS},
                }
            )
        if rules:
            aws.s3.BucketLifecycleConfiguration(
                f"{name}-lifecycle",
                bucket=self.bucket.id,
                rules=rules,
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[self.versioning])),
            )
        if access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logging",
                bucket=self.bucket.id,
                target_bucket=access_log_bucket.bucket.id,
                target_prefix=f"{purpose}/",
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[access_log_bucket.policy])),
            )
