"""Restore-test validation: each restored resource type is inspected for real (moto DynamoDB, RDS, S3) and the
verdict reaches AWS Backup as PutRestoreValidationResult.

moto has no DescribeRestoreJob/PutRestoreValidationResult, so the backup client is a botocore Stubber:
the requests it expects are checked against the real service model.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from handlers.backup_vault import validate_restore as module
from handlers.backup_vault.validate_restore import (
    COUNT_CAP,
    Expectations,
    RestoreEventError,
    resource_name,
    restore_job_id,
    validate,
)
from tests.backup_vault.conftest import PRIMARY_REGION

ACCOUNT = "123456789012"
JOB = "restore-job-0001"


def clients() -> dict[str, Any]:
    return {s: boto3.client(s, region_name=PRIMARY_REGION) for s in ("dynamodb", "rds", "s3")}


def expect_job(stub: Stubber, resource_type: str, created: str | None, status: str, message_start: str) -> None:
    job: dict[str, Any] = {"RestoreJobId": JOB, "ResourceType": resource_type, "Status": "COMPLETED"}
    if created:
        job["CreatedResourceArn"] = created
    stub.add_response("describe_restore_job", job, {"RestoreJobId": JOB})
    stub.add_response(
        "put_restore_validation_result",
        {},
        {"RestoreJobId": JOB, "ValidationStatus": status, "ValidationStatusMessage": StartsWith(message_start)},
    )


class StartsWith(str):
    """Matches any string that begins with the given text (Stubber compares expected params with ==)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(str(self))

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


def run(resource_type: str, created: str | None, status: str, message: str, expect: Expectations) -> module.Verdict:
    backup = boto3.client("backup", region_name=PRIMARY_REGION)
    with Stubber(backup) as stub:
        expect_job(stub, resource_type, created, status, message)
        services = clients()
        verdict = validate(backup, services.__getitem__, JOB, expect)
        stub.assert_no_pending_responses()
    assert verdict.status == status
    return verdict


def make_table(items: int) -> str:
    dynamodb = boto3.client("dynamodb", region_name=PRIMARY_REGION)
    dynamodb.create_table(
        TableName="restored-table",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for index in range(items):
        dynamodb.put_item(TableName="restored-table", Item={"id": {"S": f"item-{index}"}, "pad": {"S": "x" * 4000}})
    return f"arn:aws:dynamodb:{PRIMARY_REGION}:{ACCOUNT}:table/restored-table"


def test_restored_table_with_items_is_reported_successful_counting_every_page(aws: None) -> None:
    # ~4 KB items: moto pages a COUNT scan at 1 MB, so 400 items span two pages.
    arn = make_table(400)
    verdict = run("DynamoDB", arn, "SUCCESSFUL", "restored table restored-table is ACTIVE with 400", Expectations())
    assert "400 item(s)" in verdict.message


def test_restored_empty_table_is_reported_failed(aws: None) -> None:
    arn = make_table(0)
    run("DynamoDB", arn, "FAILED", "restored table restored-table holds 0 item(s), expected at least 1", Expectations())


def test_restored_database_is_checked_for_engine_and_major_version(aws: None) -> None:
    rds = boto3.client("rds", region_name=PRIMARY_REGION)
    rds.create_db_instance(
        DBInstanceIdentifier="restored-db",
        DBInstanceClass="db.t4g.micro",
        Engine="mysql",
        EngineVersion="8.0.39",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-secret-1",  # pragma: allowlist secret
        AllocatedStorage=20,
    )
    arn = f"arn:aws:rds:{PRIMARY_REGION}:{ACCOUNT}:db:restored-db"
    ok = run("RDS", arn, "SUCCESSFUL", "restored database restored-db is available at", Expectations(1, "mysql", "8"))
    assert "mysql 8.0.39" in ok.message
    run(
        "RDS",
        arn,
        "FAILED",
        "restored database restored-db runs mysql 8.0.39, expected major 5",
        Expectations(1, "mysql", "5"),
    )
    run(
        "RDS", arn, "FAILED", "restored database restored-db runs mysql, expected postgres", Expectations(1, "postgres")
    )


def test_restored_bucket_counts_objects_across_pages(aws: None) -> None:
    s3 = boto3.client("s3", region_name=PRIMARY_REGION)
    s3.create_bucket(Bucket="restored-bucket")
    for index in range(1005):  # ListObjectsV2 returns 1,000 keys a page
        s3.put_object(Bucket="restored-bucket", Key=f"k/{index}", Body=b"x")
    verdict = run("S3", "arn:aws:s3:::restored-bucket", "SUCCESSFUL", "restored bucket", Expectations(1001))
    assert verdict.message == "restored bucket restored-bucket holds 1005 object(s)"
    s3.create_bucket(Bucket="empty-restore")
    run("S3", "arn:aws:s3:::empty-restore", "FAILED", "restored bucket empty-restore holds 0 object(s)", Expectations())


def test_a_restored_resource_that_cannot_be_read_fails_with_the_reason(aws: None) -> None:
    arn = f"arn:aws:dynamodb:{PRIMARY_REGION}:{ACCOUNT}:table/gone"
    verdict = run("DynamoDB", arn, "FAILED", f"could not inspect {arn}", Expectations())
    assert "ResourceNotFoundException" in verdict.message


def test_unknown_types_are_skipped_and_missing_resources_fail_never_silently_passed(aws: None) -> None:
    run(
        "EFS",
        "arn:aws:elasticfilesystem:us-east-1:1:file-system/fs-1",
        "SKIPPED",
        "no validation for resource type EFS",
        Expectations(),
    )
    run("DynamoDB", None, "FAILED", f"restore job {JOB} (DynamoDB) reports no created resource", Expectations())


def test_only_completed_restore_job_events_are_accepted() -> None:
    assert restore_job_id({"detail": {"restoreJobId": JOB, "status": "COMPLETED"}}) == JOB
    for event, reason in (
        ({}, "no detail"),
        ({"detail": {"status": "COMPLETED"}}, "no restoreJobId"),
        ({"detail": {"restoreJobId": JOB, "status": "FAILED"}}, "not COMPLETED"),
    ):
        with pytest.raises(RestoreEventError, match=reason):
            restore_job_id(event)


def test_resource_names_come_from_every_arn_shape() -> None:
    assert resource_name("arn:aws:dynamodb:us-east-1:1:table/t1") == "t1"
    assert resource_name("arn:aws:rds:us-east-1:1:db:db-1") == "db-1"
    assert resource_name("arn:aws:s3:::bucket-1") == "bucket-1"
    assert COUNT_CAP >= 1000


def test_expectations_come_from_the_function_environment() -> None:
    expect = Expectations.from_environment(
        {"MIN_RESTORED_ITEMS": "5", "EXPECTED_DB_ENGINE": "mysql", "EXPECTED_DB_ENGINE_VERSION": "8.0"}
    )
    assert expect == Expectations(5, "mysql", "8")
    assert Expectations.from_environment({}) == Expectations(1, None, None)


def test_the_handler_validates_the_job_of_its_event_and_reports_it(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry point end to end (and so under tests/least_privilege's recorder): event -> DescribeRestoreJob
    -> the restored copy, named as AWS Backup names restore-test copies -> PutRestoreValidationResult."""
    name = "awsbackup-restore-test-app-data-1"
    dynamodb = boto3.client("dynamodb", region_name=PRIMARY_REGION)
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=name, Item={"id": {"S": "item-0"}})
    backup = boto3.client("backup", region_name=PRIMARY_REGION)
    monkeypatch.setattr(module, "_client", {"backup": backup, **clients()}.__getitem__)
    monkeypatch.setenv("MIN_RESTORED_ITEMS", "1")
    created = f"arn:aws:dynamodb:{PRIMARY_REGION}:{ACCOUNT}:table/{name}"
    with Stubber(backup) as stub:
        expect_job(stub, "DynamoDB", created, "SUCCESSFUL", f"restored table {name} is ACTIVE with 1")
        result = module.handler({"detail": {"restoreJobId": JOB, "status": "COMPLETED"}}, None)
        stub.assert_no_pending_responses()
    assert (result["restoreJobId"], result["status"]) == (JOB, "SUCCESSFUL")
