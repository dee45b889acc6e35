"""The lake's buckets: each one a components.storage.SecureBucket grouped under a `LakeBucket` component.

The grouping component only keeps the lake's resource identities (URNs `...$platform:storage:LakeBucket$...`)
stable; everything a bucket is made of lives in the shared components/storage.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import Statement
from components.storage import LifecycleRule, SecureBucket

__all__ = ["LakeBucket", "LifecycleRule"]


class LakeBucket(pulumi.ComponentResource):
    """One lake bucket: versioned, SSE-KMS, private, owner-enforced, TLS-only, with lifecycle housekeeping."""

    bucket: aws.s3.Bucket

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        *,
        component: str,
        purpose: str,
        kms_key_arn: pulumi.Input[str] | None,
        lifecycle: Sequence[LifecycleRule],
        noncurrent_version_expiration_days: int,
        access_log_bucket: LakeBucket | None = None,
        server_access_log_target: bool = False,
        policy_statements: Callable[[pulumi.Output[str]], Sequence[Statement]] = lambda _arn: (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:storage:LakeBucket", name, None, opts)
        self.storage = SecureBucket(
            name,
            ctx,
            component=component,
            purpose=purpose,
            kms_key_arn=kms_key_arn,
            lifecycle=lifecycle,
            noncurrent_version_expiration_days=noncurrent_version_expiration_days,
            access_log_bucket=access_log_bucket.storage if access_log_bucket is not None else None,
            server_access_log_target=server_access_log_target,
            policy_statements=policy_statements,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.bucket = self.storage.bucket
        self.name = self.storage.name
        self.arn = self.storage.arn
        self.policy = self.storage.policy
        self.public_access_block = self.storage.public_access_block
        self.register_outputs({"name": self.bucket.bucket, "arn": self.bucket.arn})
