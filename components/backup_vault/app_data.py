"""Application data the plan protects, each with a copy in the DR region: the DynamoDB table (replica
table fed by a stream Lambda, or a global-table replica) and the S3 bucket (cross-region replication)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_vault.args import BackupVaultArgs
from components.context import BACKUP_TAG, StackContext
from components.iam import Statement, policy_document, service_trust_policy
from components.scope import Scope
from components.storage import ABORT_INCOMPLETE_UPLOADS_DAYS, BucketNames, LifecycleRule, SecureBucket

TABLE_KEYS = {"hash_key": "id", "range_key": "timestamp"}
TABLE_ATTRIBUTES = {"id": "S", "timestamp": "N"}


@dataclass(frozen=True)
class Tables:
    primary: aws.dynamodb.Table
    replica: aws.dynamodb.Table | None  # None with global tables: the replica lives inside `primary`

    @property
    def replica_name(self) -> pulumi.Output[str]:
        return (self.replica or self.primary).name


def app_tables(
    scope: Scope,
    args: BackupVaultArgs,
    *,
    primary_key_arn: pulumi.Input[str],
    dr_key_arn: pulumi.Input[str],
) -> Tables:
    """The `id`+`timestamp` table: on-demand, PITR, CMK, NEW_AND_OLD_IMAGES stream, tagged for backup."""
    ctx = scope.ctx
    global_table = args.replication == "globalTable"
    replicas = [
        {
            "region_name": ctx.dr_region,
            "kms_key_arn": dr_key_arn,
            "point_in_time_recovery": True,
            "deletion_protection_enabled": ctx.is_prod,
            "propagate_tags": True,
        }
    ]
    primary = scope.with_key(primary_key_arn).table(
        "data",
        **TABLE_KEYS,
        attributes=TABLE_ATTRIBUTES,
        stream_view_type="NEW_AND_OLD_IMAGES",
        replicas=replicas if global_table else None,
        tags=BACKUP_TAG,
    )
    if global_table:
        return Tables(primary, None)
    replica = scope.in_dr(dr_key_arn).table(
        "data-replica", **TABLE_KEYS, attributes=TABLE_ATTRIBUTES, tags={"Role": "DisasterRecovery"}
    )
    return Tables(primary, replica)


# The backup bucket's resources keep the logical names they had before components.storage existed.
BUCKET_NAMES = BucketNames(bucket="", public_access_block="-public-access", policy="-tls-only")
# Every version is kept (and replicated): versions replaced or deleted move to Glacier Instant Retrieval
# after 30 days (still readable in milliseconds for a restore), and abandoned multipart uploads go.
KEEP_VERSIONS_COLD = LifecycleRule(
    "noncurrent-versions-to-glacier-ir",
    "",
    noncurrent_transitions=((30, "GLACIER_IR"),),
    abort_incomplete_upload_days=ABORT_INCOMPLETE_UPLOADS_DAYS,
)
ACCESS_LOG_DAYS = 365  # S3 server access logs of the backup buckets: a year of who read and wrote what


def _access_log_bucket(scope: Scope, name: str) -> SecureBucket:
    """Where the S3 server access logs of the scope region's backup bucket go (logs stay in their region)."""
    return SecureBucket(
        scope.child(name),
        scope.ctx,
        component=scope.slug,
        purpose="access-logs",
        kms_key_arn=None,
        server_access_log_target=True,
        lifecycle=[
            LifecycleRule(
                "expire-access-logs",
                "",
                expiration_days=ACCESS_LOG_DAYS,
                abort_incomplete_upload_days=ABORT_INCOMPLETE_UPLOADS_DAYS,
            )
        ],
        region=scope.where,
        opts=scope.opts(),
    )


def _data_bucket(
    scope: Scope, name: str, *, purpose: str, tags: dict[str, str], access_log_bucket: SecureBucket
) -> SecureBucket:
    """A versioned, CMK-encrypted, private, TLS-only bucket whose every version is kept (old ones in colder
    storage), with server access logs; never force-destroyed, not even outside prod."""
    return SecureBucket(
        scope.child(name),
        scope.ctx,
        component=scope.slug,
        purpose=purpose,
        kms_key_arn=scope.key_arn,
        region=scope.where,
        lifecycle=[KEEP_VERSIONS_COLD],
        access_log_bucket=access_log_bucket,
        tags=tags,
        enforce_ownership=False,
        force_destroy_outside_prod=False,
        names=BUCKET_NAMES,
        opts=scope.opts(),
    )


def replication_statements(
    ctx: StackContext,
    *,
    source_arn: pulumi.Input[str],
    replica_arn: pulumi.Input[str],
    source_key_arn: pulumi.Input[str],
    replica_key_arn: pulumi.Input[str],
) -> list[Statement]:
    """What S3 needs to replicate KMS-encrypted versions from the source to the replica bucket, only."""

    def objects(arn: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.concat(arn, "/*")

    return [
        Statement(
            sid="ReadReplicationConfiguration",
            actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
            resources=[source_arn],
        ),
        Statement(
            sid="ReadSourceVersions",
            actions=["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
            resources=[objects(source_arn)],
        ),
        Statement(
            sid="WriteReplicaVersions",
            actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            resources=[objects(replica_arn)],
        ),
        Statement(
            sid="DecryptSource",
            actions=["kms:Decrypt"],
            resources=[source_key_arn],
            conditions={
                "StringEquals": {"kms:ViaService": f"s3.{ctx.region}.amazonaws.com"},
                # With S3 Bucket Keys the context is the bucket ARN, otherwise the object ARN.
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [source_arn, objects(source_arn)]},
            },
        ),
        Statement(
            sid="EncryptReplica",
            actions=["kms:Encrypt", "kms:GenerateDataKey"],
            resources=[replica_key_arn],
            conditions={
                "StringEquals": {"kms:ViaService": f"s3.{ctx.dr_region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [replica_arn, objects(replica_arn)]},
            },
        ),
    ]


@dataclass(frozen=True)
class Buckets:
    primary: aws.s3.Bucket
    replica: aws.s3.Bucket
    replication_role: aws.iam.Role
    access_logs: SecureBucket  # the primary region's access-log target, for other buckets of the component


def app_buckets(
    scope: Scope,
    *,
    primary_key_arn: pulumi.Input[str],
    dr_key_arn: pulumi.Input[str],
) -> Buckets:
    """The data bucket, tagged for backup, replicating every object version to a DR-region bucket."""
    ctx, child = scope.ctx, scope.opts()
    primary_scope, dr_scope = scope.with_key(primary_key_arn), scope.in_dr(dr_key_arn)
    access_logs = _access_log_bucket(primary_scope, "access-logs")
    source = _data_bucket(
        primary_scope, "app-bucket", purpose="data", tags=dict(BACKUP_TAG), access_log_bucket=access_logs
    )
    replica = _data_bucket(
        dr_scope,
        "app-bucket-replica",
        purpose="data-replica",
        tags={"Role": "DisasterRecovery"},
        access_log_bucket=_access_log_bucket(dr_scope, "dr-access-logs"),
    )
    role = aws.iam.Role(
        scope.child("s3-replication-role"),
        name=scope.physical("s3-replication", service="iam"),
        description="S3 cross-region replication of the BackupVault data bucket",
        assume_role_policy=service_trust_policy("s3.amazonaws.com"),
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        scope.child("s3-replication-policy"),
        role=role.id,
        name="replicate-data-bucket",
        policy=policy_document(
            *replication_statements(
                ctx,
                source_arn=source.bucket.arn,
                replica_arn=replica.bucket.arn,
                source_key_arn=primary_key_arn,
                replica_key_arn=dr_key_arn,
            )
        ),
        opts=child,
    )
    aws.s3.BucketReplicationConfig(
        scope.child("app-bucket-replication"),
        bucket=source.bucket.id,
        role=role.arn,
        rules=[
            {
                "id": "to-dr-region",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "delete_marker_replication": {"status": "Enabled"},
                "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                "destination": {
                    "bucket": replica.bucket.arn,
                    "storage_class": "STANDARD_IA",
                    "encryption_configuration": {"replica_kms_key_id": dr_key_arn},
                },
            }
        ],
        # S3 refuses replication until both buckets are versioned and the role can act.
        opts=scope.opts(depends_on=[source.versioning, replica.versioning, policy]),
    )
    return Buckets(source.bucket, replica.bucket, role, access_logs)
