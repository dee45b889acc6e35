"""What a job run tells the orchestration: its optional arguments and its row counts."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pyspark.sql import SparkSession

from glue.etl.output import bucket_uri, write_object
from glue.etl.quality import QualityReport

RUN_SUMMARY_KEY = "run-summary-key"


def job_arguments(argv: Sequence[str], required: Sequence[str], optional: Sequence[str]) -> list[str]:
    """Names for getResolvedOptions: every required one, and the optional ones the run was given
    (getResolvedOptions treats every name it is asked for as required)."""
    return [*required, *(name for name in optional if f"--{name}" in argv)]


def nothing_read(entity: str) -> QualityReport:
    """The report of a run whose bookmark handed it no new objects."""
    return QualityReport(entity=entity, total=0, passed=0)


def write_run_summary(spark: SparkSession, bucket: str, key: str | None, report: QualityReport) -> None:
    """Row counts as JSON at `key` in `bucket` (when the orchestration asked for them)."""
    if key is None:
        return
    write_object(spark, f"{bucket_uri(bucket)}/{key}", json.dumps(report.counts(), sort_keys=True))
