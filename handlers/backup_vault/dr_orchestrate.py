"""Disaster-recovery orchestration, run in the DR region so it works when the primary region does not.

Invoke with `{"recovery_plan": "pilot_light"}` or `{"recovery_plan": "warm_standby"}`:

- pilot light: promote the cross-region read replica to a standalone writable database, wait until it
  is available, give it its own master-user secret in the DR region (RDS-managed, encrypted with the
  DR key: the primary's secret lives in the lost region), and publish where to connect (endpoint and
  that secret's ARN) in the DR region's Parameter Store, which the database's consumers read;
- warm standby: scale the standby (the replica) up to the production instance class and wait until
  it is available.

Both are safe to re-run: a replica that is already promoted, or already at the target class, is
reported as such, not treated as an error. The result says what was done and where to connect.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

from handlers.common import aws
from handlers.common.log import get_logger

LOG = get_logger("backup_vault.dr_orchestrate")

RecoveryPlan = Literal["pilot_light", "warm_standby"]
RECOVERY_PLANS: tuple[str, ...] = get_args(RecoveryPlan)
# Promotion of a MySQL replica usually takes minutes; stay within the 15-minute Lambda limit.
WAIT_DELAY_SECONDS = 15
WAIT_MAX_ATTEMPTS = 55


class InvalidRequestError(ValueError):
    """The invocation asked for something this function does not do."""


class RecoveryNotFinishedError(RuntimeError):
    """The database did not become available in time; the operation continues in RDS."""


@dataclass(frozen=True)
class RecoveryRequest:
    plan: RecoveryPlan


@dataclass(frozen=True)
class DrSettings:
    region: str
    replica_id: str
    standby_instance_class: str
    backup_retention_days: int
    # The DR-region key RDS encrypts the promoted database's secret with, and the parameter consumers read.
    secret_kms_key_arn: str = ""
    connection_parameter: str = ""


def parse_request(event: Any) -> RecoveryRequest:
    """Accept exactly `{"recovery_plan": "pilot_light" | "warm_standby"}`."""
    if not isinstance(event, Mapping):
        raise InvalidRequestError(f"event must be a JSON object with 'recovery_plan'; got {type(event).__name__}")
    unknown = sorted(set(event) - {"recovery_plan"})
    if unknown:
        raise InvalidRequestError(f"unknown keys {unknown}; the only key is 'recovery_plan'")
    plan = event.get("recovery_plan")
    if plan not in RECOVERY_PLANS:
        raise InvalidRequestError(f"recovery_plan {plan!r} is not supported; allowed: {', '.join(RECOVERY_PLANS)}")
    return RecoveryRequest(plan)


def describe(rds: Any, instance_id: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]


def wait_available(
    rds: Any,
    instance_id: str,
    *,
    done: Callable[[Mapping[str, Any]], bool] = lambda _instance: True,
    delay: int = WAIT_DELAY_SECONDS,
    attempts: int = WAIT_MAX_ATTEMPTS,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Poll until the instance is `available` and `done(instance)` holds; a timeout says what to do next.

    RDS answers a promote or modify call before the instance leaves `available`, so right after the
    call the instance still looks untouched; `done` names the state the change must reach (no longer
    a replica, at the new class) so that state is what gets reported, not the one before it.
    """
    status = "unknown"
    for attempt in range(attempts):
        instance = describe(rds, instance_id)
        status = str(instance.get("DBInstanceStatus"))
        if status == "available" and done(instance):
            return instance
        if attempt + 1 < attempts:
            (sleep or time.sleep)(delay)
    raise RecoveryNotFinishedError(
        f"{instance_id} has not finished after {delay * attempts} s (status {status}); "
        "RDS keeps working on it: re-run this function to wait again"
    )


def is_standalone(instance: Mapping[str, Any]) -> bool:
    return not instance.get("ReadReplicaSourceDBInstanceIdentifier")


def runs_as(instance_class: str) -> Callable[[Mapping[str, Any]], bool]:
    def check(instance: Mapping[str, Any]) -> bool:
        pending = instance.get("PendingModifiedValues") or {}
        return instance.get("DBInstanceClass") == instance_class and "DBInstanceClass" not in pending

    return check


def _is_not_a_replica(error: Exception) -> bool:
    # InvalidDBInstanceState covers several states; only "not a read replica" means promoted already.
    return "read replica" in str(error).lower()


def _report(plan: str, instance: Mapping[str, Any], action: str) -> dict[str, Any]:
    endpoint = instance.get("Endpoint") or {}
    return {
        "recoveryPlan": plan,
        "database": instance["DBInstanceIdentifier"],
        "action": action,
        "status": instance.get("DBInstanceStatus"),
        "instanceClass": instance.get("DBInstanceClass"),
        "endpoint": endpoint.get("Address"),
        "port": endpoint.get("Port"),
    }


def promote_replica(rds: Any, settings: DrSettings) -> dict[str, Any]:
    """Pilot light: make the DR replica the writable primary; already-promoted is success."""
    instance = wait_available(rds, settings.replica_id)
    action = "already-promoted"
    if instance.get("ReadReplicaSourceDBInstanceIdentifier"):
        try:
            rds.promote_read_replica(
                DBInstanceIdentifier=settings.replica_id, BackupRetentionPeriod=settings.backup_retention_days
            )
            action = "promoted"
        except rds.exceptions.InvalidDBInstanceStateFault as error:
            # A concurrent run may have promoted it between our describe and promote.
            if not _is_not_a_replica(error):
                raise
    LOG.info("pilot light step", extra={"database": settings.replica_id, "action": action})
    instance = wait_available(rds, settings.replica_id, done=is_standalone)
    report = _report("pilot_light", instance, action)
    if settings.secret_kms_key_arn:
        instance = ensure_own_secret(rds, settings, instance)
        report["secretArn"] = instance["MasterUserSecret"]["SecretArn"]
    return report


def has_own_secret(instance: Mapping[str, Any]) -> bool:
    return bool((instance.get("MasterUserSecret") or {}).get("SecretArn"))


def ensure_own_secret(rds: Any, settings: DrSettings, instance: Mapping[str, Any]) -> dict[str, Any]:
    """The promoted database's master-user secret, created by RDS in the DR region under the DR key (a
    replica has none of its own); re-runs find it and do nothing."""
    if not has_own_secret(instance):
        rds.modify_db_instance(
            DBInstanceIdentifier=settings.replica_id,
            ManageMasterUserPassword=True,
            MasterUserSecretKmsKeyId=settings.secret_kms_key_arn,
            ApplyImmediately=True,
        )
        LOG.info("promoted database gets its own secret", extra={"database": settings.replica_id})
    return wait_available(rds, settings.replica_id, done=has_own_secret)


def connection_document(report: Mapping[str, Any], region: str) -> str:
    """What consumers of the database read after a failover: where to connect, which secret to use."""
    return json.dumps(
        {
            "region": region,
            "database": report["database"],
            "endpoint": report["endpoint"],
            "port": report["port"],
            "secretArn": report.get("secretArn"),
        },
        sort_keys=True,
    )


def publish_connection(ssm: Any, settings: DrSettings, report: Mapping[str, Any]) -> None:
    ssm.put_parameter(
        Name=settings.connection_parameter,
        Value=connection_document(report, settings.region),
        Type="String",
        Overwrite=True,
    )


def scale_standby(rds: Any, settings: DrSettings) -> dict[str, Any]:
    """Warm standby: bring the standby to the production instance class; already-scaled is success."""
    instance = wait_available(rds, settings.replica_id)
    action = "already-scaled"
    if instance.get("DBInstanceClass") != settings.standby_instance_class:
        rds.modify_db_instance(
            DBInstanceIdentifier=settings.replica_id,
            DBInstanceClass=settings.standby_instance_class,
            ApplyImmediately=True,
        )
        action = "scaled-up"
    LOG.info(
        "warm standby step",
        extra={"database": settings.replica_id, "action": action, "instanceClass": settings.standby_instance_class},
    )
    target = runs_as(settings.standby_instance_class)
    return _report("warm_standby", wait_available(rds, settings.replica_id, done=target), action)


def recover(request: RecoveryRequest, rds: Any, settings: DrSettings | None) -> dict[str, Any]:
    """Run the requested plan and return what was done."""
    if settings is None:
        # Without a relational database the DR data (DynamoDB and S3 replicas) is already writable.
        return {
            "recoveryPlan": request.plan,
            "action": "nothing-to-do",
            "message": "no database replica is configured; the DynamoDB and S3 replicas need no promotion",
        }
    if request.plan == "pilot_light":
        return promote_replica(rds, settings)
    return scale_standby(rds, settings)


def recover_and_publish(
    request: RecoveryRequest, rds: Any, ssm: Any | None, settings: DrSettings | None
) -> dict[str, Any]:
    """Recover, then (pilot light, with a connection parameter) tell consumers where the database now is."""
    result = recover(request, rds, settings)
    if settings is not None and request.plan == "pilot_light" and settings.connection_parameter and ssm is not None:
        publish_connection(ssm, settings, result)
        result["connectionParameter"] = settings.connection_parameter
    return result


def settings_from_env(env: Mapping[str, str]) -> DrSettings | None:
    replica_id = env.get("DR_DB_INSTANCE_ID", "")
    if not replica_id:
        return None
    return DrSettings(
        region=env["DR_REGION"],
        replica_id=replica_id,
        standby_instance_class=env["STANDBY_INSTANCE_CLASS"],
        backup_retention_days=int(env["BACKUP_RETENTION_DAYS"]),
        secret_kms_key_arn=env.get("DR_SECRET_KMS_KEY_ARN", ""),
        connection_parameter=env.get("CONNECTION_PARAMETER", ""),
    )


# Control-plane calls during a disaster: patient timeouts, and throttles retried by the client.
RDS_CONTROL = aws.CallPolicy(attempts=5, connect_timeout=5.0, read_timeout=30.0)


SSM_WRITE = aws.CallPolicy(attempts=5, connect_timeout=5.0, read_timeout=10.0)


@cache
def _rds(region: str) -> Any:
    return aws.client("rds", RDS_CONTROL, region=region)


@cache
def _ssm(region: str) -> Any:
    return aws.client("ssm", SSM_WRITE, region=region)


def handler(event: Any, context: Any) -> dict[str, Any]:
    request = parse_request(event)
    settings = settings_from_env(os.environ)
    rds = _rds(settings.region) if settings else None
    ssm = _ssm(settings.region) if settings else None
    result = recover_and_publish(request, rds, ssm, settings)
    LOG.info("disaster recovery finished", extra={"result": result})
    return result
