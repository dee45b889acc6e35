"""Glue job `sales-aggregation`: new raw transactions -> the transactions table and the monthly aggregates.

Incremental: job bookmarks hand each run only the transaction drops no committed run has read, so
raw/ history is never re-read (raw objects age into colder storage classes). Accepted transactions
are merged into the processed `transactions` table, and the aggregates of exactly the months the
batch touched are recomputed from that table and replace those month partitions: a rerun, a retry
or a late file never double counts. Products and customers are small dimensions read whole, the
latest delivery of each id winning. Rejected rows land in the `rejected_rows` table.
"""

from __future__ import annotations

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import DataFrame

from glue.etl.feeds import read_feed
from glue.etl.output import bucket_uri, merge_by_key, read_table, replace_partitions, write_table
from glue.etl.rejected import batch_id, rejected_rows, source_files
from glue.etl.runs import RUN_SUMMARY_KEY, job_arguments, nothing_read, write_run_summary
from glue.etl.sales import daily_category_sales, monthly_customer_revenue, top_products_monthly, transform_sales
from glue.etl.tables import (
    DAILY_CATEGORY_SALES,
    MONTHLY_CUSTOMER_REVENUE,
    RAW_CUSTOMERS,
    RAW_PRODUCTS,
    RAW_TRANSACTIONS,
    REJECTED_ROWS,
    TOP_PRODUCTS_MONTHLY,
    TRANSACTIONS,
    RawEntity,
)

ARGUMENTS = ("JOB_NAME", "raw-bucket", "processed-bucket", "top-products")
OPTIONAL_ARGUMENTS = (RUN_SUMMARY_KEY,)
BOOKMARK = "raw_transactions"


def read_dimension(glue_context: GlueContext, bucket: str, entity: RawEntity) -> DataFrame:
    frame = read_feed(glue_context, bucket, entity, bookmark=None)
    if frame is None:
        raise ValueError(f"no {entity.name} feed under s3://{bucket}/{entity.prefix}: transactions cannot be checked")
    return frame


def main(argv: list[str]) -> None:
    args = getResolvedOptions(argv, job_arguments(argv, ARGUMENTS, OPTIONAL_ARGUMENTS))
    summary_key = args.get(RUN_SUMMARY_KEY.replace("-", "_"))
    top_products = int(args["top_products"])
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    logger = glue_context.get_logger()
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    raw_bucket = args["raw_bucket"]
    new = read_feed(glue_context, raw_bucket, RAW_TRANSACTIONS, bookmark=BOOKMARK)
    if new is None:
        logger.info("transactions: no new files since the last bookmarked run")
        write_run_summary(spark, args["processed_bucket"], summary_key, nothing_read("transactions"))
        job.commit()
        return

    processed = bucket_uri(args["processed_bucket"])
    stored = read_table(spark, processed, TRANSACTIONS)
    batch = transform_sales(
        new,
        read_dimension(glue_context, raw_bucket, RAW_PRODUCTS),
        read_dimension(glue_context, raw_bucket, RAW_CUSTOMERS),
        None if stored is None else stored.select("transaction_id"),
    )
    batch.checked.persist()
    report = batch.report()
    logger.info(report.summary())
    print(report.summary())  # stdout lands in the job's output log group

    batch_name = batch_id(source_files(new))
    write_table(
        rejected_rows(batch.checked, RAW_TRANSACTIONS, batch_name),
        processed,
        REJECTED_ROWS,
    )
    months = replace_partitions(
        spark, merge_by_key(stored, batch.enriched, TRANSACTIONS, "transaction_id"), processed, TRANSACTIONS
    )
    outputs = (
        (DAILY_CATEGORY_SALES, daily_category_sales(months)),
        (MONTHLY_CUSTOMER_REVENUE, monthly_customer_revenue(months)),
        (TOP_PRODUCTS_MONTHLY, top_products_monthly(months, top_products)),
    )
    for table, frame in outputs:
        write_table(frame, processed, table)
    batch.checked.unpersist()
    write_run_summary(spark, args["processed_bucket"], summary_key, report)
    job.commit()


if __name__ == "__main__":
    main(sys.argv)
