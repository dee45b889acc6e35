"""AWS Backup itself: the primary and DR vaults, notifications, Vault Lock, the plan, the tag-based
selection and restore testing of the app table."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_vault.args import BackupRuleSettings, BackupVaultArgs, VaultLockSettings
from components.context import BACKUP_TAG
from components.iam import service_trust_policy
from components.scope import Scope

# Vault notifications AWS Backup still sends. BACKUP_JOB_FAILED and RESTORE_JOB_FAILED are deprecated and
# never sent (a failed job is a *_COMPLETED event with its state); failed, aborted and expired jobs reach the
# alarm topic through the EventBridge rule of the component instead. COPY_JOB_FAILED is the one failure
# event still sent: without it a broken DR copy would show only in the daily validation.
VAULT_EVENTS = (
    "BACKUP_JOB_STARTED",
    "BACKUP_JOB_COMPLETED",
    "COPY_JOB_STARTED",
    "COPY_JOB_SUCCESSFUL",
    "COPY_JOB_FAILED",
    "RESTORE_JOB_STARTED",
    "RESTORE_JOB_COMPLETED",
    "RECOVERY_POINT_MODIFIED",
    "S3_BACKUP_OBJECT_FAILED",
    "S3_RESTORE_OBJECT_FAILED",
)
# AWS Backup's EventBridge events whose state means no usable recovery point, copy or restore, and the
# detail field carrying it: backup and copy jobs report `state`, restore jobs `status`
# (https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html).
JOB_FAILURE_EVENTS = {
    "Backup Job State Change": ("state", ["FAILED", "ABORTED", "EXPIRED"]),
    "Copy Job State Change": ("state", ["FAILED", "ABORTED", "EXPIRED"]),
    "Restore Job State Change": ("status", ["FAILED", "ABORTED"]),
}


def job_failure_pattern() -> dict[str, object]:
    """One EventBridge pattern for every failed job, each detail-type judged on its own field."""
    alternatives = {}
    for detail_type, (field, values) in sorted(JOB_FAILURE_EVENTS.items()):
        key = (field, tuple(values))
        alternatives.setdefault(key, []).append(detail_type)
    return {
        "source": ["aws.backup"],
        "$or": [
            {"detail-type": types, "detail": {field: sorted(values)}} for (field, values), types in alternatives.items()
        ],
    }


# The service's own policies (allowed for this role by the issue): backup/restore of the supported
# services, plus S3, which AWS Backup covers with separate policies.
BACKUP_SERVICE_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)


@dataclass(frozen=True)
class Vaults:
    primary: aws.backup.Vault
    dr: aws.backup.Vault


def backup_vaults(
    scope: Scope,
    *,
    primary_key_arn: pulumi.Input[str],
    dr_key_arn: pulumi.Input[str],
    topic_arn: pulumi.Input[str],
    lock: VaultLockSettings | None,
) -> Vaults:
    """The primary vault (with notifications) and the DR vault the copy actions target, each locked
    when Vault Lock is configured, so DR copies are as tamper-proof as the originals."""
    ctx, dr_scope = scope.ctx, scope.in_dr()
    on_primary, on_dr = scope.opts(), dr_scope.opts()
    primary = aws.backup.Vault(
        scope.child("vault"),
        name=scope.physical("vault", service="backup"),
        kms_key_arn=primary_key_arn,
        force_destroy=not ctx.is_prod,
        opts=scope.opts(stateful=True),
    )
    dr = aws.backup.Vault(
        scope.child("dr-vault"),
        name=scope.physical("dr-vault", service="backup"),
        kms_key_arn=dr_key_arn,
        force_destroy=not ctx.is_prod,
        opts=dr_scope.opts(stateful=True),
    )
    aws.backup.VaultNotifications(
        scope.child("vault-notifications"),
        backup_vault_name=primary.name,
        sns_topic_arn=topic_arn,
        backup_vault_events=list(VAULT_EVENTS),
        opts=on_primary,
    )
    if lock is not None:
        for purpose, vault, opts in (("vault-lock", primary, on_primary), ("dr-vault-lock", dr, on_dr)):
            aws.backup.VaultLockConfiguration(
                scope.child(purpose),
                backup_vault_name=vault.name,
                min_retention_days=lock.min_retention_days,
                max_retention_days=lock.max_retention_days,
                changeable_for_days=lock.changeable_for_days,
                opts=opts,
            )
    return Vaults(primary, dr)


def _lifecycle(rule: BackupRuleSettings) -> dict[str, int]:
    lifecycle = {"delete_after": rule.delete_after_days}
    if rule.cold_storage_after_days is not None:
        lifecycle["cold_storage_after"] = rule.cold_storage_after_days
    return lifecycle


def plan_rule(scope: Scope, rule_name: str, rule: BackupRuleSettings, vaults: Vaults) -> aws.backup.PlanRuleArgsDict:
    """One rule into the primary vault, copied to the DR vault with the same lifecycle."""
    ctx = scope.ctx
    return {
        "rule_name": rule_name,
        "target_vault_name": vaults.primary.name,
        "schedule": rule.schedule,
        "start_window": rule.start_window_minutes,
        "completion_window": rule.completion_window_minutes,
        "lifecycle": _lifecycle(rule),
        "recovery_point_tags": {
            "Environment": ctx.config.environment,
            "Project": ctx.project,
            "BackupType": rule_name.title(),
        },
        "copy_actions": [{"destination_vault_arn": vaults.dr.arn, "lifecycle": _lifecycle(rule)}],
    }


@dataclass(frozen=True)
class Protection:
    plan: aws.backup.Plan
    role: aws.iam.Role
    selection: aws.backup.Selection


def backup_plan(scope: Scope, args: BackupVaultArgs, vaults: Vaults) -> Protection:
    """The daily and weekly rules, and the selection of every resource tagged `BackupEnabled=true`."""
    ctx, child = scope.ctx, scope.opts()
    plan = aws.backup.Plan(
        scope.child("plan"),
        name=scope.physical("plan", service="backup"),
        rules=[plan_rule(scope, "daily", args.daily, vaults), plan_rule(scope, "weekly", args.weekly, vaults)],
        opts=child,
    )
    role = aws.iam.Role(
        scope.child("service-role"),
        name=scope.physical("backup-service", service="iam"),
        description="Role AWS Backup assumes to back up and restore the tagged resources",
        assume_role_policy=service_trust_policy("backup.amazonaws.com"),
        opts=child,
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            scope.child(f"service-role-{policy.rsplit('/', 1)[-1]}"),
            role=role.name,
            policy_arn=pulumi.Output.concat("arn:", ctx.partition, ":iam::aws:policy/", policy),
            opts=child,
        )
        for policy in BACKUP_SERVICE_POLICIES
    ]
    ((tag_key, tag_value),) = BACKUP_TAG.items()
    selection = aws.backup.Selection(
        scope.child("selection"),
        name=scope.physical("tagged", service="backup"),
        plan_id=plan.id,
        iam_role_arn=role.arn,
        selection_tags=[{"type": "STRINGEQUALS", "key": tag_key, "value": tag_value}],
        opts=scope.opts(depends_on=attachments),
    )
    return Protection(plan, role, selection)


# How long AWS Backup keeps a restored copy waiting for the validation function's verdict.
VALIDATION_WINDOW_HOURS = 2


@dataclass(frozen=True)
class DatabaseRestoreTarget:
    """Where an RDS restore test puts its instance: the primary's private subnets, a small class."""

    arn: pulumi.Input[str]
    subnet_group_name: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    instance_class: str


def restore_testing(
    scope: Scope,
    args: BackupVaultArgs,
    *,
    vault_arn: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    table_arn: pulumi.Input[str],
    bucket_arn: pulumi.Input[str],
    database: DatabaseRestoreTarget | None,
) -> aws.backup.RestoreTestingPlan:
    """Restore the latest recovery point of every protected type on a schedule (the app table, the data
    bucket into a new bucket, the database into the primary's private subnets); the validation function
    reports on each restored copy, which AWS Backup deletes after the validation window."""
    child = scope.opts()
    # Restore testing names allow only letters, digits and underscores.
    plan = aws.backup.RestoreTestingPlan(
        scope.child("restore-testing"),
        name=scope.physical("restore-test", service="backup").replace("-", "_"),
        schedule_expression=args.restore_testing_schedule,
        start_window_hours=1,
        recovery_point_selection={
            "algorithm": "LATEST_WITHIN_WINDOW",
            "include_vaults": [vault_arn],
            # S3 recovery points are continuous (point-in-time) or snapshots; tables and databases snapshots.
            "recovery_point_types": ["SNAPSHOT", "CONTINUOUS"],
            "selection_window_days": 7,
        },
        opts=child,
    )
    selections: list[tuple[str, str, pulumi.Input[str], dict[str, pulumi.Input[str]] | None]] = [
        ("table", "DynamoDB", table_arn, None),
        # AWS Backup restores an S3 recovery point into a new bucket it creates (inferred `newBucket`).
        ("bucket", "S3", bucket_arn, None),
    ]
    if database is not None:
        selections.append(
            (
                "database",
                "RDS",
                database.arn,
                {
                    "dbsubnetgroupname": database.subnet_group_name,
                    "dbinstanceclass": database.instance_class,
                    "vpcSecurityGroupIds": pulumi.Output.json_dumps([database.security_group_id]),
                },
            )
        )
    for label, resource_type, arn, overrides in selections:
        aws.backup.RestoreTestingSelection(
            scope.child(f"restore-testing-{label}"),
            name=f"app_{label}",
            restore_testing_plan_name=plan.name,
            protected_resource_type=resource_type,
            protected_resource_arns=[arn],
            iam_role_arn=role_arn,
            restore_metadata_overrides=overrides,
            validation_window_hours=VALIDATION_WINDOW_HOURS,
            opts=child,
        )
    return plan
