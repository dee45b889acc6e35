"""The BackupVault component: AWS Backup with a working cross-region DR path.

Primary region: CMK, vault with notifications, plan (daily + weekly, each copied to the DR vault),
tag selection, restore testing, the protected app data (DynamoDB table, S3 bucket, optional MySQL)
and the backup-validation and replication functions. DR region (second provider): CMK, DR vault,
replica table/bucket/database and the DR orchestration function, which must run where the primary
region's outage cannot reach it.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup_vault.app_data import Buckets, Tables, app_buckets, app_tables
from components.backup_vault.args import BackupVaultArgs
from components.backup_vault.compliance import Compliance, compliance_reporting, reports_key_statement
from components.backup_vault.database import Database, database
from components.backup_vault.protection import (
    DatabaseRestoreTarget,
    backup_plan,
    backup_vaults,
    job_failure_pattern,
    restore_testing,
)
from components.context import StackContext
from components.iam import Statement
from components.kms import EVENTBRIDGE_TO_ENCRYPTED_TOPIC, key_use_through
from components.lambda_function import FunctionSpec, PythonFunction
from components.observability import CLOUDWATCH_ALARMS, Metric, Publisher, iterator_age, lambda_errors, queue_depth
from components.queues import allow_service_to_send
from components.scope import Scope, component_options

# Physical-name slug of a backup vault unless the program gives another one.
COMPONENT = "backup"
# Stream records live 24 h; older ones can no longer be read, so stop retrying them by then.
STREAM_RETENTION_SECONDS = 86400
# The validation rules retry a failed invocation for an hour before dead-lettering it.
RULE_RETRY_POLICY = {"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600}


class BackupVault(pulumi.ComponentResource):
    """AWS Backup vaults, plan and selection, protected app data with DR-region copies, and DR automation."""

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        args: BackupVaultArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        slug: str = COMPONENT,
    ) -> None:
        super().__init__("platform:index:BackupVault", name, None, component_options(ctx, opts))
        self._ctx = ctx
        scope = Scope.of(self, ctx, name, slug)

        self.primary_key = scope.key(
            "primary",
            description="BackupVault primary region: vault, app data, notifications, queue and logs",
            # backup: vault encryption and publishing job events; cloudwatch/events: alarms and the
            # schedule's dead-letter queue on this CMK-encrypted topic and queue; logs: function logs.
            services=["backup", "logs", "cloudwatch", "events"],
            extra_statements=[
                EVENTBRIDGE_TO_ENCRYPTED_TOPIC,
                *([reports_key_statement(scope)] if args.compliance_reports else []),
            ],
        )
        self.dr_key = scope.in_dr().key(
            "dr",
            description="BackupVault DR region: DR vault, replica data and the DR function's logs",
            services=["backup", "logs"],
        )
        primary_key_arn, dr_key_arn = self.primary_key.arn, self.dr_key.arn
        self._scope = scope = scope.with_key(primary_key_arn)

        self.topic = self._notification_topic()
        self._scope = scope = scope.with_alarm_topic(self.topic.arn)
        self.failure_queue = scope.queue("failures")

        self.vaults = backup_vaults(
            scope,
            primary_key_arn=primary_key_arn,
            dr_key_arn=dr_key_arn,
            topic_arn=self.topic.arn,
            lock=args.vault_lock,
        )
        self.protection = backup_plan(scope, args, self.vaults)
        self.tables: Tables = app_tables(scope, args, primary_key_arn=primary_key_arn, dr_key_arn=dr_key_arn)
        self.buckets: Buckets = app_buckets(scope, primary_key_arn=primary_key_arn, dr_key_arn=dr_key_arn)
        self.database: Database | None = (
            database(scope, args.database, primary_key_arn=primary_key_arn, dr_key_arn=dr_key_arn)
            if args.database.enabled
            else None
        )
        self.restore_testing_plan = (
            restore_testing(
                scope,
                args,
                vault_arn=self.vaults.primary.arn,
                role_arn=self.protection.role.arn,
                table_arn=self.tables.primary.arn,
                bucket_arn=self.buckets.primary.arn,
                database=self._restore_target(args),
            )
            if args.restore_testing
            else None
        )
        self.restore_validation = (
            self._restore_validation_function(args, self.restore_testing_plan)
            if self.restore_testing_plan is not None
            else None
        )
        self.job_failure_rule = self._job_failure_rule()
        self.compliance: Compliance | None = (
            compliance_reporting(scope, args, self.protection.plan.id, access_log_bucket=self.buckets.access_logs)
            if args.compliance_reports
            else None
        )

        self.validation = self._validation_function(args)
        # Every rule of this component may leave what it could not deliver in the failure queue.
        rules = [self._schedule_rule, self.job_failure_rule]
        if self.restore_validation is not None:
            rules.append(self._restore_rule)
        allow_service_to_send(
            scope.child("failures-policy"),
            self.failure_queue,
            sid="RuleDeadLetters",
            service="events.amazonaws.com",
            source_arns=[rule.arn for rule in rules],
            opts=scope.opts(),
        )
        self.replication = (
            self._replication_function(args, self.tables.replica) if self.tables.replica is not None else None
        )
        # Where the database's consumers find it after a failover (written by the DR function, in the DR region).
        self.connection_parameter = f"/{ctx.project}/{ctx.stack}/{slug}/database-connection"
        self.dr_function = self._dr_function(args)
        self._alarms()

        self.register_outputs(self.stack_outputs())

    # -- notifications -------------------------------------------------------------------------

    def _notification_topic(self) -> aws.sns.Topic:
        return self._scope.alarm_topic(
            "notifications",
            display_name="Backup and Recovery Notifications",
            publishers=[
                Publisher("AwsBackupPublishesJobEvents", "backup.amazonaws.com"),
                CLOUDWATCH_ALARMS,
                Publisher("FailedJobEventsPublish", "events.amazonaws.com"),
            ],
        )

    def _job_failure_rule(self) -> aws.cloudwatch.EventRule:
        """AWS Backup's own events for failed, aborted and expired jobs of this account reach the topic at once
        (the vault notifications no longer send failures, and the daily validation runs once a day)."""
        scope = self._scope
        rule = aws.cloudwatch.EventRule(
            scope.child("job-failures"),
            name=scope.physical("job-failures", service="events"),
            description="Failed, aborted or expired AWS Backup, copy and restore jobs",
            event_pattern=json.dumps(job_failure_pattern()),
            opts=scope.opts(),
        )
        aws.cloudwatch.EventTarget(
            scope.child("job-failures-alert"),
            rule=rule.name,
            target_id="notification-topic",
            arn=self.topic.arn,
            retry_policy={"maximum_retry_attempts": 20, "maximum_event_age_in_seconds": 86_400},
            dead_letter_config={"arn": self.failure_queue.arn},
            opts=scope.opts(),
        )
        return rule

    def _restore_target(self, args: BackupVaultArgs) -> DatabaseRestoreTarget | None:
        if self.database is None:
            return None
        return DatabaseRestoreTarget(
            arn=self.database.primary.arn,
            subnet_group_name=self.database.network.subnet_group.name,
            security_group_id=self.database.network.security_group.id,
            instance_class=args.database.restore_test_instance_class,
        )

    def _restore_validation_function(
        self, args: BackupVaultArgs, plan: aws.backup.RestoreTestingPlan
    ) -> PythonFunction:
        """Each COMPLETED restore job of the testing plan -> inspect the restored copy -> report to AWS Backup."""
        ctx, scope = self._ctx, self._scope
        # Restore tests name what they create `awsbackup-restore-test-...` (AWS Backup's inferred metadata).
        restored = "awsbackup-restore-test-*"
        environment: dict[str, pulumi.Input[str]] = {"MIN_RESTORED_ITEMS": "1"}
        if self.database is not None:
            environment.update(EXPECTED_DB_ENGINE="mysql", EXPECTED_DB_ENGINE_VERSION=args.database.engine_version)
        function = scope.function(
            FunctionSpec(
                purpose="validate-restore",
                module="backup_vault.validate_restore",
                description="Checks each restore test's restored copy and reports it with PutRestoreValidationResult",
                statements=[
                    # Neither action supports resource-level permissions (Service Authorization Reference).
                    Statement(
                        sid="ReadAndReportRestoreJobs",
                        actions=["backup:DescribeRestoreJob", "backup:PutRestoreValidationResult"],
                    ),
                    Statement(
                        sid="InspectRestoredTables",
                        actions=["dynamodb:DescribeTable", "dynamodb:Scan"],
                        resources=[ctx.arn("dynamodb", f"table/{restored}")],
                    ),
                    Statement(
                        sid="InspectRestoredDatabases",
                        actions=["rds:DescribeDBInstances"],
                        resources=[ctx.arn("rds", f"db:{restored}")],
                    ),
                    Statement(
                        sid="InspectRestoredBuckets",
                        actions=["s3:ListBucket"],
                        resources=[pulumi.Output.concat("arn:", ctx.partition, f":s3:::{restored}")],
                    ),
                    # Failed invocations go to the dead-letter queue, encrypted with the primary CMK.
                    key_use_through(
                        "EncryptDeadLetters",
                        self.primary_key.arn,
                        ["kms:GenerateDataKey", "kms:Decrypt"],
                        ["sqs"],
                        ctx.region,
                    ),
                ],
                environment=environment,
                timeout=300,
                dead_letter_arn=self.failure_queue.arn,
            )
        )
        rule = aws.cloudwatch.EventRule(
            scope.child("restore-completed"),
            name=scope.physical("restore-completed", service="events"),
            description="Completed restore jobs of this component's restore testing plan",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.backup"],
                    "detail-type": ["Restore Job State Change"],
                    "detail": {"status": ["COMPLETED"], "restoreTestingPlanArn": [plan.arn]},
                }
            ),
            opts=scope.opts(),
        )
        scope.rule_invokes(
            rule,
            function,
            invoke_child="validate-restore-invoke",
            target_child="validate-restore-target",
            retry_policy=RULE_RETRY_POLICY,
            dead_letter_arn=self.failure_queue.arn,
        )
        self._restore_rule = rule
        return function

    # -- functions ----------------------------------------------------------------------------

    def _validation_function(self, args: BackupVaultArgs) -> PythonFunction:
        """Daily: every backup/copy job of the last 24 h, one alert listing the failed ones."""
        ctx, scope = self._ctx, self._scope
        function = scope.function(
            FunctionSpec(
                purpose="validate",
                module="backup_vault.validate_backups",
                description="Checks the last 24 h of AWS Backup and copy jobs and alerts on failures",
                statements=[
                    # List APIs without resource-level permissions (filtered by vault in the call).
                    Statement(sid="ListJobs", actions=["backup:ListBackupJobs", "backup:ListCopyJobs"]),
                    Statement(sid="PublishAlerts", actions=["sns:Publish"], resources=[self.topic.arn]),
                    # The alert topic and the dead-letter queue are encrypted with the primary CMK.
                    key_use_through(
                        "EncryptAlertsAndDeadLetters",
                        self.primary_key.arn,
                        ["kms:GenerateDataKey", "kms:Decrypt"],
                        ["sns", "sqs"],
                        ctx.region,
                    ),
                ],
                environment={
                    "VAULT_NAME": self.vaults.primary.name,
                    "DR_VAULT_ARN": self.vaults.dr.arn,
                    "ALERT_TOPIC_ARN": self.topic.arn,
                },
                timeout=120,
                reserved_concurrency=1,
                dead_letter_arn=self.failure_queue.arn,
            )
        )
        rule = aws.cloudwatch.EventRule(
            scope.child("validate-schedule"),
            name=scope.physical("validate-daily", service="events"),
            description="Daily validation of AWS Backup jobs",
            schedule_expression=args.validation_schedule,
            opts=scope.opts(),
        )
        self._schedule_rule = rule
        scope.rule_invokes(
            rule,
            function,
            invoke_child="validate-invoke",
            target_child="validate-target",
            retry_policy=RULE_RETRY_POLICY,
            dead_letter_arn=self.failure_queue.arn,
        )
        return function

    def _replication_function(self, args: BackupVaultArgs, replica: aws.dynamodb.Table) -> PythonFunction:
        """Stream of the app table -> replica table in the DR region, types and deletes kept."""
        ctx, scope = self._ctx, self._scope
        table = self.tables.primary
        stream_arn = table.stream_arn
        function = scope.function(
            FunctionSpec(
                purpose="replicate",
                module="backup_vault.replicate",
                description="Replicates the app table's stream to the replica table in the DR region",
                statements=[
                    Statement(
                        sid="ReadTableStream",
                        actions=["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                        resources=[stream_arn],
                    ),
                    # ListStreams takes no resource ARN: granted on a stream ARN it is refused.
                    Statement(sid="ListTableStreams", actions=["dynamodb:ListStreams"], resources=["*"]),
                    Statement(
                        sid="WriteReplica", actions=["dynamodb:PutItem", "dynamodb:DeleteItem"], resources=[replica.arn]
                    ),
                    # The stream poller sends records that exhaust their retries to the failure queue.
                    Statement(sid="FailedBatches", actions=["sqs:SendMessage"], resources=[self.failure_queue.arn]),
                    # The stream (primary CMK) is decrypted through DynamoDB; failed batches are
                    # encrypted into the queue (primary CMK); replica items under the DR CMK.
                    key_use_through(
                        "PrimaryKeyForStreamAndQueue",
                        self.primary_key.arn,
                        ["kms:GenerateDataKey", "kms:Decrypt"],
                        ["dynamodb", "sqs"],
                        ctx.region,
                    ),
                    key_use_through(
                        "DrKeyForReplicaItems",
                        self.dr_key.arn,
                        ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                        ["dynamodb"],
                        ctx.dr_region,
                    ),
                ],
                environment={"REPLICA_REGION": ctx.dr_region, "REPLICA_TABLE_NAME": replica.name},
                timeout=60,
            )
        )
        aws.lambda_.EventSourceMapping(
            scope.child("replicate-stream"),
            event_source_arn=stream_arn,
            function_name=function.arn,
            # From the oldest record, so changes made before the mapping existed still replicate.
            starting_position="TRIM_HORIZON",
            batch_size=args.replication_batch_size,
            maximum_batching_window_in_seconds=args.replication_batching_window_seconds,
            function_response_types=["ReportBatchItemFailures"],
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=args.replication_max_retries,
            maximum_record_age_in_seconds=STREAM_RETENTION_SECONDS,
            parallelization_factor=1,
            destination_config={"on_failure": {"destination_arn": self.failure_queue.arn}},
            opts=scope.opts(depends_on=[function]),
        )
        return function

    def _dr_function(self, args: BackupVaultArgs) -> PythonFunction:
        """Pilot light / warm standby, deployed in the DR region and allowed to touch only the replica."""
        ctx = self._ctx
        statements: list[Statement] = []
        environment: dict[str, pulumi.Input[str]] = {"DR_REGION": ctx.dr_region}
        if self.database is not None:
            replica_arn = self.database.replica.arn
            statements.append(
                Statement(
                    sid="PromoteOrScaleReplica",
                    actions=["rds:DescribeDBInstances", "rds:PromoteReadReplica", "rds:ModifyDBInstance"],
                    resources=[replica_arn],
                )
            )
            dr_key = self.dr_key.arn
            statements += [
                # After promotion RDS creates the database's own master-user secret in the DR region.
                Statement(
                    sid="PromotedDatabaseSecret",
                    actions=["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
                    resources=[ctx.arn("secretsmanager", "secret:rds!db-*", region=ctx.dr_region)],
                ),
                Statement(
                    sid="EncryptPromotedDatabaseSecret",
                    actions=["kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[dr_key],
                ),
                Statement(
                    sid="LetRdsUseTheKey",
                    actions=["kms:CreateGrant"],
                    resources=[dr_key],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
                Statement(
                    sid="PublishConnection",
                    actions=["ssm:PutParameter"],
                    resources=[ctx.arn("ssm", f"parameter{self.connection_parameter}", region=ctx.dr_region)],
                ),
            ]
            environment.update(
                DR_DB_INSTANCE_ID=self.database.replica.identifier,
                STANDBY_INSTANCE_CLASS=args.database.standby_target_class,
                BACKUP_RETENTION_DAYS=str(args.database.backup_retention_days),
                DR_SECRET_KMS_KEY_ARN=dr_key,
                CONNECTION_PARAMETER=self.connection_parameter,
            )
        return self._scope.in_dr(self.dr_key.arn).function(
            FunctionSpec(
                purpose="dr-orchestrate",
                module="backup_vault.dr_orchestrate",
                description="Disaster recovery: promote (pilot light) or scale up (warm standby) the DR database",
                statements=statements,
                environment=environment,
                timeout=900,
                # One recovery at a time.
                reserved_concurrency=1,
            )
        )

    # -- alarms -------------------------------------------------------------------------------

    def _alarms(self) -> None:
        self._scope.alarm(
            "validate-errors",
            "The backup-validation function failed: backup jobs went unchecked",
            lambda_errors(self.validation.name),
        )
        self._scope.alarm(
            "failures-queued",
            "Replication batches or validation runs exhausted their retries and are in the failure queue",
            queue_depth(self.failure_queue.name),
        )
        if self.replication is not None:
            self._scope.alarm(
                "replicate-errors",
                "DynamoDB replication to the DR region is failing",
                lambda_errors(self.replication.name),
            )
            self._scope.alarm(
                "replicate-iterator-age",
                "DynamoDB replication lags the table stream by more than 5 minutes",
                iterator_age(self.replication.name),
                threshold=300_000,
            )
        # ThrottledRequests is only published per TableName *and* Operation, so an alarm on the
        # table alone would never see data; the throttle events are published per table.
        table = {"TableName": self.tables.primary.name}
        self._scope.alarm(
            "table-throttles",
            "Writes to the app table are throttled",
            Metric("AWS/DynamoDB", "WriteThrottleEvents", table, "Sum"),
        )
        self._scope.alarm(
            "table-read-throttles",
            "Reads from the app table are throttled",
            Metric("AWS/DynamoDB", "ReadThrottleEvents", table, "Sum"),
        )

    # -- outputs ------------------------------------------------------------------------------

    def stack_outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {
            "vaultArn": self.vaults.primary.arn,
            "drVaultArn": self.vaults.dr.arn,
            "planId": self.protection.plan.id,
            "drFunctionArn": self.dr_function.arn,
            "validationFunctionArn": self.validation.arn,
            "notificationTopicArn": self.topic.arn,
            "tableName": self.tables.primary.name,
            "replicaTableName": self.tables.replica_name,
            "bucketName": self.buckets.primary.bucket,
            "replicaBucketName": self.buckets.replica.bucket,
        }
        if self.database is not None:
            outputs["databaseEndpoint"] = self.database.primary.address
            outputs["databaseCredentialArn"] = self.database.credential.arn
            outputs["replicaDatabaseId"] = self.database.replica.identifier
            outputs["drConnectionParameter"] = self.connection_parameter
        if self.compliance is not None:
            outputs["complianceReportBucket"] = self.compliance.bucket.name
            outputs["auditFrameworkArn"] = self.compliance.framework.arn
        if self.restore_testing_plan is not None:
            outputs["restoreTestingPlanName"] = self.restore_testing_plan.name
        return outputs
