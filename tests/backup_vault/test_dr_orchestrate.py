"""DR orchestration against moto RDS in two regions: a MySQL primary and its cross-region read replica."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto.rds.models import RDSBackend

from handlers.backup_vault import dr_orchestrate as module
from handlers.backup_vault.dr_orchestrate import (
    DrSettings,
    InvalidRequestError,
    RecoveryNotFinishedError,
    RecoveryRequest,
    parse_request,
    recover,
    wait_available,
)
from tests.backup_vault.conftest import DR_REGION, PRIMARY_REGION

PRIMARY_ID = "platform-prod-backup-db"
REPLICA_ID = "platform-prod-backup-db-replica"
SETTINGS = DrSettings(
    region=DR_REGION, replica_id=REPLICA_ID, standby_instance_class="db.r6g.large", backup_retention_days=7
)


@pytest.fixture
def replica(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A cross-region replica in the DR region; returns the DR-region RDS client."""
    original_promote = RDSBackend.promote_read_replica

    def promote_like_rds(self: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
        # Real RDS detaches a promoted instance from its source; moto only flips a flag.
        database = original_promote(self, db_kwargs)
        database.source_db_instance_identifier = None
        return database

    monkeypatch.setattr(RDSBackend, "promote_read_replica", promote_like_rds)
    primary = boto3.client("rds", region_name=PRIMARY_REGION)
    source_arn = primary.create_db_instance(
        DBInstanceIdentifier=PRIMARY_ID,
        DBInstanceClass="db.r6g.large",
        Engine="mysql",
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-real-password-1",  # pragma: allowlist secret
        AllocatedStorage=20,
        StorageEncrypted=True,
    )["DBInstance"]["DBInstanceArn"]
    dr = boto3.client("rds", region_name=DR_REGION)
    dr.create_db_instance_read_replica(
        DBInstanceIdentifier=REPLICA_ID, SourceDBInstanceIdentifier=source_arn, DBInstanceClass="db.t4g.medium"
    )
    return dr


class Recording:
    """The moto client, recording which mutating calls the function made."""

    def __init__(self, client: Any, fail_promote_with: ClientError | None = None) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._fail_promote_with = fail_promote_with

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def promote_read_replica(self, **kwargs: Any) -> Any:
        self.calls.append(("promote_read_replica", kwargs))
        if self._fail_promote_with is not None:
            raise self._fail_promote_with
        return self._client.promote_read_replica(**kwargs)

    def modify_db_instance(self, **kwargs: Any) -> Any:
        self.calls.append(("modify_db_instance", kwargs))
        return self._client.modify_db_instance(**kwargs)


def test_pilot_light_promotes_the_replica_then_a_rerun_is_not_an_error(replica) -> None:
    rds = Recording(replica)
    assert replica.describe_db_instances(DBInstanceIdentifier=REPLICA_ID)["DBInstances"][0][
        "ReadReplicaSourceDBInstanceIdentifier"
    ].endswith(f":db:{PRIMARY_ID}")

    first = recover(RecoveryRequest("pilot_light"), rds, SETTINGS)

    assert rds.calls == [("promote_read_replica", {"DBInstanceIdentifier": REPLICA_ID, "BackupRetentionPeriod": 7})]
    assert first["action"] == "promoted"
    assert first["status"] == "available"
    assert first["database"] == REPLICA_ID
    assert first["endpoint"] and DR_REGION in first["endpoint"]
    promoted = replica.describe_db_instances(DBInstanceIdentifier=REPLICA_ID)["DBInstances"][0]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted

    again = recover(RecoveryRequest("pilot_light"), rds, SETTINGS)

    assert again["action"] == "already-promoted"
    assert again["status"] == "available"
    assert len(rds.calls) == 1  # the re-run did not try to promote again


def test_a_concurrent_promotion_is_reported_as_already_promoted(replica) -> None:
    # What RDS answers (its modeled InvalidDBInstanceStateFault, code InvalidDBInstanceState).
    not_a_replica = replica.exceptions.InvalidDBInstanceStateFault(
        {"Error": {"Code": "InvalidDBInstanceState", "Message": "DB Instance is not a read replica."}},
        "PromoteReadReplica",
    )

    class PromotedMeanwhile(Recording):
        def promote_read_replica(self, **kwargs: Any) -> Any:
            # The other run's promotion lands between our describe and our promote call.
            replica.promote_read_replica(DBInstanceIdentifier=REPLICA_ID)
            return super().promote_read_replica(**kwargs)

    rds = PromotedMeanwhile(replica, fail_promote_with=not_a_replica)

    result = recover(RecoveryRequest("pilot_light"), rds, SETTINGS)

    assert result["action"] == "already-promoted"
    assert [c[0] for c in rds.calls] == ["promote_read_replica"]


def test_other_promotion_errors_propagate(replica) -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PromoteReadReplica")
    with pytest.raises(ClientError, match="AccessDenied"):
        recover(RecoveryRequest("pilot_light"), Recording(replica, fail_promote_with=denied), SETTINGS)


def test_warm_standby_scales_the_standby_up_once(replica) -> None:
    rds = Recording(replica)

    first = recover(RecoveryRequest("warm_standby"), rds, SETTINGS)

    assert rds.calls == [
        (
            "modify_db_instance",
            {"DBInstanceIdentifier": REPLICA_ID, "DBInstanceClass": "db.r6g.large", "ApplyImmediately": True},
        )
    ]
    assert first["action"] == "scaled-up"
    assert first["instanceClass"] == "db.r6g.large"
    assert replica.describe_db_instances(DBInstanceIdentifier=REPLICA_ID)["DBInstances"][0]["DBInstanceClass"] == (
        "db.r6g.large"
    )

    again = recover(RecoveryRequest("warm_standby"), rds, SETTINGS)

    assert again["action"] == "already-scaled"
    assert len(rds.calls) == 1


def test_handler_runs_the_plan_from_the_event_in_the_dr_region(replica, monkeypatch) -> None:
    monkeypatch.setenv("DR_REGION", DR_REGION)
    monkeypatch.setenv("DR_DB_INSTANCE_ID", REPLICA_ID)
    monkeypatch.setenv("STANDBY_INSTANCE_CLASS", "db.r6g.large")
    monkeypatch.setenv("BACKUP_RETENTION_DAYS", "7")
    module._rds.cache_clear()

    result = module.handler({"recovery_plan": "pilot_light"}, None)

    assert result["action"] == "promoted"
    assert result["recoveryPlan"] == "pilot_light"
    module._rds.cache_clear()


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"recovery_plan": "multi_site"},
            "recovery_plan 'multi_site' is not supported; allowed: pilot_light, warm_standby",
        ),
        ({}, "recovery_plan None is not supported; allowed: pilot_light, warm_standby"),
        ({"recovery_plan": "pilot_light", "force": True}, r"unknown keys \['force'\]"),
        ("pilot_light", "event must be a JSON object with 'recovery_plan'; got str"),
    ],
)
def test_invalid_requests_fail_with_a_clear_message(event, message) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        module.handler(event, None)


def test_valid_requests_parse() -> None:
    assert parse_request({"recovery_plan": "warm_standby"}) == RecoveryRequest("warm_standby")


def test_without_a_database_there_is_nothing_to_promote(monkeypatch) -> None:
    monkeypatch.delenv("DR_DB_INSTANCE_ID", raising=False)
    result = module.handler({"recovery_plan": "pilot_light"}, None)
    assert result["action"] == "nothing-to-do"
    assert "no database replica is configured" in result["message"]


def test_waiting_gives_up_with_advice_to_rerun(aws) -> None:
    rds = boto3.client("rds", region_name=DR_REGION)
    stubber = Stubber(rds)
    modifying = {"DBInstances": [{"DBInstanceIdentifier": REPLICA_ID, "DBInstanceStatus": "modifying"}]}
    for _ in range(2):
        stubber.add_response("describe_db_instances", modifying, {"DBInstanceIdentifier": REPLICA_ID})
    stubber.activate()

    with pytest.raises(RecoveryNotFinishedError, match="re-run this function to wait again"):
        wait_available(rds, REPLICA_ID, delay=0, attempts=2)
    stubber.assert_no_pending_responses()


def _instance(status: str, *, source: str | None = None, cls: str = "db.t4g.medium", pending: dict | None = None):
    instance: dict[str, Any] = {
        "DBInstanceIdentifier": REPLICA_ID,
        "DBInstanceStatus": status,
        "DBInstanceClass": cls,
        "Endpoint": {"Address": f"{REPLICA_ID}.abc.{DR_REGION}.rds.amazonaws.com", "Port": 3306},
        "PendingModifiedValues": pending or {},
    }
    if source:
        instance["ReadReplicaSourceDBInstanceIdentifier"] = source
    return {"DBInstances": [instance]}


def _stubbed(responses: list[tuple[str, dict[str, Any]]]) -> tuple[Any, Stubber]:
    rds = boto3.client("rds", region_name=DR_REGION)
    stubber = Stubber(rds)
    for operation, response in responses:
        stubber.add_response(operation, response)
    stubber.activate()
    return rds, stubber


class _ModuleClock:
    """The module's `time`, whose sleep only counts: patching `time.sleep` itself would also stop every
    other thread of the test process that sleeps (Spark's, moto's) from sleeping, and they would spin."""

    def __init__(self, sleeps: list[float]) -> None:
        self.sleep = sleeps.append

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def counted_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    sleeps: list[float] = []
    monkeypatch.setattr(module, "time", _ModuleClock(sleeps))
    return sleeps


def test_pilot_light_waits_for_the_promotion_itself_not_the_still_available_replica(aws, monkeypatch) -> None:
    # Real RDS accepts the promotion while the instance still reads `available` and still a replica.
    source = f"arn:aws:rds:{PRIMARY_REGION}:123456789012:db:{PRIMARY_ID}"
    rds, stubber = _stubbed(
        [
            ("describe_db_instances", _instance("available", source=source)),
            ("promote_read_replica", {"DBInstance": {"DBInstanceIdentifier": REPLICA_ID}}),
            ("describe_db_instances", _instance("available", source=source)),
            ("describe_db_instances", _instance("modifying", source=source)),
            ("describe_db_instances", _instance("rebooting")),
            ("describe_db_instances", _instance("available")),
        ]
    )
    sleeps = counted_sleeps(monkeypatch)

    result = recover(RecoveryRequest("pilot_light"), rds, SETTINGS)

    assert result["action"] == "promoted"
    assert result["status"] == "available"
    assert len(sleeps) == 3  # three polls saw the promotion unfinished
    stubber.assert_no_pending_responses()


def test_warm_standby_waits_until_the_new_class_is_applied(aws, monkeypatch) -> None:
    sleeps = counted_sleeps(monkeypatch)
    rds, stubber = _stubbed(
        [
            ("describe_db_instances", _instance("available")),
            ("modify_db_instance", {"DBInstance": {"DBInstanceIdentifier": REPLICA_ID}}),
            ("describe_db_instances", _instance("available", pending={"DBInstanceClass": "db.r6g.large"})),
            ("describe_db_instances", _instance("modifying", cls="db.r6g.large")),
            ("describe_db_instances", _instance("available", cls="db.r6g.large")),
        ]
    )

    result = module.scale_standby(rds, SETTINGS)

    assert result["action"] == "scaled-up"
    assert result["instanceClass"] == "db.r6g.large"
    assert len(sleeps) == 2  # the pending class change and the modification were waited out
    stubber.assert_no_pending_responses()


def test_pilot_light_gives_the_promoted_database_its_own_dr_secret_and_tells_consumers(replica) -> None:
    kms = boto3.client("kms", region_name=DR_REGION)
    dr_key = kms.create_key(Description="DR key")["KeyMetadata"]["Arn"]
    parameter = "/platform/prod/backup/database"
    settings = DrSettings(
        region=DR_REGION,
        replica_id=REPLICA_ID,
        standby_instance_class="db.r6g.large",
        backup_retention_days=7,
        secret_kms_key_arn=dr_key,
        connection_parameter=parameter,
    )
    ssm = boto3.client("ssm", region_name=DR_REGION)
    result = module.recover_and_publish(RecoveryRequest("pilot_light"), replica, ssm, settings)
    secret_arn = result["secretArn"]
    assert secret_arn.startswith(f"arn:aws:secretsmanager:{DR_REGION}:")
    # The secret is RDS's, in the DR region, under the DR key.
    secret = boto3.client("secretsmanager", region_name=DR_REGION).describe_secret(SecretId=secret_arn)
    assert secret["KmsKeyId"] in {dr_key, dr_key.split("/")[-1]}
    published = json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    assert published == {
        "database": REPLICA_ID,
        "endpoint": result["endpoint"],
        "port": result["port"],
        "region": DR_REGION,
        "secretArn": secret_arn,
    }
    assert result["connectionParameter"] == parameter
    # A re-run keeps the same secret (no second modify) and publishes the same document.
    again = module.recover_and_publish(RecoveryRequest("pilot_light"), replica, ssm, settings)
    assert (again["action"], again["secretArn"]) == ("already-promoted", secret_arn)


def test_warm_standby_publishes_nothing(replica) -> None:
    ssm = boto3.client("ssm", region_name=DR_REGION)
    settings = DrSettings(DR_REGION, REPLICA_ID, "db.r6g.large", 7, "arn:aws:kms:x", "/platform/prod/backup/database")
    result = module.recover_and_publish(RecoveryRequest("warm_standby"), replica, ssm, settings)
    assert "connectionParameter" not in result
    assert ssm.describe_parameters()["Parameters"] == []
