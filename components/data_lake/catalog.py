"""The lake's Glue catalog: database, security configuration and the processed tables Spark writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.data_lake.args import DataLakeArgs
from components.data_lake.buckets import s3_uri
from components.scope import Scope
from glue.etl.tables import MONTHLY_TABLES, PROCESSED_TABLES, TableSpec

PARQUET_STORAGE = {
    "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "ser_de_info": {
        "serialization_library": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "parameters": {"serialization.format": "1"},
    },
}


@dataclass
class Catalog:
    database: aws.glue.CatalogDatabase
    security_configuration: aws.glue.SecurityConfiguration
    tables: dict[str, aws.glue.CatalogTable]


def table_parameters(table: TableSpec, location: pulumi.Output[str], first_year: int) -> pulumi.Input[dict[str, str]]:
    parameters: dict[str, Any] = {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "SNAPPY"}
    if table not in MONTHLY_TABLES:
        # The processed-tables crawler registers these partitions after the jobs have run.
        return parameters
    # Partitioned by year/month: Athena projects them, no crawler or MSCK needed.
    return {
        **parameters,
        "projection.enabled": "true",
        "projection.year.type": "integer",
        "projection.year.range": f"{first_year},2099",
        "projection.month.type": "integer",
        "projection.month.range": "1,12",
        "storage.location.template": pulumi.Output.concat(location, "year=${year}/month=${month}/"),
    }


def catalog(
    scope: Scope, args: DataLakeArgs, key_arn: pulumi.Input[str], processed_bucket: pulumi.Input[str]
) -> Catalog:
    database = aws.glue.CatalogDatabase(
        scope.child("database"),
        name=scope.physical("analytics", service="glue").replace("-", "_"),
        description="E-commerce analytics: raw_* tables from the crawlers, processed tables from the jobs",
        opts=scope.opts(stateful=True),
    )
    security_configuration = aws.glue.SecurityConfiguration(
        scope.child("glue-security"),
        name=scope.physical("glue", service="glue"),  # names the crawlers' log group too
        encryption_configuration={
            "s3_encryption": {"s3_encryption_mode": "SSE-KMS", "kms_key_arn": key_arn},
            "job_bookmarks_encryption": {"job_bookmarks_encryption_mode": "CSE-KMS", "kms_key_arn": key_arn},
            # Glue associates the key with every log group it writes (logs:AssociateKmsKey): the jobs'
            # groups under our prefix and the crawlers' group, which Glue names after the role and this
            # configuration. Both are declared with the key and a retention (components/data_lake/etl.py).
            "cloudwatch_encryption": {"cloudwatch_encryption_mode": "SSE-KMS", "kms_key_arn": key_arn},
        },
        opts=scope.opts(),
    )
    tables: dict[str, aws.glue.CatalogTable] = {}
    for table in PROCESSED_TABLES:
        location = s3_uri(processed_bucket, table.prefix)
        tables[table.name] = aws.glue.CatalogTable(
            scope.child(f"table-{table.name.replace('_', '-')}"),
            name=table.name,
            database_name=database.name,
            description=table.description,
            table_type="EXTERNAL_TABLE",
            parameters=table_parameters(table, location, args.partition_projection_first_year),
            partition_keys=[{"name": c.name, "type": c.type, "comment": c.comment} for c in table.partition_keys],
            storage_descriptor={
                **PARQUET_STORAGE,
                "location": location,
                "compressed": True,
                "columns": [{"name": c.name, "type": c.type, "comment": c.comment} for c in table.columns],
            },
            opts=scope.opts(),
        )
    return Catalog(database=database, security_configuration=security_configuration, tables=tables)


def catalog_arns(scope: Scope, database: pulumi.Input[str], *tables: str) -> list[pulumi.Output[str]]:
    """The catalog, the database, and the named tables (`*` patterns allowed)."""
    return [
        scope.arn("glue", "catalog"),
        pulumi.Output.concat(scope.arn("glue", "database/"), database),
        *(pulumi.Output.concat(scope.arn("glue", "table/"), database, f"/{table}") for table in tables),
    ]
