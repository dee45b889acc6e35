"""The DataLake component: S3 zones, Glue catalog, crawlers and Spark jobs, Athena, ingestion Lambdas.

Flow: feeds land as CSV under `raw/<feed>/` in the raw bucket -> the ingestion trigger starts that
feed's crawler (table `raw_<feed>`) -> the Glue jobs write Snappy Parquet under `processed/` in the
processed bucket into catalog tables declared here -> analysts query them through the Athena
workgroup, whose named queries are the SQL files in `sql/data_lake/`.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.data_lake import scripts
from components.data_lake.args import DataLakeArgs, GlueJobSettings
from components.data_lake.queries import named_queries
from components.data_lake.storage import LakeBucket, LifecycleRule
from components.iam import Statement, policy_document, service_trust_policy
from components.kms import key_use_through
from components.lambda_function import FunctionSpec, PythonFunction
from components.observability import CLOUDWATCH_ALARMS, Publisher, queue_depth
from components.queues import allow_service_to_send
from components.scope import Scope, component_options
from glue.etl.tables import (
    CUSTOMERS,
    PROCESSED_PREFIX,
    PROCESSED_TABLES,
    RAW_CUSTOMERS,
    RAW_ENTITIES,
    RAW_PREFIX,
    RAW_PRODUCTS,
    RAW_TABLE_PREFIX,
    RAW_TRANSACTIONS,
    TableSpec,
)

# Physical-name slug of a data lake unless the program gives another one.
COMPONENT = "datalake"
TEMP_PREFIX = "temp/"
SPARK_LOGS_PREFIX = "spark-logs/"
ATHENA_RESULTS_PREFIX = "athena/"
ATHENA_ENGINE = "Athena engine version 3"
# Crawlers log to this account-wide group; it is shared by every crawler of the account, so it is
# not created (or deleted) by one stack, only written to.
CRAWLER_LOG_GROUP = "/aws-glue/crawlers"
# The article's crawler configuration: new partitions take the table's schema.
CRAWLER_CONFIGURATION = json.dumps(
    {"Version": 1.0, "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}}}
)
PARQUET_STORAGE = {
    "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "ser_de_info": {
        "serialization_library": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "parameters": {"serialization.format": "1"},
    },
}


def s3_uri(bucket: pulumi.Input[str], key: str = "") -> pulumi.Output[str]:
    return pulumi.Output.concat("s3://", bucket, "/", key)


def objects(bucket_arn: pulumi.Input[str], *prefixes: str) -> list[pulumi.Output[str]]:
    """ARNs of the objects under each key prefix."""
    return [pulumi.Output.concat(bucket_arn, "/", prefix, "*") for prefix in prefixes]


def listing(bucket_arn: pulumi.Input[str], *prefixes: str) -> Statement:
    """`s3:ListBucket` limited to the given key prefixes (Spark lists both `p` and `p/...`)."""
    allowed = sorted({form for prefix in prefixes for form in (prefix.rstrip("/"), prefix, f"{prefix}*")})
    return Statement(
        actions=["s3:ListBucket"],
        resources=[bucket_arn],
        conditions={"StringLike": {"s3:prefix": allowed}},
    )


# Glue job states that mean a run produced no (or partial) output.
GLUE_JOB_FAILED_STATES = ["FAILED", "TIMEOUT", "ERROR"]
GLUE_STATE_EVENTS = Publisher("GlueStateEventsPublish", "events.amazonaws.com")


class DataLake(pulumi.ComponentResource):
    """Raw, processed and Athena-results buckets, the Glue catalog and jobs, and the Athena workgroup."""

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        args: DataLakeArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        slug: str = COMPONENT,
    ) -> None:
        super().__init__("platform:index:DataLake", name, None, component_options(ctx, opts))
        self._ctx = ctx
        self._args = args
        self._name = name
        scope = Scope.of(self, ctx, name, slug)
        self._child = scope.opts()
        self.key = scope.key(
            "data",
            description="Data lake: S3 objects, Glue bookmarks, Athena results, log groups, queues",
            # logs: encrypted log groups; cloudwatch and events: alarms and Glue state events reach the
            # encrypted alert topic (and its dead-letter queue).
            services=["logs", "cloudwatch", "events"],
            extra_statements=[self._eventbridge_to_encrypted_topic()],
        )
        self._scope = scope.with_key(self.key.arn)
        self._buckets()
        self.database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=self._scope.physical("analytics", service="glue").replace("-", "_"),
            description="E-commerce analytics: raw_* tables from the crawlers, processed tables from the jobs",
            opts=self._scope.opts(stateful=True),
        )
        self.database_name = self.database.name
        self.security_configuration = aws.glue.SecurityConfiguration(
            f"{name}-glue-security",
            name=self._scope.physical("glue", service="glue"),
            encryption_configuration={
                "s3_encryption": {"s3_encryption_mode": "SSE-KMS", "kms_key_arn": self.key.arn},
                "job_bookmarks_encryption": {"job_bookmarks_encryption_mode": "CSE-KMS", "kms_key_arn": self.key.arn},
                # Our job log groups carry the KMS key themselves; Glue's own CloudWatch encryption
                # would redirect the logs to groups named after the role, outside our retention.
                "cloudwatch_encryption": {"cloudwatch_encryption_mode": "DISABLED"},
            },
            opts=self._child,
        )
        self._processed_tables()
        self._glue_role()
        self._crawlers()
        self._jobs()
        self._ingestion()
        self._athena()
        self._alarms()
        self.register_outputs(self.stack_outputs())

    # -- storage -------------------------------------------------------------------------------

    @staticmethod
    def _eventbridge_to_encrypted_topic() -> Statement:
        """EventBridge delivering Glue state events to the encrypted alert topic. SNS asks KMS on
        EventBridge's behalf without aws:SourceAccount/aws:SourceArn, so the `events` statement (which
        requires them, as the queue path allows) never matches it and the alerts were lost; this one
        cannot carry them (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
        return Statement(
            sid="AllowEventBridgeToEncryptedTopic",
            principals={"Service": "events.amazonaws.com"},
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        )

    def _buckets(self) -> None:
        ctx, args, name = self._ctx, self._args, self._name
        self.log_bucket: LakeBucket | None = None
        if args.access_logging:
            self.log_bucket = LakeBucket(
                f"{name}-access-logs",
                ctx,
                component=self._scope.slug,
                purpose="access-logs",
                # Server access logging delivers only into SSE-S3 buckets (SecureBucket adds its write policy).
                kms_key_arn=None,
                server_access_log_target=True,
                lifecycle=[LifecycleRule("expire-access-logs", "", expiration_days=args.access_log_expiration_days)],
                noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
                opts=self._child,
            )
        common: dict[str, Any] = {
            "component": self._scope.slug,
            "kms_key_arn": self.key.arn,
            "noncurrent_version_expiration_days": args.noncurrent_version_expiration_days,
            "access_log_bucket": self.log_bucket,
            "opts": self._child,
        }
        self.raw = LakeBucket(
            f"{name}-raw",
            ctx,
            purpose="raw",
            lifecycle=[
                LifecycleRule(
                    "raw-storage-tiering",
                    RAW_PREFIX,
                    transitions=(
                        (args.raw_infrequent_access_days, "STANDARD_IA"),
                        (args.raw_glacier_days, "GLACIER"),
                        (args.raw_deep_archive_days, "DEEP_ARCHIVE"),
                    ),
                )
            ],
            **common,
        )
        self.processed = LakeBucket(
            f"{name}-processed",
            ctx,
            purpose="processed",
            lifecycle=[
                LifecycleRule("expire-glue-temp", TEMP_PREFIX, expiration_days=args.temp_expiration_days),
                LifecycleRule("expire-spark-logs", SPARK_LOGS_PREFIX, expiration_days=args.spark_logs_expiration_days),
            ],
            **common,
        )
        self.results = LakeBucket(
            f"{name}-athena-results",
            ctx,
            purpose="athena-results",
            lifecycle=[LifecycleRule("expire-query-results", "", expiration_days=args.results_expiration_days)],
            **common,
        )

    # -- catalog -------------------------------------------------------------------------------

    def _table_location(self, table: TableSpec) -> pulumi.Output[str]:
        return s3_uri(self.processed.name, table.prefix)

    def _table_parameters(self, table: TableSpec) -> pulumi.Input[dict[str, str]]:
        parameters: dict[str, Any] = {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "SNAPPY"}
        if table is CUSTOMERS:
            # The customer job registers its state/age_group partitions through its catalog sink.
            return parameters
        # Sales tables are partitioned by year/month: Athena projects them, no crawler or MSCK needed.
        return {
            **parameters,
            "projection.enabled": "true",
            "projection.year.type": "integer",
            "projection.year.range": f"{self._args.partition_projection_first_year},2099",
            "projection.month.type": "integer",
            "projection.month.range": "1,12",
            "storage.location.template": pulumi.Output.concat(
                self._table_location(table), "year=${year}/month=${month}/"
            ),
        }

    def _processed_tables(self) -> None:
        self.tables: dict[str, aws.glue.CatalogTable] = {}
        for table in PROCESSED_TABLES:
            self.tables[table.name] = aws.glue.CatalogTable(
                f"{self._name}-table-{table.name.replace('_', '-')}",
                name=table.name,
                database_name=self.database.name,
                description=table.description,
                table_type="EXTERNAL_TABLE",
                parameters=self._table_parameters(table),
                partition_keys=[{"name": c.name, "type": c.type, "comment": c.comment} for c in table.partition_keys],
                storage_descriptor={
                    **PARQUET_STORAGE,
                    "location": self._table_location(table),
                    "compressed": True,
                    "columns": [{"name": c.name, "type": c.type, "comment": c.comment} for c in table.columns],
                },
                opts=self._child,
            )

    # -- Glue role -----------------------------------------------------------------------------

    def _catalog_arns(self, tables: str) -> list[pulumi.Output[str]]:
        ctx = self._ctx
        return [
            ctx.arn("glue", "catalog"),
            pulumi.Output.concat(ctx.arn("glue", "database/"), self.database.name),
            pulumi.Output.concat(ctx.arn("glue", "table/"), self.database.name, f"/{tables}"),
        ]

    def _glue_role(self) -> None:
        ctx, name = self._ctx, self._name
        self.job_log_prefix = f"/aws-glue/jobs/{self._scope.physical('etl', service='logs')}"
        self.job_log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-glue-{stream}-logs",
                name=f"{self.job_log_prefix}/{stream}",
                retention_in_days=self._args.glue_log_retention_days,
                kms_key_id=self.key.arn,
                opts=self._child,
            )
            for stream in ("output", "error")
        ]
        self.glue_role = aws.iam.Role(
            f"{name}-glue-role",
            name=self._scope.physical("glue", service="iam"),
            description="Glue crawlers and ETL jobs of the data lake",
            assume_role_policy=service_trust_policy("glue.amazonaws.com"),
            opts=self._child,
        )
        raw, processed = self.raw.arn, self.processed.arn
        writable = (PROCESSED_PREFIX, TEMP_PREFIX, SPARK_LOGS_PREFIX)
        crawler_logs = ctx.arn("logs", f"log-group:{CRAWLER_LOG_GROUP}")
        statements = [
            Statement(sid="ReadRawFeeds", actions=["s3:GetObject"], resources=objects(raw, RAW_PREFIX)),
            listing(raw, RAW_PREFIX),
            Statement(
                sid="ReadGlueScripts", actions=["s3:GetObject"], resources=objects(processed, scripts.SCRIPTS_PREFIX)
            ),
            Statement(
                sid="WriteProcessedZones",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=objects(processed, *writable),
            ),
            listing(processed, *writable),
            Statement(sid="BucketLocation", actions=["s3:GetBucketLocation"], resources=[raw, processed]),
            Statement(sid="UseDataKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.arn]),
            # Job bookmarks under CSE-KMS are encrypted by the job itself: Encrypt, not only a data key.
            Statement(sid="EncryptJobBookmarks", actions=["kms:Encrypt"], resources=[self.key.arn]),
            Statement(
                sid="ReadCatalog",
                actions=[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:BatchGetPartition",
                ],
                resources=self._catalog_arns("*"),
            ),
            Statement(
                sid="CrawlRawTables",
                actions=[
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:CreatePartition",
                    "glue:BatchCreatePartition",
                    "glue:UpdatePartition",
                    "glue:BatchUpdatePartition",
                ],
                resources=self._catalog_arns(f"{RAW_TABLE_PREFIX}*"),
            ),
            Statement(
                sid="RegisterCustomerPartitions",
                actions=["glue:CreatePartition", "glue:BatchCreatePartition"],
                resources=self._catalog_arns(CUSTOMERS.name),
            ),
            Statement(
                sid="WriteJobLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[pulumi.Output.concat(group.arn, ":*") for group in self.job_log_groups],
            ),
            Statement(
                sid="WriteCrawlerLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[crawler_logs, pulumi.Output.concat(crawler_logs, ":*")],
            ),
            Statement(
                sid="JobMetrics",
                actions=["cloudwatch:PutMetricData"],
                conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
            ),
        ]
        self.glue_policy = aws.iam.RolePolicy(
            f"{name}-glue-policy",
            role=self.glue_role.id,
            name="least-privilege",
            policy=policy_document(*statements),
            opts=self._child,
        )

    # -- crawlers and jobs ---------------------------------------------------------------------

    def _crawlers(self) -> None:
        self.crawlers: dict[str, aws.glue.Crawler] = {}
        self.crawler_names: dict[str, str] = {}
        for entity in RAW_ENTITIES:
            crawler_name = self._scope.physical(f"{entity.name}-crawler", service="glue")
            self.crawler_names[entity.name] = crawler_name
            self.crawlers[entity.name] = aws.glue.Crawler(
                f"{self._name}-{entity.name}-crawler",
                name=crawler_name,
                description=f"Catalogs the {entity.name} CSV feed as table {entity.table}",
                role=self.glue_role.arn,
                database_name=self.database.name,
                table_prefix=RAW_TABLE_PREFIX,
                s3_targets=[{"path": s3_uri(self.raw.name, entity.prefix)}],
                schema_change_policy={"update_behavior": "UPDATE_IN_DATABASE", "delete_behavior": "LOG"},
                recrawl_policy={"recrawl_behavior": "CRAWL_EVERYTHING"},
                configuration=CRAWLER_CONFIGURATION,
                security_configuration=self.security_configuration.name,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.glue_policy]),
            )

    def _upload(
        self, logical: str, key: str, source: pulumi.Asset | pulumi.Archive, digest: str
    ) -> aws.s3.BucketObjectv2:
        return aws.s3.BucketObjectv2(
            f"{self._name}-{logical}",
            bucket=self.processed.bucket.id,
            key=key,
            source=source,
            source_hash=digest,
            content_type="text/x-python" if key.endswith(".py") else "application/zip",
            server_side_encryption="aws:kms",
            kms_key_id=self.key.arn,
            opts=self._child,
        )

    def _job(
        self, script: scripts.JobScript, settings: GlueJobSettings, arguments: dict[str, pulumi.Input[str]]
    ) -> aws.glue.Job:
        processed = self.processed.name
        uploaded = self._upload(
            f"script-{script.job}",
            script.key,
            pulumi.FileAsset(str(script.path)),
            scripts.content_hash({script.key: script.path}),
        )
        return aws.glue.Job(
            f"{self._name}-{script.job}",
            name=self._scope.physical(script.job, service="glue"),
            description=f"{script.job} (glue/jobs/{script.path.name})",
            role_arn=self.glue_role.arn,
            glue_version=self._args.glue_version,
            command={"name": "glueetl", "python_version": "3", "script_location": s3_uri(processed, script.key)},
            worker_type=settings.worker_type,
            number_of_workers=settings.number_of_workers,
            timeout=settings.timeout_minutes,
            max_retries=settings.max_retries,
            # Bookmarks and whole-partition overwrites assume one run at a time.
            execution_property={"max_concurrent_runs": 1},
            security_configuration=self.security_configuration.name,
            default_arguments={
                "--job-language": "python",
                "--job-bookmark-option": "job-bookmark-enable",
                "--TempDir": s3_uri(processed, f"{TEMP_PREFIX}{script.job}/"),
                "--enable-continuous-cloudwatch-log": "true",
                "--custom-logGroup-prefix": self.job_log_prefix,
                "--enable-metrics": "true",
                "--enable-spark-ui": "true",
                "--spark-event-logs-path": s3_uri(processed, f"{SPARK_LOGS_PREFIX}{script.job}/"),
                "--enable-glue-datacatalog": "true",
                "--extra-py-files": s3_uri(processed, scripts.ETL_ARCHIVE_KEY),
                "--processed-bucket": processed,
                "--database-name": self.database.name,
                **arguments,
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[uploaded, self.etl_package, self.glue_policy, *self.job_log_groups]
            ),
        )

    def _jobs(self) -> None:
        files = scripts.etl_package_files()
        self.etl_package = self._upload(
            "etl-package", scripts.ETL_ARCHIVE_KEY, scripts.etl_archive(), scripts.content_hash(files)
        )
        self.customer_job = self._job(
            scripts.CUSTOMER_TRANSFORM, self._args.customer_transform, {"--raw-bucket": self.raw.name}
        )
        self.sales_job = self._job(
            scripts.SALES_AGGREGATION,
            self._args.sales_aggregation,
            {
                "--transactions-table": RAW_TRANSACTIONS.table,
                "--products-table": RAW_PRODUCTS.table,
                "--customers-table": RAW_CUSTOMERS.table,
                "--top-products": str(self._args.top_products_per_month),
            },
        )

    # -- ingestion -----------------------------------------------------------------------------

    def _ingestion(self) -> None:
        ctx, args, name = self._ctx, self._args, self._name
        self.trigger_dlq = self._scope.queue("ingestion-trigger-dlq")
        routes = {entity.prefix: self.crawler_names[entity.name] for entity in RAW_ENTITIES}
        self.trigger = self._scope.function(
            FunctionSpec(
                purpose="ingestion-trigger",
                module="data_lake.ingestion_trigger",
                description="Starts the crawler of the feed an object was written to under raw/",
                statements=[
                    Statement(
                        sid="StartFeedCrawlers",
                        actions=["glue:StartCrawler"],
                        resources=[ctx.arn("glue", f"crawler/{crawler}") for crawler in routes.values()],
                    ),
                    Statement(
                        sid="EncryptDeadLetters",
                        actions=["kms:GenerateDataKey", "kms:Decrypt"],
                        resources=[self.key.arn],
                    ),
                ],
                environment={"CRAWLER_ROUTES": json.dumps(routes, sort_keys=True)},
                timeout=30,
                memory_size=256,
                reserved_concurrency=args.trigger_reserved_concurrency,
                dead_letter_arn=self.trigger_dlq.arn,
                log_retention_days=args.lambda_log_retention_days,
            ),
            depends_on=list(self.crawlers.values()),
        )
        permission = aws.lambda_.Permission(
            f"{name}-raw-bucket-invoke",
            action="lambda:InvokeFunction",
            function=self.trigger.function.name,
            principal="s3.amazonaws.com",
            source_arn=self.raw.arn,
            source_account=ctx.account_id,
            opts=self._child,
        )
        aws.s3.BucketNotification(
            f"{name}-raw-notifications",
            bucket=self.raw.bucket.id,
            lambda_functions=[
                {
                    "lambda_function_arn": self.trigger.function.arn,
                    "events": ["s3:ObjectCreated:*"],
                    "filter_prefix": RAW_PREFIX,
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        self.sample_generator: PythonFunction | None = None
        if args.sample_data_generator:
            self.sample_generator = self._scope.function(
                FunctionSpec(
                    purpose="sample-data",
                    module="data_lake.sample_data",
                    description="Writes sample customer, product and transaction feeds under raw/",
                    statements=[
                        Statement(
                            sid="WriteRawFeeds", actions=["s3:PutObject"], resources=objects(self.raw.arn, RAW_PREFIX)
                        ),
                        Statement(sid="EncryptRawFeeds", actions=["kms:GenerateDataKey"], resources=[self.key.arn]),
                    ],
                    environment={"RAW_BUCKET": self.raw.name},
                    timeout=300,
                    memory_size=512,
                    log_retention_days=args.lambda_log_retention_days,
                )
            )

    # -- Athena --------------------------------------------------------------------------------

    def _athena(self) -> None:
        ctx, args, name = self._ctx, self._args, self._name
        self.workgroup = aws.athena.Workgroup(
            f"{name}-workgroup",
            name=self._scope.physical("analytics", service="athena"),
            description="Analytics over the data lake's processed tables",
            state="ENABLED",
            force_destroy=not ctx.is_prod,
            configuration={
                "enforce_workgroup_configuration": True,
                "publish_cloudwatch_metrics_enabled": True,
                "bytes_scanned_cutoff_per_query": args.bytes_scanned_cutoff_per_query,
                "engine_version": {"selected_engine_version": ATHENA_ENGINE},
                "result_configuration": {
                    "output_location": s3_uri(self.results.name, ATHENA_RESULTS_PREFIX),
                    "expected_bucket_owner": ctx.account_id,
                    "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": self.key.arn},
                },
            },
            opts=self._child,
        )
        self.named_queries = {
            query.name: aws.athena.NamedQuery(
                f"{name}-query-{query.name.replace('_', '-')}",
                name=query.name,
                description=query.description,
                database=self.database.name,
                workgroup=self.workgroup.name,
                query=query.sql,
                opts=self._child,
            )
            for query in named_queries()
        }
        self.analyst_policy = aws.iam.Policy(
            f"{name}-analyst-policy",
            name=self._scope.physical("analyst", service="iam"),
            description="Attach to people and roles that run the lake's reports in its Athena workgroup",
            policy=policy_document(*self._analyst_statements()),
            opts=self._child,
        )

    # -- alarms -------------------------------------------------------------------------------

    def _alarms(self) -> None:
        """Operators hear of object-created events the trigger gave up on and of failed Glue runs."""
        name = self._name
        self.alarm_topic = self._scope.alarm_topic(
            display_name="Data lake alarms", publishers=[CLOUDWATCH_ALARMS, GLUE_STATE_EVENTS]
        )
        self._scope = self._scope.with_alarm_topic(self.alarm_topic.arn)
        self._scope.alarm(
            "ingestion-dead-letters",
            "Object-created events the ingestion trigger gave up on: their crawlers never started",
            queue_depth(self.trigger_dlq.name),
        )
        self.alert_dlq = self._scope.queue("alert-dlq")
        jobs = [self.customer_job.name, self.sales_job.name]
        crawlers = [crawler.name for crawler in self.crawlers.values()]
        self.glue_failure_rules = {
            "jobs": self._glue_failure_rule(
                "job-failures", "Glue Job State Change", {"jobName": jobs, "state": GLUE_JOB_FAILED_STATES}
            ),
            "crawlers": self._glue_failure_rule(
                "crawler-failures", "Glue Crawler State Change", {"crawlerName": crawlers, "state": ["Failed"]}
            ),
        }
        allow_service_to_send(
            f"{name}-alert-dlq-policy",
            self.alert_dlq,
            sid="GlueFailureRulesOfThisLake",
            service="events.amazonaws.com",
            source_arns=[rule.arn for rule in self.glue_failure_rules.values()],
            opts=self._child,
        )

    def _glue_failure_rule(self, purpose: str, detail_type: str, detail: dict[str, Any]) -> aws.cloudwatch.EventRule:
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-{purpose}",
            name=self._scope.physical(purpose, service="events"),
            description=f"{detail_type} of this data lake that needs an operator",
            event_pattern=pulumi.Output.json_dumps(
                {"source": ["aws.glue"], "detail-type": [detail_type], "detail": detail}
            ),
            opts=self._child,
        )
        aws.cloudwatch.EventTarget(
            f"{self._name}-{purpose}-alert",
            rule=rule.name,
            target_id="alarm-topic",
            arn=self.alarm_topic.arn,
            retry_policy={"maximum_event_age_in_seconds": 86_400, "maximum_retry_attempts": 20},
            dead_letter_config={"arn": self.alert_dlq.arn},
            opts=self._child,
        )
        return rule

    def _analyst_statements(self) -> list[Statement]:
        ctx = self._ctx
        results = self.results.arn
        return [
            Statement(
                sid="RunQueriesInWorkgroup",
                actions=[
                    "athena:StartQueryExecution",
                    "athena:StopQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:GetWorkGroup",
                    "athena:ListNamedQueries",
                    "athena:GetNamedQuery",
                    "athena:BatchGetNamedQuery",
                ],
                resources=[self.workgroup.arn],
            ),
            Statement(
                sid="ReadProcessedCatalog",
                actions=[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                ],
                resources=[
                    ctx.arn("glue", "catalog"),
                    pulumi.Output.concat(ctx.arn("glue", "database/"), self.database.name),
                    *(
                        pulumi.Output.concat(ctx.arn("glue", "table/"), self.database.name, f"/{table.name}")
                        for table in PROCESSED_TABLES
                    ),
                ],
            ),
            Statement(
                sid="ReadProcessedData",
                actions=["s3:GetObject"],
                resources=objects(self.processed.arn, PROCESSED_PREFIX),
            ),
            listing(self.processed.arn, PROCESSED_PREFIX),
            Statement(
                sid="QueryResults",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=objects(results, ATHENA_RESULTS_PREFIX),
            ),
            Statement(
                sid="QueryResultsBucket",
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[results],
            ),
            key_use_through(
                "DecryptLakeData", self.key.arn, ["kms:Decrypt", "kms:GenerateDataKey"], ["s3"], ctx.region
            ),
        ]

    def stack_outputs(self) -> dict[str, Any]:
        return {
            "rawBucket": self.raw.name,
            "processedBucket": self.processed.name,
            "athenaResultsBucket": self.results.name,
            "accessLogBucket": self.log_bucket.name if self.log_bucket else None,
            "database": self.database.name,
            "workgroup": self.workgroup.name,
            "crawlers": dict(self.crawler_names),
            "jobs": {"customerTransform": self.customer_job.name, "salesAggregation": self.sales_job.name},
            "ingestionTrigger": self.trigger.function.name,
            "sampleDataGenerator": self.sample_generator.function.name if self.sample_generator else None,
            "analystPolicyArn": self.analyst_policy.arn,
        }
