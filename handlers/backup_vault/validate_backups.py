"""Daily check of the last 24 hours of AWS Backup jobs: counts by state and one alert for problems.

Reads every page of backup jobs into the primary vault and of copy jobs into the DR vault (the
article read only the first page and crashed on a missing `import os`). When any job failed,
expired, was aborted or finished only partially, one SNS message lists each with its resource ARN and status message.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from handlers.common import aws
from handlers.common.log import get_logger

LOG = get_logger("backup_vault.validate_backups")

# A job in one of these states produced no usable recovery point, or (PARTIAL: some resources of a
# composite backup or copy were left out) not a complete one.
PROBLEM_STATES = frozenset({"FAILED", "EXPIRED", "ABORTED", "PARTIAL"})
LOOKBACK = timedelta(hours=24)
SNS_SUBJECT_LIMIT = 100
# SNS rejects messages over 256 KiB; a mass failure must still produce its alert, so the job list
# is cut to fit (with the count left out) rather than the publish failing.
SNS_MESSAGE_LIMIT_BYTES = 256 * 1024


@dataclass(frozen=True)
class JobProblem:
    kind: str  # "backup" or "copy"
    job_id: str
    state: str
    resource_arn: str
    message: str


@dataclass(frozen=True)
class JobSummary:
    backup_counts: Mapping[str, int]
    copy_counts: Mapping[str, int]
    problems: list[JobProblem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.backup_counts.values()) + sum(self.copy_counts.values())


def list_backup_jobs(client: Any, vault_name: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every backup job into the vault created in [start, end), across all pages."""
    jobs: list[dict[str, Any]] = []
    pages = client.get_paginator("list_backup_jobs").paginate(
        ByBackupVaultName=vault_name, ByCreatedAfter=start, ByCreatedBefore=end
    )
    for page in pages:
        jobs.extend(page.get("BackupJobs", []))
    return jobs


def list_copy_jobs(client: Any, destination_vault_arn: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every cross-region copy job into the DR vault created in [start, end), across all pages."""
    jobs: list[dict[str, Any]] = []
    pages = client.get_paginator("list_copy_jobs").paginate(
        ByDestinationVaultArn=destination_vault_arn, ByCreatedAfter=start, ByCreatedBefore=end
    )
    for page in pages:
        jobs.extend(page.get("CopyJobs", []))
    return jobs


def summarize(backup_jobs: Iterable[Mapping[str, Any]], copy_jobs: Iterable[Mapping[str, Any]]) -> JobSummary:
    """Counts per state for each kind of job, and every job that left no usable recovery point."""
    backup_jobs, copy_jobs = list(backup_jobs), list(copy_jobs)
    problems = [
        JobProblem(
            "backup",
            j["BackupJobId"],
            j["State"],
            j.get("ResourceArn", "?"),
            j.get("StatusMessage", "no status message"),
        )
        for j in backup_jobs
        if j.get("State") in PROBLEM_STATES
    ] + [
        JobProblem(
            "copy", j["CopyJobId"], j["State"], j.get("ResourceArn", "?"), j.get("StatusMessage", "no status message")
        )
        for j in copy_jobs
        if j.get("State") in PROBLEM_STATES
    ]
    return JobSummary(
        backup_counts=dict(sorted(Counter(j.get("State", "UNKNOWN") for j in backup_jobs).items())),
        copy_counts=dict(sorted(Counter(j.get("State", "UNKNOWN") for j in copy_jobs).items())),
        problems=problems,
    )


def alert_subject(summary: JobSummary, vault_name: str) -> str:
    return f"AWS Backup: {len(summary.problems)} problem job(s) for {vault_name}"[:SNS_SUBJECT_LIMIT]


def alert_message(
    summary: JobSummary,
    vault_name: str,
    start: datetime,
    end: datetime,
    limit_bytes: int = SNS_MESSAGE_LIMIT_BYTES,
) -> str:
    """A message an operator can act on: which resource, which job, what AWS Backup said."""
    lines = [
        f"{len(summary.problems)} AWS Backup job(s) for vault {vault_name} failed, expired, were aborted "
        "or completed only partially "
        f"between {start.isoformat()} and {end.isoformat()}.",
        f"Backup jobs by state: {dict(summary.backup_counts)}",
        f"Copy jobs to the DR vault by state: {dict(summary.copy_counts)}",
        "",
    ]
    # Room for the "... more" line, which is at most this long.
    budget = limit_bytes - len("\n".join(lines).encode()) - 200
    for listed, problem in enumerate(summary.problems):
        entry = "\n".join(
            [
                f"- {problem.kind} job {problem.job_id} {problem.state}",
                f"  resource: {problem.resource_arn}",
                f"  message: {problem.message}",
            ]
        )
        size = len(entry.encode()) + 1
        if size > budget:
            lines.append(
                f"... and {len(summary.problems) - listed} more problem job(s) not listed (message size limit); "
                "list them with `aws backup list-backup-jobs` / `list-copy-jobs` for this window."
            )
            break
        budget -= size
        lines.append(entry)
    return "\n".join(lines)


def validate(
    backup: Any,
    sns: Any,
    *,
    vault_name: str,
    dr_vault_arn: str,
    topic_arn: str,
    now: datetime,
) -> dict[str, Any]:
    """Check the last 24 h of jobs; publish one alert when any job has a problem; say what was found."""
    start = now - LOOKBACK
    summary = summarize(
        list_backup_jobs(backup, vault_name, start, now),
        list_copy_jobs(backup, dr_vault_arn, start, now),
    )
    result: dict[str, Any] = {
        "window": {"from": start.isoformat(), "to": now.isoformat()},
        "vault": vault_name,
        "backupJobsByState": dict(summary.backup_counts),
        "copyJobsByState": dict(summary.copy_counts),
        "problemJobs": [p.job_id for p in summary.problems],
    }
    if not summary.problems:
        result.update(
            status="OK", alerted=False, message=f"no failed, expired, aborted or partial jobs among {summary.total}"
        )
        LOG.info("backup jobs healthy", extra={"result": result})
        return result
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=alert_subject(summary, vault_name),
        Message=alert_message(summary, vault_name, start, now),
    )
    result.update(status="ALERT", alerted=True, messageId=response["MessageId"])
    LOG.warning("backup job problems found", extra={"result": result})
    return result


# Listing jobs pages through at most a day of jobs; publishing is one small call.
BACKUP_READS = aws.CallPolicy(attempts=4, connect_timeout=3.0, read_timeout=15.0)
ALERT_PUBLISH = aws.CallPolicy(attempts=4, connect_timeout=3.0, read_timeout=10.0)


@cache
def _clients() -> tuple[Any, Any]:
    return aws.client("backup", BACKUP_READS), aws.client("sns", ALERT_PUBLISH)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    backup, sns = _clients()
    return validate(
        backup,
        sns,
        vault_name=os.environ["VAULT_NAME"],
        dr_vault_arn=os.environ["DR_VAULT_ARN"],
        topic_arn=os.environ["ALERT_TOPIC_ARN"],
        now=datetime.now(UTC),
    )
