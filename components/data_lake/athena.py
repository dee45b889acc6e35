"""The lake's Athena side: the workgroup, its named queries, and the analysts' policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.data_lake.args import DataLakeArgs
from components.data_lake.buckets import ATHENA_RESULTS_PREFIX, LakeBuckets, listing, objects, s3_uri
from components.data_lake.queries import NamedQuery
from components.iam import Statement, policy_document
from components.kms import key_use_through
from components.scope import Scope
from glue.etl.tables import PROCESSED_PREFIX, PROCESSED_TABLES, REJECTED_PREFIX

ATHENA_ENGINE = "Athena engine version 3"


@dataclass
class Athena:
    workgroup: aws.athena.Workgroup
    named_queries: dict[str, aws.athena.NamedQuery]
    analyst_policy: aws.iam.Policy


def analyst_statements(
    scope: Scope,
    workgroup: aws.athena.Workgroup,
    buckets: LakeBuckets,
    database: pulumi.Input[str],
    key_arn: pulumi.Input[str],
) -> list[Statement]:
    results = buckets.results.arn
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
            resources=[workgroup.arn],
        ),
        Statement(
            sid="ReadProcessedCatalog",
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"],
            resources=[
                scope.arn("glue", "catalog"),
                pulumi.Output.concat(scope.arn("glue", "database/"), database),
                *(
                    pulumi.Output.concat(scope.arn("glue", "table/"), database, f"/{table.name}")
                    for table in PROCESSED_TABLES
                ),
            ],
        ),
        Statement(
            sid="ReadProcessedData",
            actions=["s3:GetObject"],
            resources=objects(buckets.processed.arn, PROCESSED_PREFIX, REJECTED_PREFIX),
        ),
        listing(buckets.processed.arn, PROCESSED_PREFIX, REJECTED_PREFIX),
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
        key_use_through("DecryptLakeData", key_arn, ["kms:Decrypt", "kms:GenerateDataKey"], ["s3"], scope.where),
    ]


def athena(
    scope: Scope,
    args: DataLakeArgs,
    buckets: LakeBuckets,
    database: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    queries: Sequence[NamedQuery],
) -> Athena:
    ctx = scope.ctx
    workgroup = aws.athena.Workgroup(
        scope.child("workgroup"),
        name=scope.physical("analytics", service="athena"),
        description="Analytics over the data lake's processed tables",
        state="ENABLED",
        force_destroy=not ctx.is_prod,
        configuration={
            "enforce_workgroup_configuration": True,
            "publish_cloudwatch_metrics_enabled": True,
            "bytes_scanned_cutoff_per_query": args.bytes_scanned_cutoff_per_query,
            "engine_version": {"selected_engine_version": ATHENA_ENGINE},
            "result_configuration": {
                "output_location": s3_uri(buckets.results.name, ATHENA_RESULTS_PREFIX),
                "expected_bucket_owner": ctx.account_id,
                "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": key_arn},
            },
        },
        opts=scope.opts(),
    )
    named = {
        query.name: aws.athena.NamedQuery(
            scope.child(f"query-{query.name.replace('_', '-')}"),
            name=query.name,
            description=query.description,
            database=database,
            workgroup=workgroup.name,
            query=query.sql,
            opts=scope.opts(),
        )
        for query in queries
    }
    analyst_policy = aws.iam.Policy(
        scope.child("analyst-policy"),
        name=scope.physical("analyst", service="iam"),
        description="Attach to people and roles that run the lake's reports in its Athena workgroup",
        policy=policy_document(*analyst_statements(scope, workgroup, buckets, database, key_arn)),
        opts=scope.opts(),
    )
    return Athena(workgroup=workgroup, named_queries=named, analyst_policy=analyst_policy)
