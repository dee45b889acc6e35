"""Typed arguments of the DataLake component: the `dataLake` section of the stack configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.config_types import ComponentConfig, ConfigModel, LogRetentionDays, RuleProblem, rule

WorkerType = Literal["G.1X", "G.2X", "G.4X", "G.8X"]

# Athena refuses a per-query data usage control below 10 MB.
MIN_BYTES_SCANNED_CUTOFF = 10 * 1024 * 1024


class GlueJobSettings(ConfigModel):
    """Capacity and failure handling of one Glue Spark job."""

    worker_type: WorkerType = Field("G.1X", description="Glue worker type (G.1X = 4 vCPU, 16 GB).")
    number_of_workers: int = Field(
        2, ge=2, le=299, description="Workers per run (Spark needs a driver and one executor)."
    )
    timeout_minutes: int = Field(60, ge=1, le=2880, description="Minutes before a run is stopped and marked TIMEOUT.")
    max_retries: int = Field(2, ge=0, le=10, description="Automatic retries of a failed run.")


class DataLakeArgs(ComponentConfig):
    """Settings of the DataLake component, with production-sensible defaults (the article's values)."""

    glue_version: Literal["5.0", "5.1"] = Field(
        "5.1", description="Glue version of the Spark jobs (5.1 = Spark 3.5.6, Python 3.11, what the tests run)."
    )
    customer_transform: GlueJobSettings = Field(
        GlueJobSettings(),
        description="Customer transform job: workerType, numberOfWorkers, timeoutMinutes, maxRetries.",
    )
    sales_aggregation: GlueJobSettings = Field(
        GlueJobSettings(number_of_workers=5, timeout_minutes=120),
        description="Sales aggregation job: workerType, numberOfWorkers, timeoutMinutes, maxRetries.",
    )
    top_products_per_month: int = Field(
        10, ge=1, le=1000, description="Products kept per month in top_products_monthly."
    )
    raw_infrequent_access_days: int = Field(30, ge=30, description="Days before raw objects move to Standard-IA.")
    raw_glacier_days: int = Field(90, ge=1, description="Days before raw objects move to Glacier Flexible Retrieval.")
    raw_deep_archive_days: int = Field(365, ge=1, description="Days before raw objects move to Glacier Deep Archive.")
    results_expiration_days: int = Field(30, ge=1, description="Days Athena query results are kept.")
    temp_expiration_days: int = Field(7, ge=1, description="Days Glue temporary files (temp/) are kept.")
    spark_logs_expiration_days: int = Field(30, ge=1, description="Days Spark UI event logs (spark-logs/) are kept.")
    noncurrent_version_expiration_days: int = Field(
        90, ge=1, description="Days an overwritten or deleted object version is kept in the versioned buckets."
    )
    bytes_scanned_cutoff_per_query: int = Field(
        10 * 1024**3,
        ge=MIN_BYTES_SCANNED_CUTOFF,
        description="Athena cancels a query of the workgroup once it scans more bytes than this (minimum 10 MB).",
    )
    access_logging: bool = Field(False, description="Write S3 server access logs of the lake buckets to a log bucket.")
    access_log_expiration_days: int = Field(365, ge=1, description="Days S3 server access logs are kept.")
    glue_log_retention_days: LogRetentionDays = Field(30, description="Retention of the Glue job log groups.")
    lambda_log_retention_days: LogRetentionDays = Field(14, description="Retention of the Lambda log groups.")
    sample_data_generator: bool = Field(True, description="Deploy the Lambda that writes sample feeds into raw/.")
    trigger_reserved_concurrency: int = Field(
        5, ge=1, le=100, description="Reserved concurrency of the ingestion trigger (crawler starts are idempotent)."
    )
    partition_projection_first_year: int = Field(
        2020, ge=1970, le=2100, description="First year Athena projects for the year/month partitioned sales tables."
    )

    @rule("raw_infrequent_access_days", "raw_glacier_days", "raw_deep_archive_days")
    def _storage_classes_in_order(self) -> list[RuleProblem]:
        # S3 lifecycle rules require 30 days in Standard-IA before Glacier, and Deep Archive after Glacier.
        problems: list[RuleProblem] = []
        if self.raw_glacier_days < self.raw_infrequent_access_days + 30:
            problems.append(
                f"rawGlacierDays ({self.raw_glacier_days}) must be at least rawInfrequentAccessDays "
                f"({self.raw_infrequent_access_days}) + 30: S3 keeps objects 30 days in Standard-IA"
            )
        if self.raw_deep_archive_days <= self.raw_glacier_days:
            problems.append(
                f"rawDeepArchiveDays ({self.raw_deep_archive_days}) must be later than rawGlacierDays "
                f"({self.raw_glacier_days})"
            )
        return problems
