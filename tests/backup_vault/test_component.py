"""BackupVault under the recording mocks: the real program per stack, asserting on the inputs that reach
each resource. dev = stream-Lambda replication, no lock, no database; staging = global table, governance
lock, database; prod = stream-Lambda replication, compliance lock, multi-AZ database."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from moto.events.models import EventPattern

from offline.mocks import ACCOUNT_ID
from offline.runner import PlanGraph, RecordedResource
from tests.conftest import stack_config
from tests.eks_gitops.plan_helpers import is_secret, reveal

COMPONENT_TYPE = "platform:index:BackupVault"
VAULT = "aws:backup/vault:Vault"
TABLE = "aws:dynamodb/table:Table"
BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
RDS = "aws:rds/instance:Instance"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"

REGIONS = {
    "dev": ("eu-west-1", "eu-central-1"),
    "staging": ("eu-west-2", "eu-west-1"),
    "prod": ("us-east-1", "us-west-2"),
}


def backup_resources(plan: PlanGraph) -> list[RecordedResource]:
    [component] = plan.of_type(COMPONENT_TYPE)
    return plan.descendants(component)


def one(plan: PlanGraph, type_token: str, name: str | None = None) -> RecordedResource:
    """The single resource of a type (and logical name) inside the BackupVault component."""
    found = [r for r in backup_resources(plan) if r.type == type_token and (name is None or r.name == name)]
    assert len(found) == 1, f"expected one {type_token} {name or ''} in BackupVault, found {[r.name for r in found]}"
    return found[0]


def mine(plan: PlanGraph, type_token: str) -> list[RecordedResource]:
    return [r for r in backup_resources(plan) if r.type == type_token]


def region_of(plan: PlanGraph, resource: RecordedResource) -> str:
    return plan.provider_inputs(resource)["region"]


def policy(resource: RecordedResource, key: str = "policy") -> dict[str, Any]:
    return json.loads(resource.inputs[key])


def statements_by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted(document: dict[str, Any]) -> dict[str, set[str]]:
    """action -> resources it is allowed on."""
    grants: dict[str, set[str]] = {}
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            grants.setdefault(action, set()).update(as_list(statement["Resource"]))
    return grants


def arn_of(plan: PlanGraph, type_token: str, name: str) -> str:
    return one(plan, type_token, name).outputs["arn"]


@pytest.fixture(params=["dev", "staging", "prod"])
def any_plan(request) -> PlanGraph:
    return request.getfixturevalue(f"{request.param}_plan")


# --- regions and providers -----------------------------------------------------------------------


def test_dr_resources_use_the_dr_provider_and_the_rest_the_primary(any_plan: PlanGraph) -> None:
    primary_region, dr_region = REGIONS[any_plan.stack]
    dr_prefixes = ("backup-dr-", "backup-app-bucket-replica-", "backup-db-dr-")
    dr_names = {"backup-data-replica", "backup-app-bucket-replica", "backup-db-replica"}
    checked_dr = set()
    for resource in backup_resources(any_plan):
        if not resource.custom or not resource.type.startswith("aws:") or resource.type.startswith("aws:iam/"):
            continue
        in_dr = resource.name in dr_names or resource.name.startswith(dr_prefixes)
        expected = dr_region if in_dr else primary_region
        assert region_of(any_plan, resource) == expected, resource.name
        if expected == dr_region:
            checked_dr.add(resource.name)
    # The DR vault, key, replica bucket and DR function exist in every stack.
    assert {
        "backup-dr-vault",
        "backup-dr-key-key",
        "backup-app-bucket-replica",
        "backup-dr-orchestrate-function",
    } <= checked_dr


def test_dr_vault_and_replicas_live_in_the_dr_region(dev_plan: PlanGraph) -> None:
    _, dr_region = REGIONS["dev"]
    dr_vault = one(dev_plan, VAULT, "backup-dr-vault")
    assert dr_vault.outputs["arn"].startswith(f"arn:aws:backup:{dr_region}:{ACCOUNT_ID}:backup-vault:")
    assert dr_vault.inputs["kmsKeyArn"] == arn_of(dev_plan, KEY, "backup-dr-key-key")
    assert arn_of(dev_plan, KEY, "backup-dr-key-key").startswith(f"arn:aws:kms:{dr_region}:")
    replica_table = one(dev_plan, TABLE, "backup-data-replica")
    assert replica_table.inputs["serverSideEncryption"]["kmsKeyArn"] == arn_of(dev_plan, KEY, "backup-dr-key-key")
    assert region_of(dev_plan, one(dev_plan, BUCKET, "backup-app-bucket-replica")) == dr_region


# --- keys, vaults, notifications, lock -----------------------------------------------------------


def test_keys_carry_the_articles_backup_grant_and_rotate(prod_plan: PlanGraph) -> None:
    for name, region in (("backup-primary-key-key", "us-east-1"), ("backup-dr-key-key", "us-west-2")):
        key = one(prod_plan, KEY, name)
        assert key.inputs["enableKeyRotation"] is True
        statements = statements_by_sid(policy(key))
        assert statements["EnableAccountAdministration"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
        backup = statements["AllowBackup"]
        assert backup["Principal"] == {"Service": "backup.amazonaws.com"}
        # As the article writes it: Backup's notifications reach the CMK topic through SNS without
        # aws:SourceAccount, so a condition on it would drop them.
        assert "Condition" not in backup
        assert set(backup["Action"]) == {
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:DescribeKey",
        }
        assert statements["AllowCloudWatchLogs"]["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
    aliases = {a.inputs["name"] for a in mine(prod_plan, "aws:kms/alias:Alias") if a.name.startswith("backup-")}
    assert aliases == {"alias/platform-prod-backup-primary", "alias/platform-prod-backup-dr"}


# Deprecated vault events AWS Backup never sends (a failed job arrives as *_COMPLETED with its state).
DEPRECATED_VAULT_EVENTS = {"BACKUP_JOB_FAILED", "RESTORE_JOB_FAILED", "BACKUP_JOB_SUCCESSFUL", "RESTORE_JOB_SUCCESSFUL"}


def test_vault_notifies_the_encrypted_topic_of_the_events_aws_backup_still_sends(dev_plan: PlanGraph) -> None:
    notifications = one(dev_plan, "aws:backup/vaultNotifications:VaultNotifications")
    topic = one(dev_plan, "aws:sns/topic:Topic", "backup-notifications")
    assert notifications.inputs["backupVaultName"] == "platform-dev-backup-vault"
    assert notifications.inputs["snsTopicArn"] == topic.outputs["arn"]
    events = set(notifications.inputs["backupVaultEvents"])
    assert not events & DEPRECATED_VAULT_EVENTS
    assert {"COPY_JOB_FAILED", "BACKUP_JOB_COMPLETED", "RESTORE_JOB_COMPLETED", "S3_BACKUP_OBJECT_FAILED"} <= events
    assert topic.inputs["kmsMasterKeyId"] == arn_of(dev_plan, KEY, "backup-primary-key-key")
    statements = statements_by_sid(policy(one(dev_plan, "aws:sns/topicPolicy:TopicPolicy")))
    publish = statements["AwsBackupPublishesJobEvents"]
    assert publish["Principal"] == {"Service": "backup.amazonaws.com"}
    assert publish["Action"] == "sns:Publish" and publish["Resource"] == topic.outputs["arn"]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    assert statements["FailedJobEventsPublish"]["Principal"] == {"Service": "events.amazonaws.com"}


def test_failed_aborted_and_expired_jobs_reach_the_topic_through_eventbridge(prod_plan: PlanGraph) -> None:
    rule = one(prod_plan, "aws:cloudwatch/eventRule:EventRule", "backup-job-failures")
    pattern = EventPattern.load(rule.inputs["eventPattern"])

    def event(detail_type: str, **detail: str) -> dict[str, Any]:
        return {"source": "aws.backup", "detail-type": detail_type, "detail": detail}

    # Backup and copy jobs report `state`, restore jobs `status` (AWS Backup's EventBridge page): each is
    # judged on its own field, as EventBridge's own matcher (moto's) applies the pattern.
    for kind in ("Backup Job State Change", "Copy Job State Change"):
        assert all(pattern.matches_event(event(kind, state=s)) for s in ("FAILED", "ABORTED", "EXPIRED"))
        assert not pattern.matches_event(event(kind, state="COMPLETED"))
    assert pattern.matches_event(event("Restore Job State Change", status="FAILED"))
    assert pattern.matches_event(event("Restore Job State Change", status="ABORTED"))
    assert not pattern.matches_event(event("Restore Job State Change", status="COMPLETED"))
    assert not pattern.matches_event(event("Restore Job State Change", state="FAILED"))
    assert not pattern.matches_event({**event("Backup Job State Change", state="FAILED"), "source": "aws.s3"})
    target = one(prod_plan, "aws:cloudwatch/eventTarget:EventTarget", "backup-job-failures-alert")
    topic = one(prod_plan, "aws:sns/topic:Topic", "backup-notifications")
    queue = one(prod_plan, "aws:sqs/queue:Queue", "backup-failures")
    assert target.inputs["arn"] == topic.outputs["arn"]
    assert target.inputs["deadLetterConfig"] == {"arn": queue.outputs["arn"]}
    # The failure queue accepts dead letters of exactly this component's rules.
    send = statements_by_sid(policy(one(prod_plan, "aws:sqs/queuePolicy:QueuePolicy", "backup-failures-policy")))
    rules = {r.outputs["arn"] for r in mine(prod_plan, "aws:cloudwatch/eventRule:EventRule")}
    assert set(as_list(send["RuleDeadLetters"]["Condition"]["ArnEquals"]["aws:SourceArn"])) == rules
    assert len(rules) == 3
    # EventBridge sends KMS no source condition when it delivers to an encrypted topic: an unconditioned grant.
    key_policy = statements_by_sid(policy(one(prod_plan, KEY, "backup-primary-key-key")))
    grant = key_policy["AllowEventBridgeToEncryptedTopic"]
    assert grant["Principal"] == {"Service": "events.amazonaws.com"} and "Condition" not in grant
    assert sorted(as_list(grant["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_no_vault_lock_unless_configured(dev_plan: PlanGraph) -> None:
    assert [r for r in backup_resources(dev_plan) if r.type == LOCK] == []


def test_prod_locks_both_vaults_in_compliance_mode(prod_plan: PlanGraph) -> None:
    locks = {r.name: r for r in mine(prod_plan, LOCK)}
    assert set(locks) == {"backup-vault-lock", "backup-dr-vault-lock"}
    assert locks["backup-vault-lock"].inputs["backupVaultName"] == "platform-prod-backup-vault"
    assert locks["backup-dr-vault-lock"].inputs["backupVaultName"] == "platform-prod-backup-dr-vault"
    assert region_of(prod_plan, locks["backup-dr-vault-lock"]) == "us-west-2"
    for lock in locks.values():
        assert (lock.inputs["minRetentionDays"], lock.inputs["maxRetentionDays"]) == (7, 2555)
        assert lock.inputs["changeableForDays"] == 3


def test_staging_lock_is_governance_mode(staging_plan: PlanGraph) -> None:
    locks = mine(staging_plan, LOCK)
    assert len(locks) == 2
    assert all("changeableForDays" not in lock.inputs for lock in locks)


# --- plan, selection, restore testing ------------------------------------------------------------


def test_plan_rules_and_copy_actions_match_the_article(any_plan: PlanGraph) -> None:
    _, dr_region = REGIONS[any_plan.stack]
    dr_vault_arn = arn_of(any_plan, VAULT, "backup-dr-vault")
    assert dr_vault_arn.startswith(f"arn:aws:backup:{dr_region}:")
    rules = {r["ruleName"]: r for r in one(any_plan, "aws:backup/plan:Plan").inputs["rules"]}
    expected = {
        "daily": ("cron(0 2 * * ? *)", 60, 120, 30, 365),
        "weekly": ("cron(0 3 ? * SUN *)", 60, 180, 7, 2555),
    }
    assert set(rules) == set(expected)
    for name, (schedule, start, complete, cold, delete) in expected.items():
        rule = rules[name]
        assert rule["schedule"] == schedule
        assert (rule["startWindow"], rule["completionWindow"]) == (start, complete)
        assert rule["lifecycle"] == {"coldStorageAfter": cold, "deleteAfter": delete}
        assert rule["targetVaultName"] == f"platform-{any_plan.stack}-backup-vault"
        assert rule["copyActions"] == [
            {"destinationVaultArn": dr_vault_arn, "lifecycle": {"coldStorageAfter": cold, "deleteAfter": delete}}
        ]
        assert rule["recoveryPointTags"]["BackupType"] == name.title()
        assert rule["recoveryPointTags"]["Environment"] == any_plan.stack


def test_selection_picks_tagged_resources_with_the_backup_role(dev_plan: PlanGraph) -> None:
    selection = one(dev_plan, "aws:backup/selection:Selection")
    role = one(dev_plan, "aws:iam/role:Role", "backup-service-role")
    assert selection.inputs["planId"] == one(dev_plan, "aws:backup/plan:Plan").id
    assert selection.inputs["iamRoleArn"] == role.outputs["arn"]
    assert selection.inputs["selectionTags"] == [{"type": "STRINGEQUALS", "key": "BackupEnabled", "value": "true"}]
    trust = policy(role, "assumeRolePolicy")["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "backup.amazonaws.com"}]
    attached = {
        r.inputs["policyArn"]
        for r in mine(dev_plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith("backup-service-role-")
    }
    assert attached == {
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
    }


def test_protected_resources_carry_the_backup_tag_and_replicas_do_not(prod_plan: PlanGraph) -> None:
    tagged = {
        r.name
        for r in backup_resources(prod_plan)
        if r.custom and (r.inputs.get("tags") or {}).get("BackupEnabled") == "true"
    }
    assert tagged == {"backup-data", "backup-app-bucket", "backup-db"}


def restore_selections(plan: PlanGraph) -> dict[str, RecordedResource]:
    found = mine(plan, "aws:backup/restoreTestingSelection:RestoreTestingSelection")
    return {r.inputs["protectedResourceType"]: r for r in found}


def test_restore_testing_restores_every_protected_type_from_the_primary_vault(prod_plan: PlanGraph) -> None:
    plan = one(prod_plan, "aws:backup/restoreTestingPlan:RestoreTestingPlan")
    assert plan.inputs["name"] == "platform_prod_backup_restore_test"
    selection_window = plan.inputs["recoveryPointSelection"]
    assert selection_window["includeVaults"] == [arn_of(prod_plan, VAULT, "backup-vault")]
    assert selection_window["algorithm"] == "LATEST_WITHIN_WINDOW"
    selections = restore_selections(prod_plan)
    assert sorted(selections) == ["DynamoDB", "RDS", "S3"]
    role = one(prod_plan, "aws:iam/role:Role", "backup-service-role").outputs["arn"]
    expected = {
        "DynamoDB": arn_of(prod_plan, TABLE, "backup-data"),
        "S3": arn_of(prod_plan, BUCKET, "backup-app-bucket"),
        "RDS": arn_of(prod_plan, RDS, "backup-db"),
    }
    for kind, selection in selections.items():
        assert selection.inputs["restoreTestingPlanName"] == "platform_prod_backup_restore_test"
        assert selection.inputs["protectedResourceArns"] == [expected[kind]]
        assert selection.inputs["iamRoleArn"] == role
        assert selection.inputs["validationWindowHours"] == 2
    overrides = selections["RDS"].inputs["restoreMetadataOverrides"]
    subnets = one(prod_plan, "aws:rds/subnetGroup:SubnetGroup", "backup-db-subnets")
    group = one(prod_plan, "aws:ec2/securityGroup:SecurityGroup", "backup-db-sg")
    assert overrides["dbsubnetgroupname"] == subnets.inputs["name"]
    assert json.loads(overrides["vpcSecurityGroupIds"]) == [group.id]
    assert overrides["dbinstanceclass"] == "db.t4g.medium"
    assert "restoreMetadataOverrides" not in selections["S3"].inputs


def test_dev_without_a_database_restore_tests_the_table_and_bucket(dev_plan: PlanGraph) -> None:
    assert sorted(restore_selections(dev_plan)) == ["DynamoDB", "S3"]


def test_completed_restore_tests_invoke_the_validation_function(prod_plan: PlanGraph) -> None:
    plan = one(prod_plan, "aws:backup/restoreTestingPlan:RestoreTestingPlan")
    rule = one(prod_plan, "aws:cloudwatch/eventRule:EventRule", "backup-restore-completed")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.backup"],
        "detail-type": ["Restore Job State Change"],
        "detail": {"status": ["COMPLETED"], "restoreTestingPlanArn": [plan.outputs["arn"]]},
    }
    function = one(prod_plan, "aws:lambda/function:Function", "backup-validate-restore-function")
    target = one(prod_plan, "aws:cloudwatch/eventTarget:EventTarget", "backup-validate-restore-target")
    assert target.inputs["arn"] == function.outputs["arn"]
    assert (
        target.inputs["deadLetterConfig"]["arn"]
        == one(prod_plan, "aws:sqs/queue:Queue", "backup-failures").outputs["arn"]
    )
    permission = one(prod_plan, "aws:lambda/permission:Permission", "backup-validate-restore-invoke")
    assert permission.inputs["sourceArn"] == rule.outputs["arn"]
    env = function.inputs["environment"]["variables"]
    assert (env["EXPECTED_DB_ENGINE"], env["MIN_RESTORED_ITEMS"]) == ("mysql", "1")
    grants = granted(policy(one(prod_plan, ROLE_POLICY, "backup-validate-restore-policy")))
    restored = "awsbackup-restore-test-*"
    assert grants["backup:PutRestoreValidationResult"] == {"*"}
    assert grants["dynamodb:Scan"] == {f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/{restored}"}
    assert grants["rds:DescribeDBInstances"] == {f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:db:{restored}"}
    assert grants["s3:ListBucket"] == {f"arn:aws:s3:::{restored}"}
    assert "dynamodb:PutItem" not in grants


# --- lifecycle validation at plan time -----------------------------------------------------------


def test_a_lifecycle_aws_would_refuse_stops_the_program(plan_with) -> None:
    weekly = {"schedule": "cron(0 3 ? * SUN *)", "completionWindowMinutes": 180, "coldStorageAfterDays": 30}
    with pytest.raises(pulumi.RunError) as caught:
        plan_with("dev", {"platform:backup": {"weekly": {**weekly, "deleteAfterDays": 100}}})
    message = str(caught.value)
    assert "platform:backup.weekly" in message
    assert "deleteAfterDays (100) must be at least coldStorageAfterDays (30) + 90 = 120" in message


@pytest.mark.parametrize(
    ("backup", "expected"),
    [
        (
            {
                "daily": {
                    "schedule": "cron(0 2 * * ? *)",
                    "completionWindowMinutes": 120,
                    "coldStorageAfterDays": 30,
                    "deleteAfterDays": 119,
                }
            },
            "deleteAfterDays (119) must be at least coldStorageAfterDays (30) + 90 = 120",
        ),
        (
            {"vaultLock": {"minRetentionDays": 30, "maxRetentionDays": 2000}},
            "weekly.deleteAfterDays (2555) is outside vaultLock [minRetentionDays 30, maxRetentionDays 2000]",
        ),
        (
            {"vaultLock": {"minRetentionDays": 400, "maxRetentionDays": 3000}},
            "daily.deleteAfterDays (365) is outside vaultLock [minRetentionDays 400, maxRetentionDays 3000]",
        ),
        (
            {
                "daily": {
                    "schedule": "cron(0 2 * * ? *)",
                    "startWindowMinutes": 120,
                    "completionWindowMinutes": 120,
                    "deleteAfterDays": 35,
                }
            },
            "completionWindowMinutes (120) must be greater than startWindowMinutes (120)",
        ),
        ({"vaultLock": {"minRetentionDays": 1, "maxRetentionDays": 3000, "changeableForDays": 1}}, "changeableForDays"),
        ({"database": {"enabled": True, "instanceClass": "db.t3.small"}}, "has no Performance Insights for MySQL"),
        ({"database": {"vpcCidr": "10.9.0.0/16", "drVpcCidr": "10.9.0.0/16"}}, "use distinct ranges"),
        ({"replication": "streams"}, "platform:backup.replication"),
    ],
)
def test_config_errors_name_the_key_and_value(backup: dict[str, Any], expected: str) -> None:
    from components.config import ConfigError, parse_stack_config
    from offline.runner import flatten_config, merge_config

    raw = flatten_config(merge_config(stack_config("dev"), {"platform:backup": backup}))
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw, project="platform", stack="dev")
    assert expected in str(caught.value)


def test_a_warm_only_rule_needs_no_cold_storage_gap() -> None:
    from components.backup_vault.args import BackupRuleSettings

    rule = BackupRuleSettings(schedule="cron(0 1 * * ? *)", completion_window_minutes=120, delete_after_days=14)
    assert rule.cold_storage_after_days is None


# --- app data ------------------------------------------------------------------------------------


def test_app_table_is_on_demand_pitr_cmk_streamed(any_plan: PlanGraph) -> None:
    table = one(any_plan, TABLE, "backup-data").inputs
    assert (table["hashKey"], table["rangeKey"]) == ("id", "timestamp")
    assert table["attributes"] == [{"name": "id", "type": "S"}, {"name": "timestamp", "type": "N"}]
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {
        "enabled": True,
        "kmsKeyArn": arn_of(any_plan, KEY, "backup-primary-key-key"),
    }
    assert (table["streamEnabled"], table["streamViewType"]) == (True, "NEW_AND_OLD_IMAGES")


def test_global_table_mode_adds_a_dr_replica_and_no_replication_function(staging_plan: PlanGraph) -> None:
    table = one(staging_plan, TABLE, "backup-data").inputs
    assert table["replicas"] == [
        {
            "regionName": "eu-west-1",
            "kmsKeyArn": arn_of(staging_plan, KEY, "backup-dr-key-key"),
            "pointInTimeRecovery": True,
            "deletionProtectionEnabled": False,
            "propagateTags": True,
        }
    ]
    names = {r.name for r in backup_resources(staging_plan)}
    assert "backup-data-replica" not in names and "backup-replicate" not in names
    assert mine(staging_plan, "aws:lambda/eventSourceMapping:EventSourceMapping") == []
    assert staging_plan.outputs["backup"]["replicaTableName"] == "platform-staging-backup-data"


def test_lambda_mode_streams_the_table_to_the_replica_with_partial_failures(dev_plan: PlanGraph) -> None:
    table = one(dev_plan, TABLE, "backup-data")
    assert "replicas" not in table.inputs
    mapping = one(dev_plan, "aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    function = one(dev_plan, "aws:lambda/function:Function", "backup-replicate-function")
    assert mapping["eventSourceArn"] == table.outputs["streamArn"]
    assert mapping["functionName"] == function.outputs["arn"]
    assert mapping["startingPosition"] == "TRIM_HORIZON"
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["bisectBatchOnFunctionError"] is True
    assert mapping["batchSize"] == 50  # from Pulumi.dev.yaml
    assert mapping["destinationConfig"] == {
        "onFailure": {"destinationArn": one(dev_plan, "aws:sqs/queue:Queue", "backup-failures").outputs["arn"]}
    }
    env = function.inputs["environment"]["variables"]
    assert env["REPLICA_REGION"] == "eu-central-1"
    assert env["REPLICA_TABLE_NAME"] == "platform-dev-backup-data-replica"
    assert function.inputs["handler"] == "handlers.backup_vault.replicate.handler"


def test_bucket_replicates_to_the_dr_bucket_under_the_dr_key(dev_plan: PlanGraph) -> None:
    config = one(dev_plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    source, replica = one(dev_plan, BUCKET, "backup-app-bucket"), one(dev_plan, BUCKET, "backup-app-bucket-replica")
    role = one(dev_plan, "aws:iam/role:Role", "backup-s3-replication-role")
    assert config.inputs["bucket"] == source.id
    assert config.inputs["role"] == role.outputs["arn"]
    [rule] = config.inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["destination"]["bucket"] == replica.outputs["arn"]
    assert rule["destination"]["encryptionConfiguration"] == {
        "replicaKmsKeyId": arn_of(dev_plan, KEY, "backup-dr-key-key")
    }
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    versionings = {
        r.urn
        for r in mine(dev_plan, "aws:s3/bucketVersioning:BucketVersioning")
        if r.name.startswith("backup-app-bucket")
    }
    assert len(versionings) == 2 and versionings <= set(config.depends_on)
    grants = granted(policy(one(dev_plan, ROLE_POLICY, "backup-s3-replication-policy")))
    source_arn, replica_arn = source.outputs["arn"], replica.outputs["arn"]
    assert grants == {
        "s3:GetReplicationConfiguration": {source_arn},
        "s3:ListBucket": {source_arn},
        "s3:GetObjectVersionForReplication": {f"{source_arn}/*"},
        "s3:GetObjectVersionAcl": {f"{source_arn}/*"},
        "s3:GetObjectVersionTagging": {f"{source_arn}/*"},
        "s3:ReplicateObject": {f"{replica_arn}/*"},
        "s3:ReplicateDelete": {f"{replica_arn}/*"},
        "s3:ReplicateTags": {f"{replica_arn}/*"},
        "kms:Decrypt": {arn_of(dev_plan, KEY, "backup-primary-key-key")},
        "kms:Encrypt": {arn_of(dev_plan, KEY, "backup-dr-key-key")},
        "kms:GenerateDataKey": {arn_of(dev_plan, KEY, "backup-dr-key-key")},
    }


def test_buckets_are_versioned_encrypted_private_and_tls_only(dev_plan: PlanGraph) -> None:
    for name, key in (
        ("backup-app-bucket", "backup-primary-key-key"),
        ("backup-app-bucket-replica", "backup-dr-key-key"),
    ):
        bucket_id = one(dev_plan, BUCKET, name).id
        versioning = one(dev_plan, "aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning").inputs
        assert versioning == {"bucket": bucket_id, "versioningConfiguration": {"status": "Enabled"}}
        encryption = one(
            dev_plan,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            f"{name}-encryption",
        ).inputs["rules"][0]
        assert encryption["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": arn_of(dev_plan, KEY, key),
        }
        block = one(dev_plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-public-access").inputs
        assert all(
            block[k] is True
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        [deny] = policy(one(dev_plan, "aws:s3/bucketPolicy:BucketPolicy", f"{name}-tls-only"))["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize(
    ("bucket", "log_bucket"),
    [("backup-app-bucket", "backup-access-logs"), ("backup-app-bucket-replica", "backup-dr-access-logs")],
)
def test_buckets_keep_old_versions_cold_and_log_access_to_a_bucket_in_their_region(
    dev_plan: PlanGraph, bucket: str, log_bucket: str
) -> None:
    bucket_id = one(dev_plan, BUCKET, bucket).id
    lifecycle = one(dev_plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{bucket}-lifecycle")
    assert lifecycle.inputs["bucket"] == bucket_id
    assert lifecycle.inputs["rules"] == [
        {
            "id": "noncurrent-versions-to-glacier-ir",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrentVersionTransitions": [{"noncurrentDays": 30, "storageClass": "GLACIER_IR"}],
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
        }
    ]
    assert "expiration" not in lifecycle.inputs["rules"][0]  # every version is kept
    logging = one(dev_plan, "aws:s3/bucketLogging:BucketLogging", f"{bucket}-access-logging")
    target = one(dev_plan, BUCKET, f"{log_bucket}-bucket")
    assert (logging.inputs["bucket"], logging.inputs["targetBucket"]) == (bucket_id, target.id)
    assert region_of(dev_plan, target) == region_of(dev_plan, one(dev_plan, BUCKET, bucket))
    encryption = one(
        dev_plan,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        f"{log_bucket}-encryption",
    ).inputs["rules"]
    assert encryption == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]  # log delivery: SSE-S3


# --- database ------------------------------------------------------------------------------------


def test_prod_database_primary_and_cross_region_replica(prod_plan: PlanGraph) -> None:
    primary, replica = one(prod_plan, RDS, "backup-db"), one(prod_plan, RDS, "backup-db-replica")
    p = primary.inputs
    assert (p["engine"], p["instanceClass"], p["multiAz"]) == ("mysql", "db.r6g.xlarge", True)
    assert p["storageEncrypted"] is True and p["kmsKeyId"] == arn_of(prod_plan, KEY, "backup-primary-key-key")
    assert p["deletionProtection"] is True
    assert p["performanceInsightsEnabled"] is True and p["performanceInsightsRetentionPeriod"] == 31
    assert p["monitoringInterval"] == 60
    assert p["monitoringRoleArn"] == one(prod_plan, "aws:iam/role:Role", "backup-db-monitoring-role").outputs["arn"]
    assert p["backupRetentionPeriod"] == 7
    # RDS refuses a read replica of a source whose password it manages in Secrets Manager: the password is
    # write-only (never in state), the same generated value in the component's own CMK-encrypted secret.
    assert "manageMasterUserPassword" not in p and "password" not in p
    assert is_secret(p["passwordWo"]) and (p["passwordWoVersion"], p["username"]) == (1, "dbadmin")
    secret = one(prod_plan, "aws:secretsmanager/secret:Secret", "backup-db-credential")
    assert secret.inputs["kmsKeyId"] == arn_of(prod_plan, KEY, "backup-primary-key-key")
    value = one(prod_plan, "aws:secretsmanager/secretVersion:SecretVersion", "backup-db-credential-value").inputs
    assert (value["secretId"], value["secretStringWoVersion"]) == (secret.outputs["arn"], 1)
    assert is_secret(value["secretStringWo"]) and "secretString" not in value
    # One generated password for both: what RDS gets is what the secret holds.
    assert json.loads(reveal(value["secretStringWo"])) == {"username": "dbadmin", "password": reveal(p["passwordWo"])}
    assert "replicateSourceDb" in replica.inputs and "passwordWo" not in replica.inputs
    assert p["publiclyAccessible"] is False
    assert (
        p["dbSubnetGroupName"] == one(prod_plan, "aws:rds/subnetGroup:SubnetGroup", "backup-db-subnets").inputs["name"]
    )
    r = replica.inputs
    assert r["replicateSourceDb"] == primary.outputs["arn"]
    assert region_of(prod_plan, replica) == "us-west-2"
    assert r["instanceClass"] == "db.r6g.large"
    assert r["kmsKeyId"] == arn_of(prod_plan, KEY, "backup-dr-key-key")
    assert (
        r["dbSubnetGroupName"]
        == one(prod_plan, "aws:rds/subnetGroup:SubnetGroup", "backup-db-dr-subnets").inputs["name"]
    )
    assert r["storageEncrypted"] is True and r["publiclyAccessible"] is False


def test_database_subnets_are_private_in_two_azs(prod_plan: PlanGraph) -> None:
    for prefix, region, cidr in (("backup-db", "us-east-1", "10.40"), ("backup-db-dr", "us-west-2", "10.41")):
        subnets = [s for s in mine(prod_plan, "aws:ec2/subnet:Subnet") if s.name.startswith(f"{prefix}-private-")]
        assert len(subnets) == 2
        assert {s.inputs["availabilityZone"] for s in subnets} == {f"{region}a", f"{region}b"}
        assert all(s.inputs["cidrBlock"].startswith(cidr) and s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
        group = one(prod_plan, "aws:ec2/securityGroup:SecurityGroup", f"{prefix}-sg").inputs
        assert group["ingress"] == [
            {
                "description": "MySQL clients inside the database VPC",
                "protocol": "tcp",
                "fromPort": 3306,
                "toPort": 3306,
                "cidrBlocks": [f"{cidr}.0.0/16"],
            }
        ]
        assert group["egress"] == []
    igws = [r for r in backup_resources(prod_plan) if r.type == "aws:ec2/internetGateway:InternetGateway"]
    assert igws == []


@pytest.mark.parametrize(
    ("instance", "prefix", "key"),
    [("backup-db", "backup-db", "backup-primary-key-key"), ("backup-db-replica", "backup-db-dr", "backup-dr-key-key")],
)
def test_both_instances_take_tls_and_iam_auth_only_and_export_logs_to_encrypted_groups(
    prod_plan: PlanGraph, instance: str, prefix: str, key: str
) -> None:
    db = one(prod_plan, RDS, instance)
    inputs = db.inputs
    assert inputs["iamDatabaseAuthenticationEnabled"] is True
    assert inputs["multiAz"] is True  # prod: a promoted replica is as available as the primary
    parameters = one(prod_plan, "aws:rds/parameterGroup:ParameterGroup", f"{prefix}-parameters")
    assert inputs["parameterGroupName"] == parameters.inputs["name"]
    assert parameters.inputs["family"] == "mysql8.0"
    assert parameters.inputs["parameters"] == [{"name": "require_secure_transport", "value": "1"}]
    assert region_of(prod_plan, parameters) == region_of(prod_plan, db)
    assert inputs["enabledCloudwatchLogsExports"] == ["error", "slowquery"]
    for log in ("error", "slowquery"):
        group = one(prod_plan, "aws:cloudwatch/logGroup:LogGroup", f"{prefix}-{log}-logs")
        assert group.inputs["name"] == f"/aws/rds/instance/{inputs['identifier']}/{log}"
        assert group.inputs["kmsKeyId"] == arn_of(prod_plan, KEY, key)
        assert group.inputs["retentionInDays"] == stack_config("prod")["platform:logRetentionDays"]
        assert group.urn in db.depends_on  # declared before RDS would create it unencrypted
        assert region_of(prod_plan, group) == region_of(prod_plan, db)


@pytest.mark.parametrize(
    ("prefix", "key"), [("backup-db", "backup-primary-key-key"), ("backup-db-dr", "backup-dr-key-key")]
)
def test_both_database_vpcs_log_their_traffic_and_close_their_default_group(
    prod_plan: PlanGraph, prefix: str, key: str
) -> None:
    vpc = one(prod_plan, "aws:ec2/vpc:Vpc", f"{prefix}-vpc")
    default_group = one(prod_plan, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", f"{prefix}-default-sg")
    assert default_group.inputs["vpcId"] == vpc.id
    assert default_group.inputs["ingress"] == [] and default_group.inputs["egress"] == []
    flow_log = one(prod_plan, "aws:ec2/flowLog:FlowLog", f"{prefix}-flow-logs")
    assert flow_log.inputs["vpcId"] == vpc.id and flow_log.inputs["trafficType"] == "ALL"
    group = one(prod_plan, "aws:cloudwatch/logGroup:LogGroup", f"{prefix}-flow-logs-logs")
    assert flow_log.inputs["logDestination"] == group.outputs["arn"]
    assert group.inputs["kmsKeyId"] == arn_of(prod_plan, KEY, key)
    assert {region_of(prod_plan, r) for r in (flow_log, group, default_group)} == {region_of(prod_plan, vpc)}


def test_no_database_without_config(dev_plan: PlanGraph) -> None:
    assert [r for r in backup_resources(dev_plan) if r.type.startswith(("aws:rds/", "aws:ec2/"))] == []


# --- functions and IAM ---------------------------------------------------------------------------


def function_grants(plan: PlanGraph, name: str) -> dict[str, set[str]]:
    grants = granted(policy(one(plan, ROLE_POLICY, f"{name}-policy")))
    function = one(plan, "aws:lambda/function:Function", f"{name}-function")
    log_group = one(plan, "aws:cloudwatch/logGroup:LogGroup", f"{name}-logs").outputs["arn"]
    # What every platform function gets: its own log stream, tracing, its env key.
    assert grants.pop("logs:CreateLogStream") == grants.pop("logs:PutLogEvents") == {f"{log_group}:*"}
    assert grants.pop("xray:PutTraceSegments") == grants.pop("xray:PutTelemetryRecords") == {"*"}
    assert function.inputs["kmsKeyArn"] in grants["kms:Decrypt"]
    return grants


def test_validation_function_may_list_jobs_and_alert_only(prod_plan: PlanGraph) -> None:
    grants = function_grants(prod_plan, "backup-validate")
    key = arn_of(prod_plan, KEY, "backup-primary-key-key")
    topic = one(prod_plan, "aws:sns/topic:Topic", "backup-notifications").outputs["arn"]
    queue = one(prod_plan, "aws:sqs/queue:Queue", "backup-failures").outputs["arn"]
    assert grants == {
        "backup:ListBackupJobs": {"*"},
        "backup:ListCopyJobs": {"*"},
        "sns:Publish": {topic},
        "kms:GenerateDataKey": {key},
        "kms:Decrypt": {key},
        "sqs:SendMessage": {queue},
    }
    [via] = [s for s in policy(one(prod_plan, ROLE_POLICY, "backup-validate-policy"))["Statement"] if "Condition" in s]
    assert via["Condition"] == {
        "StringEquals": {"kms:ViaService": ["sns.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com"]}
    }
    env = one(prod_plan, "aws:lambda/function:Function", "backup-validate-function").inputs["environment"]["variables"]
    assert env["VAULT_NAME"] == "platform-prod-backup-vault"
    assert env["DR_VAULT_ARN"] == arn_of(prod_plan, VAULT, "backup-dr-vault")
    assert env["ALERT_TOPIC_ARN"] == topic


def test_validation_runs_daily_from_eventbridge(prod_plan: PlanGraph) -> None:
    rule = one(prod_plan, "aws:cloudwatch/eventRule:EventRule", "backup-validate-schedule")
    target = one(prod_plan, "aws:cloudwatch/eventTarget:EventTarget", "backup-validate-target")
    permission = one(prod_plan, "aws:lambda/permission:Permission", "backup-validate-invoke")
    function = one(prod_plan, "aws:lambda/function:Function", "backup-validate-function")
    assert rule.inputs["scheduleExpression"] == "cron(0 8 * * ? *)"
    assert target.inputs["arn"] == function.outputs["arn"] and target.inputs["rule"] == rule.outputs["name"]
    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert permission.inputs["sourceArn"] == rule.outputs["arn"]


def test_replication_function_may_read_the_stream_and_write_the_replica_only(prod_plan: PlanGraph) -> None:
    grants = function_grants(prod_plan, "backup-replicate")
    table = one(prod_plan, TABLE, "backup-data").outputs
    replica = arn_of(prod_plan, TABLE, "backup-data-replica")
    key = arn_of(prod_plan, KEY, "backup-primary-key-key")
    dr_key = arn_of(prod_plan, KEY, "backup-dr-key-key")
    assert replica.startswith("arn:aws:dynamodb:us-west-2:")
    assert grants == {
        "dynamodb:DescribeStream": {table["streamArn"]},
        "dynamodb:GetRecords": {table["streamArn"]},
        "dynamodb:GetShardIterator": {table["streamArn"]},
        "dynamodb:ListStreams": {"*"},
        "dynamodb:PutItem": {replica},
        "dynamodb:DeleteItem": {replica},
        "sqs:SendMessage": {one(prod_plan, "aws:sqs/queue:Queue", "backup-failures").outputs["arn"]},
        "kms:GenerateDataKey": {key, dr_key},
        "kms:Decrypt": {key, dr_key},
        "kms:Encrypt": {dr_key},
    }
    statements = statements_by_sid(policy(one(prod_plan, ROLE_POLICY, "backup-replicate-policy")))
    assert statements["PrimaryKeyForStreamAndQueue"]["Condition"] == {
        "StringEquals": {"kms:ViaService": ["dynamodb.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com"]}
    }
    assert statements["DrKeyForReplicaItems"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "dynamodb.us-west-2.amazonaws.com"}
    }


def test_dr_function_may_only_describe_promote_and_scale_the_replica(prod_plan: PlanGraph) -> None:
    grants = function_grants(prod_plan, "backup-dr-orchestrate")
    replica = one(prod_plan, RDS, "backup-db-replica")
    dr_key = arn_of(prod_plan, KEY, "backup-dr-key-key")
    parameter = "/platform/prod/backup/database-connection"
    assert grants == {
        "rds:DescribeDBInstances": {replica.outputs["arn"]},
        "rds:PromoteReadReplica": {replica.outputs["arn"]},
        "rds:ModifyDBInstance": {replica.outputs["arn"]},
        # The promoted database's own secret (RDS creates it in the DR region under the DR key)...
        "secretsmanager:CreateSecret": {f"arn:aws:secretsmanager:us-west-2:{ACCOUNT_ID}:secret:rds!db-*"},
        "secretsmanager:TagResource": {f"arn:aws:secretsmanager:us-west-2:{ACCOUNT_ID}:secret:rds!db-*"},
        "kms:Decrypt": {dr_key},
        "kms:DescribeKey": {dr_key},
        "kms:GenerateDataKey": {dr_key},
        "kms:CreateGrant": {dr_key},
        # ...and where its consumers read the new endpoint and secret.
        "ssm:PutParameter": {f"arn:aws:ssm:us-west-2:{ACCOUNT_ID}:parameter{parameter}"},
    }
    function = one(prod_plan, "aws:lambda/function:Function", "backup-dr-orchestrate-function")
    assert region_of(prod_plan, function) == "us-west-2"
    assert function.inputs["timeout"] == 900 and function.inputs["reservedConcurrentExecutions"] == 1
    env = function.inputs["environment"]["variables"]
    assert env["DR_DB_INSTANCE_ID"] == "platform-prod-backup-db-replica"
    assert env["STANDBY_INSTANCE_CLASS"] == "db.r6g.xlarge"  # scale-up target defaults to the primary's class
    assert env["DR_REGION"] == "us-west-2" and env["BACKUP_RETENTION_DAYS"] == "7"
    assert (env["DR_SECRET_KMS_KEY_ARN"], env["CONNECTION_PARAMETER"]) == (dr_key, parameter)
    assert prod_plan.outputs["backup"]["drFunctionArn"] == function.outputs["arn"]
    assert prod_plan.outputs["backup"]["drConnectionParameter"] == parameter


def test_dr_function_without_database_has_no_rds_access(dev_plan: PlanGraph) -> None:
    grants = function_grants(dev_plan, "backup-dr-orchestrate")
    assert grants == {"kms:Decrypt": {arn_of(dev_plan, KEY, "backup-dr-key-key")}}
    env = one(dev_plan, "aws:lambda/function:Function", "backup-dr-orchestrate-function").inputs["environment"][
        "variables"
    ]
    assert "DR_DB_INSTANCE_ID" not in env


def test_no_wildcard_actions_or_broad_services_anywhere(any_plan: PlanGraph) -> None:
    for resource in backup_resources(any_plan):
        if resource.type not in (ROLE_POLICY, "aws:sns/topicPolicy:TopicPolicy", "aws:sqs/queuePolicy:QueuePolicy"):
            continue
        for statement in policy(resource)["Statement"]:
            if statement["Effect"] == "Deny":
                continue
            for action in as_list(statement["Action"]):
                assert not action.endswith(":*") and action != "*", (resource.name, action)
                assert not action.startswith(("ec2:", "route53:", "autoscaling:")), (resource.name, action)


# --- protection and outputs ----------------------------------------------------------------------

STATEFUL = {KEY, VAULT, TABLE, BUCKET, RDS, "aws:sqs/queue:Queue"}


def test_prod_protects_every_stateful_resource(prod_plan: PlanGraph) -> None:
    stateful = [r for r in backup_resources(prod_plan) if r.type in STATEFUL]
    assert {r.name for r in stateful} >= {
        "backup-primary-key-key",
        "backup-dr-key-key",
        "backup-vault",
        "backup-dr-vault",
        "backup-data",
        "backup-data-replica",
        "backup-app-bucket",
        "backup-app-bucket-replica",
        "backup-db",
        "backup-db-replica",
        "backup-failures",
    }
    assert all(r.protect for r in stateful), [r.name for r in stateful if not r.protect]
    assert one(prod_plan, VAULT, "backup-vault").inputs["forceDestroy"] is False
    assert one(prod_plan, TABLE, "backup-data").inputs["deletionProtectionEnabled"] is True


def test_dev_protects_nothing(dev_plan: PlanGraph) -> None:
    assert [r.name for r in backup_resources(dev_plan) if r.protect] == []


def test_outputs(any_plan: PlanGraph) -> None:
    outputs = any_plan.outputs["backup"]
    stack = any_plan.stack
    assert outputs["vaultArn"] == arn_of(any_plan, VAULT, "backup-vault")
    assert outputs["drVaultArn"] == arn_of(any_plan, VAULT, "backup-dr-vault")
    assert outputs["planId"] == one(any_plan, "aws:backup/plan:Plan").id
    assert outputs["tableName"] == f"platform-{stack}-backup-data"
    # Bucket names are global: they carry the account id and the bucket's region.
    primary, dr = REGIONS[stack]
    assert outputs["bucketName"] == f"platform-{stack}-backup-data-{ACCOUNT_ID}-{primary}"
    assert outputs["replicaBucketName"] == f"platform-{stack}-backup-data-replica-{ACCOUNT_ID}-{dr}"
    assert outputs["drFunctionArn"].startswith(f"arn:aws:lambda:{REGIONS[stack][1]}:")
    assert ("databaseEndpoint" in outputs) == (stack != "dev")


# --- alarms --------------------------------------------------------------------------------------

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
# Metrics CloudWatch publishes per the dimension sets given here; an alarm with any other set sees no data.
PUBLISHED_DIMENSIONS = {
    ("AWS/Lambda", "Errors"): {"FunctionName"},
    ("AWS/Lambda", "IteratorAge"): {"FunctionName"},
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): {"QueueName"},
    ("AWS/DynamoDB", "WriteThrottleEvents"): {"TableName"},
    ("AWS/DynamoDB", "ReadThrottleEvents"): {"TableName"},
}


def test_alarms_watch_published_metrics_and_notify_the_topic(prod_plan: PlanGraph) -> None:
    topic = one(prod_plan, "aws:sns/topic:Topic").outputs["arn"]
    table = one(prod_plan, TABLE, "backup-data").outputs["name"]
    alarms = {r.name: r.inputs for r in mine(prod_plan, ALARM)}
    for name, alarm in alarms.items():
        metric = (alarm["namespace"], alarm["metricName"])
        assert metric in PUBLISHED_DIMENSIONS, f"{name} watches {metric}"
        assert set(alarm["dimensions"]) == PUBLISHED_DIMENSIONS[metric], name
        assert alarm["alarmActions"] == [topic], name
    throttles = {alarms[n]["metricName"]: alarms[n]["dimensions"] for n in alarms if "throttles" in n}
    assert throttles == {"WriteThrottleEvents": {"TableName": table}, "ReadThrottleEvents": {"TableName": table}}
    assert {alarms[n]["metricName"] for n in alarms} >= {"Errors", "IteratorAge", "ApproximateNumberOfMessagesVisible"}


def test_compliance_framework_states_what_the_plan_promises(prod_plan: PlanGraph) -> None:
    framework = one(prod_plan, "aws:backup/framework:Framework")
    assert framework.inputs["name"] == "platform_prod_backup_framework"
    controls = {c["name"]: c for c in framework.inputs["controls"]}
    params = {name: {p["name"]: p["value"] for p in c.get("inputParameters", [])} for name, c in controls.items()}
    plan_id = one(prod_plan, "aws:backup/plan:Plan").id
    assert params["BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK"] == {
        "requiredFrequencyUnit": "hours",
        "requiredFrequencyValue": "24",
        "requiredRetentionDays": "365",
    }
    assert controls["BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK"]["scope"]["complianceResourceIds"] == [plan_id]
    assert params["BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION"] == {"crossRegionList": "us-west-2"}
    assert "BACKUP_RECOVERY_POINT_ENCRYPTED" in controls
    # Prod locks its vaults: the framework checks the lock's range too.
    lock = params["BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK"]
    assert set(lock) == {"minRetentionDays", "maxRetentionDays"}
    tagged = controls["BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN"]["scope"]
    assert tagged == {"complianceResourceTypes": ["DynamoDB", "RDS", "S3"], "tags": {"BackupEnabled": "true"}}


def test_dev_framework_has_no_vault_lock_control(dev_plan: PlanGraph) -> None:
    names = {c["name"] for c in one(dev_plan, "aws:backup/framework:Framework").inputs["controls"]}
    assert "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK" not in names
    assert "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION" in names


def test_compliance_report_lands_encrypted_in_its_own_bucket(prod_plan: PlanGraph) -> None:
    report = one(prod_plan, "aws:backup/reportPlan:ReportPlan")
    framework = one(prod_plan, "aws:backup/framework:Framework")
    bucket = one(prod_plan, BUCKET, "backup-reports-bucket")
    assert report.inputs["reportSetting"] == {
        "reportTemplate": "CONTROL_COMPLIANCE_REPORT",
        "frameworkArns": [framework.outputs["arn"]],
        "numberOfFrameworks": 1,
    }
    channel = report.inputs["reportDeliveryChannel"]
    assert (channel["s3BucketName"], channel["s3KeyPrefix"]) == (bucket.inputs["bucket"], "backup-reports")
    encryption = one(
        prod_plan,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "backup-reports-encryption",
    )
    primary_key = arn_of(prod_plan, KEY, "backup-primary-key-key")
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == primary_key
    reports_role = (
        f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"
    )
    delivery = statements_by_sid(policy(one(prod_plan, "aws:s3/bucketPolicy:BucketPolicy", "backup-reports-policy")))
    assert delivery["BackupReportsDelivery"]["Principal"] == {"AWS": reports_role}
    assert delivery["BackupReportsDelivery"]["Resource"] == f"{bucket.outputs['arn']}/backup-reports/*"
    key_grant = statements_by_sid(policy(one(prod_plan, KEY, "backup-primary-key-key")))["AllowBackupReportsDelivery"]
    assert key_grant["Principal"] == {"AWS": reports_role} and key_grant["Action"] == "kms:GenerateDataKey"
    assert prod_plan.outputs["backup"]["complianceReportBucket"] == bucket.inputs["bucket"]
    assert bucket.protect is True
    logging = one(prod_plan, "aws:s3/bucketLogging:BucketLogging", "backup-reports-access-logging")
    assert logging.inputs["targetBucket"] == one(prod_plan, BUCKET, "backup-access-logs-bucket").id
