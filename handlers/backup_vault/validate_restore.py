"""Restore-test validation: check what an AWS Backup restore test created, and report it to AWS Backup.

AWS Backup restore testing restores a recovery point on a schedule, then waits (the plan's validation
window) for a `PutRestoreValidationResult` before deleting the restored copy. EventBridge delivers the
`Restore Job State Change` event of each COMPLETED restore job of this component's testing plan here;
this function looks at the restored resource and reports SUCCESSFUL or FAILED with a reason:

- DynamoDB table: ACTIVE and holding at least the expected number of items (counted page by page);
- RDS instance: available, with an endpoint, running the engine and major version of the source;
- S3 bucket: at least the expected number of objects.

A resource type it does not know is reported SKIPPED (with the type), never silently passed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from handlers.common import aws
from handlers.common.log import get_logger

LOG = get_logger("backup_vault.validate_restore")

# AWS Backup's limit on ValidationStatusMessage.
MESSAGE_LIMIT = 1000
# Counting stops once this many items/objects are seen: enough to say "not empty", bounded in time.
COUNT_CAP = 100_000


class RestoreEventError(ValueError):
    """The event is not a completed restore job of a restore test."""


@dataclass(frozen=True)
class Verdict:
    status: str  # SUCCESSFUL | FAILED | SKIPPED
    message: str


@dataclass(frozen=True)
class Expectations:
    min_items: int = 1
    engine: str | None = None
    engine_major_version: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Expectations:
        version = environ.get("EXPECTED_DB_ENGINE_VERSION") or None
        return cls(
            min_items=int(environ.get("MIN_RESTORED_ITEMS", "1")),
            engine=environ.get("EXPECTED_DB_ENGINE") or None,
            engine_major_version=version.split(".")[0] if version else None,
        )


def restore_job_id(event: Mapping[str, Any]) -> str:
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise RestoreEventError("event has no detail object: not an AWS Backup 'Restore Job State Change' event")
    job_id = detail.get("restoreJobId")
    if not isinstance(job_id, str) or not job_id:
        raise RestoreEventError(f"event detail has no restoreJobId (keys: {sorted(detail)})")
    if detail.get("status") != "COMPLETED":
        raise RestoreEventError(f"restore job {job_id} is {detail.get('status')!r}, not COMPLETED: nothing to validate")
    return job_id


def resource_name(arn: str) -> str:
    """`table/orders` -> `orders`, `db:mydb` -> `mydb`, `arn:aws:s3:::bucket` -> `bucket`."""
    resource = arn.split(":", 5)[5]
    for separator in ("/", ":"):
        if separator in resource:
            return resource.split(separator, 1)[1]
    return resource


def check_table(dynamodb: Any, table_name: str, expect: Expectations) -> Verdict:
    status = dynamodb.describe_table(TableName=table_name)["Table"]["TableStatus"]
    if status != "ACTIVE":
        return Verdict("FAILED", f"restored table {table_name} is {status}, not ACTIVE")
    items, kwargs = 0, {"TableName": table_name, "Select": "COUNT"}
    while items < COUNT_CAP:
        page = dynamodb.scan(**kwargs)
        items += page["Count"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if items < expect.min_items:
        return Verdict(
            "FAILED", f"restored table {table_name} holds {items} item(s), expected at least {expect.min_items}"
        )
    return Verdict("SUCCESSFUL", f"restored table {table_name} is ACTIVE with {items} item(s)")


def check_database(rds: Any, identifier: str, expect: Expectations) -> Verdict:
    (instance,) = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    status, endpoint = instance["DBInstanceStatus"], (instance.get("Endpoint") or {}).get("Address")
    if status != "available" or not endpoint:
        return Verdict("FAILED", f"restored database {identifier} is {status} (endpoint {endpoint or 'none'})")
    engine, version = instance["Engine"], instance["EngineVersion"]
    if expect.engine and engine != expect.engine:
        return Verdict("FAILED", f"restored database {identifier} runs {engine}, expected {expect.engine}")
    if expect.engine_major_version and version.split(".")[0] != expect.engine_major_version:
        return Verdict(
            "FAILED",
            f"restored database {identifier} runs {engine} {version}, expected major {expect.engine_major_version}",
        )
    return Verdict("SUCCESSFUL", f"restored database {identifier} is available at {endpoint} ({engine} {version})")


def check_bucket(s3: Any, bucket: str, expect: Expectations) -> Verdict:
    objects = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objects += page.get("KeyCount", 0)
        if objects >= COUNT_CAP:
            break
    if objects < expect.min_items:
        return Verdict(
            "FAILED", f"restored bucket {bucket} holds {objects} object(s), expected at least {expect.min_items}"
        )
    return Verdict("SUCCESSFUL", f"restored bucket {bucket} holds {objects} object(s)")


CHECKS: dict[str, tuple[str, Callable[[Any, str, Expectations], Verdict]]] = {
    "DynamoDB": ("dynamodb", check_table),
    "RDS": ("rds", check_database),
    "S3": ("s3", check_bucket),
}


def validate(backup: Any, client_for: Callable[[str], Any], job_id: str, expect: Expectations) -> Verdict:
    """Check the resource restore job `job_id` created and report the verdict to AWS Backup."""
    job = backup.describe_restore_job(RestoreJobId=job_id)
    resource_type, created = job.get("ResourceType", "?"), job.get("CreatedResourceArn")
    if resource_type not in CHECKS:
        verdict = Verdict("SKIPPED", f"no validation for resource type {resource_type}")
    elif not created:
        verdict = Verdict("FAILED", f"restore job {job_id} ({resource_type}) reports no created resource")
    else:
        service, check = CHECKS[resource_type]
        try:
            verdict = check(client_for(service), resource_name(created), expect)
        except ClientError as error:
            verdict = Verdict("FAILED", f"could not inspect {created}: {error}")
    backup.put_restore_validation_result(
        RestoreJobId=job_id, ValidationStatus=verdict.status, ValidationStatusMessage=verdict.message[:MESSAGE_LIMIT]
    )
    LOG.info(
        "restore validated",
        extra={
            "restoreJobId": job_id,
            "resourceType": resource_type,
            "status": verdict.status,
            "reason": verdict.message,
        },
    )
    return verdict


# Every call is a small read or the one report; the whole run must fit the function's timeout.
CALLS = aws.CallPolicy(attempts=4, connect_timeout=3.0, read_timeout=15.0)


@cache
def _client(service: str) -> Any:
    return aws.client(service, CALLS)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    job_id = restore_job_id(event)
    verdict = validate(_client("backup"), _client, job_id, Expectations.from_environment(os.environ))
    return {"restoreJobId": job_id, "status": verdict.status, "message": verdict.message}
