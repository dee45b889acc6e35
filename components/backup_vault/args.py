"""Typed arguments of the BackupVault component: the `backup` section of the stack configuration.

Everything AWS would refuse at `pulumi up` time (a lifecycle deleting recovery points less than 90
days after they reach cold storage, retention outside the Vault Lock range, Performance Insights on
an instance class that lacks it) is rejected here, before any resource is declared.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from components.config_types import Cidr, ComponentConfig, ConfigModel, RuleProblem, cidrs_overlap, rule

# AWS Backup keeps recovery points in cold storage for at least 90 days.
COLD_STORAGE_MINIMUM_DAYS = 90
_SCHEDULE = re.compile(r"^cron\(\S+( \S+){5}\)$")
# Backup jobs and Vault Lock accept at most 100 years.
MAX_RETENTION_DAYS = 36500


def _cron(value: str) -> str:
    if not _SCHEDULE.match(value):
        raise ValueError(f"{value!r} is not an EventBridge cron expression with six fields, e.g. cron(0 2 * * ? *)")
    return value


class BackupRuleSettings(ConfigModel):
    """One scheduled backup rule; its copy to the DR vault uses the same lifecycle."""

    schedule: str = Field(description="When the rule starts a backup (cron, UTC).")
    start_window_minutes: int = Field(
        60, ge=60, le=52_560_000, description="Minutes a scheduled job may wait to start (AWS minimum 60)."
    )
    completion_window_minutes: int = Field(
        description="Minutes, from the scheduled time, within which a job must complete.",
        ge=61,
        le=52_560_000,
    )
    cold_storage_after_days: int | None = Field(
        None, ge=1, description="Days until recovery points move to cold storage; null keeps them warm."
    )
    delete_after_days: int = Field(ge=1, le=MAX_RETENTION_DAYS, description="Days until recovery points expire.")

    @field_validator("schedule")
    @classmethod
    def _schedule_is_cron(cls, value: str) -> str:
        return _cron(value)

    @rule("completion_window_minutes", "start_window_minutes")
    def _windows_in_order(self) -> list[RuleProblem]:
        if self.completion_window_minutes <= self.start_window_minutes:
            return [
                f"completionWindowMinutes ({self.completion_window_minutes}) must be greater than "
                f"startWindowMinutes ({self.start_window_minutes}): both count from the scheduled time"
            ]
        return []

    @rule("cold_storage_after_days", "delete_after_days")
    def _cold_storage_minimum(self) -> list[RuleProblem]:
        cold = self.cold_storage_after_days
        if cold is not None and self.delete_after_days < cold + COLD_STORAGE_MINIMUM_DAYS:
            return [
                f"deleteAfterDays ({self.delete_after_days}) must be at least coldStorageAfterDays ({cold}) + "
                f"{COLD_STORAGE_MINIMUM_DAYS} = {cold + COLD_STORAGE_MINIMUM_DAYS}: AWS Backup keeps recovery points "
                f"in cold storage for at least {COLD_STORAGE_MINIMUM_DAYS} days"
            ]
        return []


class VaultLockSettings(ConfigModel):
    """AWS Backup Vault Lock on both vaults: recovery points cannot be deleted early, even by admins."""

    min_retention_days: int = Field(ge=1, le=MAX_RETENTION_DAYS, description="Shortest retention a job may set.")
    max_retention_days: int = Field(ge=1, le=MAX_RETENTION_DAYS, description="Longest retention a job may set.")
    changeable_for_days: int | None = Field(
        3,
        ge=3,
        description="Grace days before the lock becomes immutable (compliance mode); null = governance mode.",
    )

    @rule("min_retention_days", "max_retention_days")
    def _range(self) -> list[RuleProblem]:
        if self.min_retention_days > self.max_retention_days:
            return [
                f"minRetentionDays ({self.min_retention_days}) must not exceed maxRetentionDays "
                f"({self.max_retention_days})"
            ]
        return []


# Instance classes without Performance Insights support for MySQL.
_NO_PERFORMANCE_INSIGHTS = re.compile(r"^db\.(t2|t3|t4g)\.(micro|small)$")
_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")


def _instance_class(value: str) -> str:
    if not _INSTANCE_CLASS.match(value):
        raise ValueError(f"{value!r} is not an RDS instance class such as db.t4g.medium")
    if _NO_PERFORMANCE_INSIGHTS.match(value):
        raise ValueError(f"{value!r} has no Performance Insights for MySQL; use db.t4g.medium or larger")
    return value


class DatabaseSettings(ConfigModel):
    """Optional RDS MySQL primary with a cross-region read replica (the pilot-light database)."""

    enabled: bool = Field(False, description="Create the MySQL primary and its cross-region read replica.")
    engine_version: str = Field("8.0", pattern=r"^8\.\d+(\.\d+)?$", description="MySQL engine version (8.x).")
    instance_class: str = Field("db.t4g.medium", description="Instance class of the primary.")
    restore_test_instance_class: str = Field(
        "db.t4g.medium",
        description="Instance class of the database copies restore tests create and delete (the restored copy "
        "keeps Performance Insights, so the class must support it).",
    )
    replica_instance_class: str = Field(
        "db.t4g.medium", description="Instance class of the DR replica while on standby (may be smaller)."
    )
    standby_scale_up_instance_class: str | None = Field(
        None, description="Class the DR function scales the standby to (warm standby); default: instanceClass."
    )
    allocated_storage_gb: int = Field(20, ge=20, le=65536, description="Initial gp3 storage in GiB.")
    max_allocated_storage_gb: int = Field(100, ge=20, le=65536, description="Storage autoscaling ceiling in GiB.")
    multi_az: bool = Field(False, description="Standby in a second AZ for the primary.")
    backup_retention_days: int = Field(7, ge=1, le=35, description="RDS automated backup retention in days.")
    monitoring_interval_seconds: Literal[1, 5, 10, 15, 30, 60] = Field(
        60, description="Enhanced Monitoring granularity in seconds."
    )
    performance_insights_retention_days: int = Field(
        7, description="Performance Insights retention: 7, or a multiple of 31 up to 731."
    )
    vpc_cidr: Cidr = Field("10.40.0.0/16", description="CIDR of the database VPC in the primary region.")
    dr_vpc_cidr: Cidr = Field("10.41.0.0/16", description="CIDR of the database VPC in the DR region.")

    @field_validator(
        "instance_class", "replica_instance_class", "standby_scale_up_instance_class", "restore_test_instance_class"
    )
    @classmethod
    def _known_class(cls, value: str | None) -> str | None:
        return value if value is None else _instance_class(value)

    @field_validator("performance_insights_retention_days")
    @classmethod
    def _pi_retention(cls, value: int) -> int:
        if value != 7 and not (value % 31 == 0 and 31 <= value <= 731):
            raise ValueError(f"{value} is not a Performance Insights retention; allowed: 7 or 31, 62, ... 731")
        return value

    @rule("allocated_storage_gb", "max_allocated_storage_gb")
    def _storage_ceiling(self) -> list[RuleProblem]:
        if self.max_allocated_storage_gb < self.allocated_storage_gb:
            return [
                f"maxAllocatedStorageGb ({self.max_allocated_storage_gb}) must be at least "
                f"allocatedStorageGb ({self.allocated_storage_gb})"
            ]
        return []

    @rule("vpc_cidr", "dr_vpc_cidr")
    def _vpcs_can_peer(self) -> list[RuleProblem]:
        if cidrs_overlap(self.vpc_cidr, self.dr_vpc_cidr):
            return [
                f"vpcCidr {self.vpc_cidr} and drVpcCidr {self.dr_vpc_cidr} overlap; use distinct ranges so the "
                "VPCs can peer (e.g. 10.40.0.0/16 and 10.41.0.0/16)"
            ]
        return []

    @property
    def standby_target_class(self) -> str:
        return self.standby_scale_up_instance_class or self.instance_class


class BackupVaultArgs(ComponentConfig):
    """Settings of the BackupVault component, with production-sensible defaults."""

    daily: BackupRuleSettings = Field(
        BackupRuleSettings(
            schedule="cron(0 2 * * ? *)",
            start_window_minutes=60,
            completion_window_minutes=120,
            cold_storage_after_days=30,
            delete_after_days=365,
        ),
        description="Daily backup rule (article: 02:00 UTC, cold after 30 days, delete after 365).",
    )
    weekly: BackupRuleSettings = Field(
        BackupRuleSettings(
            schedule="cron(0 3 ? * SUN *)",
            start_window_minutes=60,
            completion_window_minutes=180,
            cold_storage_after_days=7,
            delete_after_days=2555,
        ),
        description="Weekly backup rule (article: Sunday 03:00 UTC, cold after 7 days, delete after 7 years).",
    )
    vault_lock: VaultLockSettings | None = Field(
        None, description="Vault Lock on the primary and DR vaults; null leaves the vaults unlocked."
    )
    replication: Literal["lambda", "globalTable"] = Field(
        "lambda",
        description="How the app table reaches the DR region: stream + replication Lambda, or a global table replica.",
    )
    replication_batch_size: int = Field(100, ge=1, le=10000, description="Stream records per replication invocation.")
    replication_batching_window_seconds: int = Field(
        5, ge=0, le=300, description="Seconds the stream poller waits to fill a batch."
    )
    replication_max_retries: int = Field(
        10, ge=0, le=10000, description="Retries of a failing stream batch before it goes to the failure queue."
    )
    validation_schedule: str = Field(
        "cron(0 8 * * ? *)", description="When the backup-validation function runs (after both backup windows)."
    )
    restore_testing: bool = Field(True, description="Restore-test the app table's latest recovery point weekly.")
    restore_testing_schedule: str = Field("cron(0 5 ? * SAT *)", description="When restore tests start (cron, UTC).")
    database: DatabaseSettings = Field(DatabaseSettings(), description="Optional RDS MySQL primary + DR replica.")
    compliance_reports: bool = Field(
        True,
        description="AWS Backup Audit Manager framework (plan frequency/retention, encryption, cross-region copy, "
        "Vault Lock when set) with a daily compliance report into an encrypted bucket. Needs AWS Config recording "
        "in the account and the bootstrap stack's backup-reports service-linked role.",
    )
    report_retention_days: int = Field(
        2555, ge=30, le=MAX_RETENTION_DAYS, description="Days compliance reports are kept (default 7 years)."
    )

    @field_validator("validation_schedule", "restore_testing_schedule")
    @classmethod
    def _schedules_are_cron(cls, value: str) -> str:
        return _cron(value)

    @rule("vault_lock", "daily", "weekly")
    def _retention_within_vault_lock(self) -> list[RuleProblem]:
        lock = self.vault_lock
        if lock is None:
            return []
        return [
            f"{key}.deleteAfterDays ({settings.delete_after_days}) is outside vaultLock "
            f"[minRetentionDays {lock.min_retention_days}, maxRetentionDays {lock.max_retention_days}]: "
            "AWS Backup would fail every job of that rule"
            for key, settings in (("daily", self.daily), ("weekly", self.weekly))
            if not lock.min_retention_days <= settings.delete_after_days <= lock.max_retention_days
        ]
