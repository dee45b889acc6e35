"""The lake's Glue side: the role crawlers and jobs run as, the crawlers, and the Spark jobs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.data_lake import scripts
from components.data_lake.args import DataLakeArgs, GlueJobSettings
from components.data_lake.buckets import SPARK_LOGS_PREFIX, TEMP_PREFIX, LakeBuckets, listing, objects, s3_uri
from components.data_lake.catalog import Catalog, catalog_arns
from components.iam import Statement, service_trust_policy
from components.scope import Scope
from glue.etl.tables import (
    CRAWLED_TABLES,
    PROCESSED_PREFIX,
    RAW_ENTITIES,
    RAW_PREFIX,
    RAW_TABLE_PREFIX,
    REJECTED_PREFIX,
    RUN_SUMMARY_PREFIX,
)

# With CloudWatch encryption in the security configuration, crawlers log to a group named after their role
# (path included) and the configuration: /aws-glue/crawlers-role/<role path><role name>-<configuration name>.
CRAWLER_LOG_GROUP = "/aws-glue/crawlers-role/{role}-{configuration}"
# The article's crawler configuration: new partitions take the table's schema.
CRAWLER_CONFIGURATION = json.dumps(
    {"Version": 1.0, "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}}}
)
PROCESSED_CRAWLER = "processed-crawler"


@dataclass
class GlueRole:
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    job_log_prefix: str
    job_log_groups: list[aws.cloudwatch.LogGroup]
    crawler_log_group: aws.cloudwatch.LogGroup


def glue_role_statements(
    scope: Scope,
    buckets: LakeBuckets,
    database: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    log_groups: list[aws.cloudwatch.LogGroup],
    crawler_log_group: aws.cloudwatch.LogGroup,
) -> list[Statement]:
    raw, processed = buckets.raw.arn, buckets.processed.arn
    writable = (PROCESSED_PREFIX, REJECTED_PREFIX, RUN_SUMMARY_PREFIX, TEMP_PREFIX, SPARK_LOGS_PREFIX)
    return [
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
        # Bookmarks are CSE-KMS: saving one encrypts with the key itself (kms:Encrypt).
        Statement(sid="UseDataKey", actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], resources=[key_arn]),
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
            resources=catalog_arns(scope, database, "*"),
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
            resources=catalog_arns(scope, database, f"{RAW_TABLE_PREFIX}*"),
        ),
        Statement(
            sid="RegisterProcessedPartitions",
            actions=[
                "glue:CreatePartition",
                "glue:BatchCreatePartition",
                "glue:UpdatePartition",
                "glue:BatchUpdatePartition",
            ],
            resources=catalog_arns(scope, database, *(table.name for table in CRAWLED_TABLES)),
        ),
        Statement(
            sid="WriteJobLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[pulumi.Output.concat(group.arn, ":*") for group in log_groups],
        ),
        Statement(
            sid="WriteCrawlerLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[pulumi.Output.concat(crawler_log_group.arn, ":*")],
        ),
        Statement(
            # The security configuration's CloudWatch encryption: Glue associates the key with each group.
            sid="EncryptGlueLogs",
            actions=["logs:AssociateKmsKey"],
            resources=[pulumi.Output.concat(group.arn, ":*") for group in (*log_groups, crawler_log_group)],
        ),
        Statement(
            sid="JobMetrics",
            actions=["cloudwatch:PutMetricData"],
            conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
        ),
    ]


def glue_role(
    scope: Scope, args: DataLakeArgs, buckets: LakeBuckets, catalog: Catalog, key_arn: pulumi.Input[str]
) -> GlueRole:
    job_log_prefix = f"/aws-glue/jobs/{scope.physical('etl', service='logs')}"
    job_log_groups = [
        aws.cloudwatch.LogGroup(
            scope.child(f"glue-{stream}-logs"),
            name=f"{job_log_prefix}/{stream}",
            retention_in_days=args.glue_log_retention_days,
            kms_key_id=key_arn,
            opts=scope.opts(),
        )
        for stream in ("output", "error")
    ]
    role_name = scope.physical("glue", service="iam")
    crawler_log_group = aws.cloudwatch.LogGroup(
        scope.child("glue-crawler-logs"),
        name=CRAWLER_LOG_GROUP.format(role=role_name, configuration=scope.physical("glue", service="glue")),
        retention_in_days=args.glue_log_retention_days,
        kms_key_id=key_arn,
        opts=scope.opts(),
    )
    role, policy = scope.service_role(
        "glue",
        name=role_name,
        description="Glue crawlers and ETL jobs of the data lake",
        trust=service_trust_policy("glue.amazonaws.com"),
        statements=glue_role_statements(
            scope, buckets, catalog.database.name, key_arn, job_log_groups, crawler_log_group
        ),
    )
    return GlueRole(
        role=role,
        policy=policy,
        job_log_prefix=job_log_prefix,
        job_log_groups=job_log_groups,
        crawler_log_group=crawler_log_group,
    )


@dataclass
class Crawlers:
    raw: dict[str, aws.glue.Crawler]
    raw_names: dict[str, str]
    processed: aws.glue.Crawler


def raw_crawler_settings(scope: Scope, catalog: Catalog, glue: GlueRole) -> dict[str, Any]:
    """What every crawler of a raw prefix shares (the article's schema change policy)."""
    return {
        "role": glue.role.arn,
        "database_name": catalog.database.name,
        "table_prefix": RAW_TABLE_PREFIX,
        "schema_change_policy": {"update_behavior": "UPDATE_IN_DATABASE", "delete_behavior": "LOG"},
        "recrawl_policy": {"recrawl_behavior": "CRAWL_EVERYTHING"},
        "configuration": CRAWLER_CONFIGURATION,
        "security_configuration": catalog.security_configuration.name,
        "opts": scope.opts(depends_on=[glue.policy]),
    }


def crawlers(scope: Scope, buckets: LakeBuckets, catalog: Catalog, glue: GlueRole) -> Crawlers:
    raw: dict[str, aws.glue.Crawler] = {}
    raw_names: dict[str, str] = {}
    for entity in RAW_ENTITIES:
        raw_names[entity.name] = scope.physical(f"{entity.name}-crawler", service="glue")
        raw[entity.name] = aws.glue.Crawler(
            scope.child(f"{entity.name}-crawler"),
            name=raw_names[entity.name],
            description=f"Catalogs the {entity.name} CSV feed as table {entity.table}",
            s3_targets=[{"path": s3_uri(buckets.raw.name, entity.prefix)}],
            **raw_crawler_settings(scope, catalog, glue),
        )
    # Registers the partitions the jobs wrote into the declared tables; never changes their schema.
    processed = aws.glue.Crawler(
        scope.child(PROCESSED_CRAWLER),
        name=scope.physical(PROCESSED_CRAWLER, service="glue"),
        description="Adds the partitions the jobs wrote to " + ", ".join(t.name for t in CRAWLED_TABLES),
        role=glue.role.arn,
        database_name=catalog.database.name,
        catalog_targets=[
            {"database_name": catalog.database.name, "tables": [catalog.tables[t.name].name for t in CRAWLED_TABLES]}
        ],
        schema_change_policy={"update_behavior": "LOG", "delete_behavior": "LOG"},
        configuration=CRAWLER_CONFIGURATION,
        security_configuration=catalog.security_configuration.name,
        opts=scope.opts(depends_on=[glue.policy]),
    )
    return Crawlers(raw=raw, raw_names=raw_names, processed=processed)


@dataclass
class Jobs:
    customer: aws.glue.Job
    sales: aws.glue.Job
    etl_package: aws.s3.BucketObjectv2


def _upload(
    scope: Scope,
    buckets: LakeBuckets,
    key_arn: pulumi.Input[str],
    logical: str,
    key: str,
    source: pulumi.Asset | pulumi.Archive,
    digest: str,
) -> aws.s3.BucketObjectv2:
    return aws.s3.BucketObjectv2(
        scope.child(logical),
        bucket=buckets.processed.bucket.id,
        key=key,
        source=source,
        source_hash=digest,
        content_type="text/x-python" if key.endswith(".py") else "application/zip",
        server_side_encryption="aws:kms",
        kms_key_id=key_arn,
        opts=scope.opts(),
    )


def jobs(
    scope: Scope,
    args: DataLakeArgs,
    buckets: LakeBuckets,
    catalog: Catalog,
    glue: GlueRole,
    key_arn: pulumi.Input[str],
) -> Jobs:
    etl_package = _upload(
        scope,
        buckets,
        key_arn,
        "etl-package",
        scripts.ETL_ARCHIVE_KEY,
        scripts.etl_archive(),
        scripts.content_hash(scripts.etl_package_files()),
    )
    processed = buckets.processed.name

    def job(script: scripts.JobScript, settings: GlueJobSettings, arguments: dict[str, str]) -> aws.glue.Job:
        uploaded = _upload(
            scope,
            buckets,
            key_arn,
            f"script-{script.job}",
            script.key,
            pulumi.FileAsset(str(script.path)),
            scripts.content_hash({script.key: script.path}),
        )
        return aws.glue.Job(
            scope.child(script.job),
            name=scope.physical(script.job, service="glue"),
            description=f"{script.job} (glue/jobs/{script.path.name})",
            role_arn=glue.role.arn,
            glue_version=args.glue_version,
            command={"name": "glueetl", "python_version": "3", "script_location": s3_uri(processed, script.key)},
            worker_type=settings.worker_type,
            number_of_workers=settings.number_of_workers,
            timeout=settings.timeout_minutes,
            max_retries=settings.max_retries,
            # Bookmarks and whole-partition overwrites assume one run at a time.
            execution_property={"max_concurrent_runs": 1},
            security_configuration=catalog.security_configuration.name,
            default_arguments={
                "--job-language": "python",
                "--job-bookmark-option": "job-bookmark-enable",
                "--TempDir": s3_uri(processed, f"{TEMP_PREFIX}{script.job}/"),
                "--enable-continuous-cloudwatch-log": "true",
                "--custom-logGroup-prefix": glue.job_log_prefix,
                "--enable-metrics": "true",
                "--enable-spark-ui": "true",
                "--spark-event-logs-path": s3_uri(processed, f"{SPARK_LOGS_PREFIX}{script.job}/"),
                "--enable-glue-datacatalog": "true",
                "--extra-py-files": s3_uri(processed, scripts.ETL_ARCHIVE_KEY),
                "--raw-bucket": buckets.raw.name,
                "--processed-bucket": processed,
                **arguments,
            },
            opts=scope.opts(depends_on=[uploaded, etl_package, glue.policy, *glue.job_log_groups]),
        )

    return Jobs(
        customer=job(scripts.CUSTOMER_TRANSFORM, args.customer_transform, {}),
        sales=job(
            scripts.SALES_AGGREGATION,
            args.sales_aggregation,
            {"--top-products": str(args.top_products_per_month)},
        ),
        etl_package=etl_package,
    )
