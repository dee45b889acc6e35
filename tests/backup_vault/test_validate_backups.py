"""Backup validation: every page of jobs read, counts by state, one SNS alert that an operator can act on.

moto has no ListBackupJobs/ListCopyJobs, so the backup client is a botocore Stubber (requests and
responses are checked against the real service model, including NextToken on the second page); SNS
and the subscribed SQS queue the alert lands in are moto.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from handlers.backup_vault import validate_backups as module
from handlers.backup_vault.validate_backups import LOOKBACK, summarize, validate
from tests.backup_vault.conftest import PRIMARY_REGION

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
START = NOW - LOOKBACK
VAULT = "platform-prod-backup-vault"
DR_VAULT_ARN = "arn:aws:backup:us-west-2:123456789012:backup-vault:platform-prod-backup-dr-vault"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/platform-prod-backup-data"
DB_ARN = "arn:aws:rds:us-east-1:123456789012:db:platform-prod-backup-db"
BUCKET_ARN = "arn:aws:s3:::platform-prod-backup-data"


def backup_job(job_id: str, state: str, resource: str, message: str | None = None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "BackupJobId": job_id,
        "BackupVaultName": VAULT,
        "ResourceArn": resource,
        "State": state,
        "CreationDate": NOW - timedelta(hours=3),
    }
    if message:
        job["StatusMessage"] = message
    return job


def copy_job(job_id: str, state: str, resource: str, message: str | None = None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "CopyJobId": job_id,
        "DestinationBackupVaultArn": DR_VAULT_ARN,
        "ResourceArn": resource,
        "State": state,
        "CreationDate": NOW - timedelta(hours=2),
    }
    if message:
        job["StatusMessage"] = message
    return job


@pytest.fixture
def alerts(aws: None) -> dict[str, Any]:
    """An SNS topic with an SQS subscriber, so the test reads exactly what operators would receive."""
    sns = boto3.client("sns", region_name=PRIMARY_REGION)
    sqs = boto3.client("sqs", region_name=PRIMARY_REGION)
    topic_arn = sns.create_topic(Name="backup-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="operator-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"})
    return {"sns": sns, "sqs": sqs, "topic_arn": topic_arn, "queue_url": queue_url}


def received(alerts: dict[str, Any]) -> list[dict[str, Any]]:
    messages = alerts["sqs"].receive_message(QueueUrl=alerts["queue_url"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def stubbed_backup(
    backup_pages: list[list[dict[str, Any]]], copy_pages: list[list[dict[str, Any]]]
) -> tuple[Any, Stubber]:
    client = boto3.client("backup", region_name=PRIMARY_REGION)
    stubber = Stubber(client)
    for index, jobs in enumerate(backup_pages):
        expected = {"ByBackupVaultName": VAULT, "ByCreatedAfter": START, "ByCreatedBefore": NOW}
        if index:
            expected["NextToken"] = f"backup-page-{index}"
        response: dict[str, Any] = {"BackupJobs": jobs}
        if index < len(backup_pages) - 1:
            response["NextToken"] = f"backup-page-{index + 1}"
        stubber.add_response("list_backup_jobs", response, expected)
    for index, jobs in enumerate(copy_pages):
        expected = {"ByDestinationVaultArn": DR_VAULT_ARN, "ByCreatedAfter": START, "ByCreatedBefore": NOW}
        if index:
            expected["NextToken"] = f"copy-page-{index}"
        response = {"CopyJobs": jobs}
        if index < len(copy_pages) - 1:
            response["NextToken"] = f"copy-page-{index + 1}"
        stubber.add_response("list_copy_jobs", response, expected)
    stubber.activate()
    return client, stubber


def run(backup: Any, alerts: dict[str, Any]) -> dict[str, Any]:
    return validate(
        backup, alerts["sns"], vault_name=VAULT, dr_vault_arn=DR_VAULT_ARN, topic_arn=alerts["topic_arn"], now=NOW
    )


def test_problems_on_later_pages_are_found_and_alerted_once(alerts) -> None:
    page_one = [backup_job(f"ok-{i}", "COMPLETED", TABLE_ARN) for i in range(3)]
    page_two = [
        backup_job("job-failed", "FAILED", DB_ARN, "Insufficient privileges to perform this action."),
        backup_job("job-running", "RUNNING", BUCKET_ARN),
    ]
    page_three = [backup_job("job-expired", "EXPIRED", BUCKET_ARN, "Backup job expired: start window elapsed.")]
    copies = [
        [copy_job("copy-ok", "COMPLETED", TABLE_ARN)],
        [copy_job("copy-failed", "FAILED", TABLE_ARN, "Access denied to DR key")],
    ]
    backup, stubber = stubbed_backup([page_one, page_two, page_three], copies)

    result = run(backup, alerts)

    stubber.assert_no_pending_responses()  # every page, backup and copy, was requested
    assert result["status"] == "ALERT"
    assert result["backupJobsByState"] == {"COMPLETED": 3, "EXPIRED": 1, "FAILED": 1, "RUNNING": 1}
    assert result["copyJobsByState"] == {"COMPLETED": 1, "FAILED": 1}
    assert result["problemJobs"] == ["job-failed", "job-expired", "copy-failed"]
    [alert] = received(alerts)
    assert alert["Subject"] == f"AWS Backup: 3 problem job(s) for {VAULT}"
    body = alert["Message"]
    assert alert["MessageId"] == result["messageId"]
    for expected in (
        "- backup job job-failed FAILED",
        f"  resource: {DB_ARN}",
        "  message: Insufficient privileges to perform this action.",
        "- backup job job-expired EXPIRED",
        f"  resource: {BUCKET_ARN}",
        "  message: Backup job expired: start window elapsed.",
        "- copy job copy-failed FAILED",
        "  message: Access denied to DR key",
    ):
        assert expected in body.splitlines()
    assert "ok-0" not in body and "job-running" not in body


def test_healthy_jobs_give_a_clear_result_and_no_alert(alerts) -> None:
    backup, stubber = stubbed_backup(
        [[backup_job("a", "COMPLETED", TABLE_ARN)], [backup_job("b", "COMPLETED", DB_ARN)]], [[]]
    )

    result = run(backup, alerts)

    stubber.assert_no_pending_responses()
    assert result["status"] == "OK"
    assert result["alerted"] is False
    assert result["message"] == "no failed, expired, aborted or partial jobs among 2"
    assert result["backupJobsByState"] == {"COMPLETED": 2}
    assert received(alerts) == []


def test_no_jobs_at_all_is_reported_as_such(alerts) -> None:
    backup, _ = stubbed_backup([[]], [[]])

    result = run(backup, alerts)

    assert result["status"] == "OK"
    assert result["message"] == "no failed, expired, aborted or partial jobs among 0"
    assert result["backupJobsByState"] == {} and result["copyJobsByState"] == {}


def test_handler_reads_its_wiring_from_the_environment(alerts, monkeypatch) -> None:
    backup = boto3.client("backup", region_name=PRIMARY_REGION)
    stubber = Stubber(backup)
    stubber.add_response("list_backup_jobs", {"BackupJobs": [backup_job("f", "ABORTED", TABLE_ARN, "Aborted by user")]})
    stubber.add_response("list_copy_jobs", {"CopyJobs": []})
    stubber.activate()
    monkeypatch.setenv("VAULT_NAME", VAULT)
    monkeypatch.setenv("DR_VAULT_ARN", DR_VAULT_ARN)
    monkeypatch.setenv("ALERT_TOPIC_ARN", alerts["topic_arn"])
    monkeypatch.setattr(module, "_clients", lambda: (backup, alerts["sns"]))

    result = module.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)

    assert result["status"] == "ALERT"
    assert result["problemJobs"] == ["f"]
    assert "message: Aborted by user" in received(alerts)[0]["Message"]


def test_summarize_counts_unknown_messages_explicitly() -> None:
    summary = summarize([backup_job("x", "FAILED", TABLE_ARN)], [])
    assert summary.problems[0].message == "no status message"
    assert summary.total == 1


def test_a_mass_failure_still_alerts_within_the_sns_size_limit(alerts) -> None:
    reason = "Unable to perform dynamodb:CreateBackup: the request was denied by the key policy. " * 5
    failed = [backup_job(f"job-{i:04d}", "FAILED", f"{TABLE_ARN}-{i}", reason) for i in range(1000)]
    backup, _ = stubbed_backup([failed], [[]])

    result = run(backup, alerts)

    assert result["status"] == "ALERT"
    assert len(result["problemJobs"]) == 1000
    body = module.alert_message(summarize(failed, []), VAULT, START, NOW)
    assert len(body.encode()) <= module.SNS_MESSAGE_LIMIT_BYTES
    listed = [line for line in body.splitlines() if line.startswith("- backup job ")]
    assert 100 < len(listed) < 1000
    assert listed[-1] == f"- backup job job-{len(listed) - 1:04d} FAILED"
    assert body.splitlines()[-1].startswith(f"... and {1000 - len(listed)} more problem job(s) not listed")


def test_alert_message_lists_everything_when_it_fits() -> None:
    problems = [backup_job("a", "FAILED", TABLE_ARN, "x"), backup_job("b", "EXPIRED", DB_ARN, "y")]
    body = module.alert_message(summarize(problems, []), VAULT, START, NOW, limit_bytes=2000)
    assert "more problem job(s)" not in body
    cut = module.alert_message(summarize(problems, []), VAULT, START, NOW, limit_bytes=len(body.encode()) + 150)
    assert "- backup job a FAILED" in cut and "- backup job b EXPIRED" not in cut
    assert cut.splitlines()[-1].startswith("... and 1 more problem job(s) not listed")


def test_a_partial_backup_or_copy_is_a_problem(alerts) -> None:
    backup, _ = stubbed_backup(
        [[backup_job("p", "PARTIAL", BUCKET_ARN, "Some objects could not be backed up")]],
        [[copy_job("c", "PARTIAL", BUCKET_ARN)], [copy_job("ok", "COMPLETED", TABLE_ARN)]],
    )

    result = run(backup, alerts)

    assert result["status"] == "ALERT"
    assert result["problemJobs"] == ["p", "c"]
    body = received(alerts)[0]["Message"].splitlines()
    assert "- backup job p PARTIAL" in body and "- copy job c PARTIAL" in body
    assert "  message: Some objects could not be backed up" in body
