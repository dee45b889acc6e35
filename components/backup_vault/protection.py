"""AWS Backup itself: the primary and DR vaults, notifications, Vault Lock, the plan, the tag-based
selection and restore testing of the app table."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_vault.args import BackupRuleSettings, BackupVaultArgs, VaultLockSettings
from components.context import BACKUP_TAG, StackContext
from components.iam import service_trust_policy

COMPONENT = "backup"

VAULT_EVENTS = (
    "BACKUP_JOB_STARTED",
    "BACKUP_JOB_COMPLETED",
    "BACKUP_JOB_FAILED",
    "RESTORE_JOB_STARTED",
    "RESTORE_JOB_COMPLETED",
    "RESTORE_JOB_FAILED",
)

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
    ctx: StackContext,
    parent: pulumi.Resource,
    *,
    primary_key_arn: pulumi.Input[str],
    dr_key_arn: pulumi.Input[str],
    topic_arn: pulumi.Input[str],
    lock: VaultLockSettings | None,
) -> Vaults:
    """The primary vault (with notifications) and the DR vault the copy actions target, each locked
    when Vault Lock is configured, so DR copies are as tamper-proof as the originals."""
    on_primary = pulumi.ResourceOptions(parent=parent)
    on_dr = pulumi.ResourceOptions(parent=parent, provider=ctx.dr)
    primary = aws.backup.Vault(
        "backup-vault",
        name=ctx.name(COMPONENT, "vault", service="backup"),
        kms_key_arn=primary_key_arn,
        force_destroy=not ctx.is_prod,
        opts=ctx.stateful(on_primary),
    )
    dr = aws.backup.Vault(
        "backup-dr-vault",
        name=ctx.name(COMPONENT, "dr-vault", service="backup"),
        kms_key_arn=dr_key_arn,
        force_destroy=not ctx.is_prod,
        opts=ctx.stateful(on_dr),
    )
    aws.backup.VaultNotifications(
        "backup-vault-notifications",
        backup_vault_name=primary.name,
        sns_topic_arn=topic_arn,
        backup_vault_events=list(VAULT_EVENTS),
        opts=on_primary,
    )
    if lock is not None:
        for name, vault, opts in (("backup-vault-lock", primary, on_primary), ("backup-dr-vault-lock", dr, on_dr)):
            aws.backup.VaultLockConfiguration(
                name,
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


def plan_rule(
    ctx: StackContext, rule_name: str, rule: BackupRuleSettings, vaults: Vaults
) -> aws.backup.PlanRuleArgsDict:
    """One rule into the primary vault, copied to the DR vault with the same lifecycle."""
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


def backup_plan(ctx: StackContext, parent: pulumi.Resource, args: BackupVaultArgs, vaults: Vaults) -> Protection:
    """The daily and weekly rules, and the selection of every resource tagged `BackupEnabled=true`."""
    child = pulumi.ResourceOptions(parent=parent)
    plan = aws.backup.Plan(
        "backup-plan",
        name=ctx.name(COMPONENT, "plan", service="backup"),
        rules=[plan_rule(ctx, "daily", args.daily, vaults), plan_rule(ctx, "weekly", args.weekly, vaults)],
        opts=child,
    )
    role = aws.iam.Role(
        "backup-service-role",
        name=ctx.name(COMPONENT, "backup-service", service="iam"),
        description="Role AWS Backup assumes to back up and restore the tagged resources",
        assume_role_policy=service_trust_policy("backup.amazonaws.com"),
        opts=child,
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"backup-service-role-{policy.rsplit('/', 1)[-1]}",
            role=role.name,
            policy_arn=pulumi.Output.concat("arn:", ctx.partition, ":iam::aws:policy/", policy),
            opts=child,
        )
        for policy in BACKUP_SERVICE_POLICIES
    ]
    ((tag_key, tag_value),) = BACKUP_TAG.items()
    selection = aws.backup.Selection(
        "backup-selection",
        name=ctx.name(COMPONENT, "tagged", service="backup"),
        plan_id=plan.id,
        iam_role_arn=role.arn,
        selection_tags=[{"type": "STRINGEQUALS", "key": tag_key, "value": tag_value}],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=attachments),
    )
    return Protection(plan, role, selection)


def restore_testing(
    ctx: StackContext,
    parent: pulumi.Resource,
    args: BackupVaultArgs,
    *,
    vault_arn: pulumi.Input[str],
    table_arn: pulumi.Input[str],
    role_arn: pulumi.Input[str],
) -> aws.backup.RestoreTestingPlan:
    """Restore the app table's latest recovery point on a schedule; AWS Backup deletes the copy afterwards."""
    child = pulumi.ResourceOptions(parent=parent)
    # Restore testing names allow only letters, digits and underscores.
    plan = aws.backup.RestoreTestingPlan(
        "backup-restore-testing",
        name=ctx.name(COMPONENT, "restore-test", service="backup").replace("-", "_"),
        schedule_expression=args.restore_testing_schedule,
        start_window_hours=1,
        recovery_point_selection={
            "algorithm": "LATEST_WITHIN_WINDOW",
            "include_vaults": [vault_arn],
            "recovery_point_types": ["SNAPSHOT"],
            "selection_window_days": 7,
        },
        opts=child,
    )
    aws.backup.RestoreTestingSelection(
        "backup-restore-testing-table",
        name="app_table",
        restore_testing_plan_name=plan.name,
        protected_resource_type="DynamoDB",
        protected_resource_arns=[table_arn],
        iam_role_arn=role_arn,
        opts=child,
    )
    return plan
