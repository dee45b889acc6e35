"""Glue job `customer-transform`: new raw customer CSV drops -> validated customers as Parquet.

Job bookmarks make each run read only the drops it has not seen; the sink appends Snappy Parquet
partitioned by state and age group and registers new partitions in the catalog table that Pulumi
declares (updateBehavior LOG: the job never changes the table's schema).
"""

from __future__ import annotations

import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from glue.etl.customers import transform_customers
from glue.etl.quality import missing_fields
from glue.etl.tables import CUSTOMERS, RAW_CUSTOMERS

ARGUMENTS = ("JOB_NAME", "raw-bucket", "processed-bucket", "database-name")


def main(argv: list[str]) -> None:
    args = getResolvedOptions(argv, list(ARGUMENTS))
    glue_context = GlueContext(SparkContext.getOrCreate())
    logger = glue_context.get_logger()
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    new_files = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        format="csv",
        connection_options={"paths": [f"s3://{args['raw_bucket']}/{RAW_CUSTOMERS.prefix}"], "recurse": True},
        format_options={"withHeader": True, "separator": ","},
        transformation_ctx="raw_customers",
    )
    # A column whose cells parse as different types becomes a ChoiceType (a struct after toDF);
    # strings keep every cell, and the transform casts each column itself.
    raw = new_files.resolveChoice(choice="cast:string").toDF()
    if not raw.columns:
        logger.info("customers: no new files since the last bookmarked run")
        job.commit()
        return
    missing = missing_fields(raw, RAW_CUSTOMERS.fields)
    if missing:
        raise ValueError(f"customer files lack the columns {missing}; expected {list(RAW_CUSTOMERS.fields)}")

    batch = transform_customers(raw)
    batch.checked.persist()
    report = batch.report()
    logger.info(report.summary())
    print(report.summary())  # stdout lands in the job's output log group

    sink = glue_context.getSink(
        connection_type="s3",
        path=f"s3://{args['processed_bucket']}/{CUSTOMERS.prefix}",
        enableUpdateCatalog=True,
        updateBehavior="LOG",
        partitionKeys=[c.name for c in CUSTOMERS.partition_keys],
        transformation_ctx="customers_sink",
    )
    sink.setFormat("glueparquet", compression="snappy")
    sink.setCatalogInfo(catalogDatabase=args["database_name"], catalogTableName=CUSTOMERS.name)
    sink.writeFrame(DynamicFrame.fromDF(batch.valid, glue_context, "customers"))
    batch.checked.unpersist()
    job.commit()


if __name__ == "__main__":
    main(sys.argv)
