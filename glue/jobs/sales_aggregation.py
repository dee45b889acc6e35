"""Glue job `sales-aggregation`: crawled raw tables -> daily, customer and product sales per month.

Aggregates are recomputed from the whole crawled history and written with dynamic partition
overwrite, so each year/month partition is replaced as a unit: a rerun, a retry or a late file never
double counts. That is why these sources are read without a transformation_ctx (no bookmark).
"""

from __future__ import annotations

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import DataFrame

from glue.etl.output import write_table
from glue.etl.quality import missing_fields
from glue.etl.sales import daily_category_sales, monthly_customer_revenue, top_products_monthly, transform_sales
from glue.etl.tables import (
    DAILY_CATEGORY_SALES,
    MONTHLY_CUSTOMER_REVENUE,
    RAW_CUSTOMERS,
    RAW_PRODUCTS,
    RAW_TRANSACTIONS,
    TOP_PRODUCTS_MONTHLY,
    RawEntity,
)

ARGUMENTS = (
    "JOB_NAME",
    "processed-bucket",
    "database-name",
    "transactions-table",
    "products-table",
    "customers-table",
    "top-products",
)


def read_table(glue_context: GlueContext, database: str, table: str, entity: RawEntity) -> DataFrame:
    dynamic = glue_context.create_dynamic_frame.from_catalog(database=database, table_name=table)
    # Cells that do not match the crawled type become ChoiceTypes; strings keep them for the checks.
    frame = dynamic.resolveChoice(choice="cast:string").toDF()
    missing = missing_fields(frame, entity.fields)
    if missing:
        raise ValueError(f"table {database}.{table} lacks the columns {missing}; expected {list(entity.fields)}")
    return frame


def main(argv: list[str]) -> None:
    args = getResolvedOptions(argv, list(ARGUMENTS))
    glue_context = GlueContext(SparkContext.getOrCreate())
    logger = glue_context.get_logger()
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    database = args["database_name"]
    batch = transform_sales(
        read_table(glue_context, database, args["transactions_table"], RAW_TRANSACTIONS),
        read_table(glue_context, database, args["products_table"], RAW_PRODUCTS),
        read_table(glue_context, database, args["customers_table"], RAW_CUSTOMERS),
    )
    batch.checked.persist()
    report = batch.report()
    logger.info(report.summary())
    print(report.summary())  # stdout lands in the job's output log group

    outputs = (
        (DAILY_CATEGORY_SALES, daily_category_sales(batch.enriched)),
        (MONTHLY_CUSTOMER_REVENUE, monthly_customer_revenue(batch.enriched)),
        (TOP_PRODUCTS_MONTHLY, top_products_monthly(batch.enriched, int(args["top_products"]))),
    )
    for table, frame in outputs:
        write_table(frame, f"s3://{args['processed_bucket']}", table)
    batch.checked.unpersist()
    job.commit()


if __name__ == "__main__":
    main(sys.argv)
