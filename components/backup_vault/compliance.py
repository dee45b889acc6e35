"""Compliance evidence: an AWS Backup Audit Manager framework over this component's protection, and a report
plan delivering its control-compliance report daily to an encrypted, versioned, TLS-only bucket.

The controls state what the component promises: every tagged resource is in a backup plan, the plan
backs up at least daily and keeps recovery points at least as long as the daily rule says, recovery
points are encrypted and copied to the DR region, and (where Vault Lock is configured) locked.
Audit Manager evaluates controls through AWS Config, which must record in the account (README,
first deploy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup_vault.args import BackupVaultArgs
from components.context import BACKUP_TAG
from components.iam import Statement
from components.scope import Scope
from components.storage import LifecycleRule, SecureBucket

# Created once per account by AWS Backup (or the bootstrap stack); delivers Audit Manager reports.
REPORTS_ROLE = "aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"
REPORT_PREFIX = "backup-reports"
PROTECTED_TYPES = ["DynamoDB", "RDS", "S3"]


@dataclass(frozen=True)
class Compliance:
    framework: aws.backup.Framework
    report_plan: aws.backup.ReportPlan
    bucket: SecureBucket


def reports_role_arn(scope: Scope) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:", scope.ctx.partition, ":iam::", scope.ctx.account_id, f":role/{REPORTS_ROLE}")


def reports_key_statement(scope: Scope) -> Statement:
    """The component key lets the reports service-linked role encrypt the reports it writes."""
    return Statement(
        sid="AllowBackupReportsDelivery",
        principals={"AWS": reports_role_arn(scope)},
        actions=["kms:GenerateDataKey"],
        resources=["*"],
    )


def _control(name: str, parameters: dict[str, str] | None = None, scope: dict[str, Any] | None = None) -> dict:
    control: dict[str, Any] = {"name": name}
    if parameters:
        control["input_parameters"] = [{"name": k, "value": v} for k, v in sorted(parameters.items())]
    if scope:
        control["scope"] = scope
    return control


def framework_controls(scope: Scope, args: BackupVaultArgs, plan_id: pulumi.Input[str]) -> list[dict[str, Any]]:
    tagged = {"compliance_resource_types": PROTECTED_TYPES, "tags": dict(BACKUP_TAG)}
    retention = str(args.daily.delete_after_days)
    controls = [
        _control("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", scope=tagged),
        _control(
            "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
            {"requiredFrequencyUnit": "hours", "requiredFrequencyValue": "24", "requiredRetentionDays": retention},
            scope={"compliance_resource_ids": [plan_id], "compliance_resource_types": ["BackupPlan"]},
        ),
        _control("BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK", {"requiredRetentionDays": retention}, tagged),
        _control("BACKUP_RECOVERY_POINT_ENCRYPTED", scope=tagged),
        _control("BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED", scope=tagged),
        _control("BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION", {"crossRegionList": scope.ctx.dr_region}, tagged),
    ]
    if args.vault_lock is not None:
        lock = args.vault_lock
        controls.append(
            _control(
                "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK",
                {"minRetentionDays": str(lock.min_retention_days), "maxRetentionDays": str(lock.max_retention_days)},
                tagged,
            )
        )
    return controls


def compliance_reporting(scope: Scope, args: BackupVaultArgs, plan_id: pulumi.Input[str]) -> Compliance:
    ctx = scope.ctx
    framework = aws.backup.Framework(
        scope.child("framework"),
        # Framework and report plan names allow letters, digits and underscores only.
        name=scope.physical("framework", service="backup").replace("-", "_"),
        description=f"{ctx.project}-{ctx.stack} {scope.slug}: what the backup plan promises",
        controls=framework_controls(scope, args, plan_id),
        opts=scope.opts(),
    )

    def reports_delivery(arn: pulumi.Output[str]) -> list[Statement]:
        return [
            Statement(
                sid="BackupReportsDelivery",
                principals={"AWS": reports_role_arn(scope)},
                actions=["s3:PutObject"],
                resources=[pulumi.Output.concat(arn, f"/{REPORT_PREFIX}/*")],
                conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
            )
        ]

    bucket = SecureBucket(
        scope.child("reports"),
        ctx,
        component=scope.slug,
        purpose="reports",
        kms_key_arn=scope.key_arn,
        lifecycle=[
            LifecycleRule(
                "age-out-reports",
                "",
                transitions=((90, "GLACIER_IR"),),
                expiration_days=args.report_retention_days,
            )
        ],
        noncurrent_version_expiration_days=30,
        policy_statements=reports_delivery,
        opts=scope.opts(),
    )
    report_plan = aws.backup.ReportPlan(
        scope.child("compliance-report"),
        name=scope.physical("compliance", service="backup").replace("-", "_"),
        description="Daily control-compliance report of the backup framework",
        report_delivery_channel={
            "s3_bucket_name": bucket.name,
            "s3_key_prefix": REPORT_PREFIX,
            "formats": ["CSV", "JSON"],
        },
        report_setting={
            "report_template": "CONTROL_COMPLIANCE_REPORT",
            "framework_arns": [framework.arn],
            "number_of_frameworks": 1,
        },
        opts=scope.opts(depends_on=[bucket.policy]),
    )
    return Compliance(framework, report_plan, bucket)
