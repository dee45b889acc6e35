"""Glue job `customer-transform`: new raw customer CSV drops -> the customers table, one row per customer.

Job bookmarks make each run read only the drops no committed run has read. The batch keeps the
latest valid row of each customer and replaces that customer's stored row: the partitions the batch
touches are rewritten whole (a customer who moved leaves the old partition), so a re-delivered
customer or a retried run never adds a row. Rejected rows land in the `rejected_rows` table.
"""

from __future__ import annotations

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from glue.etl.customers import transform_customers
from glue.etl.feeds import read_feed
from glue.etl.output import bucket_uri, merge_by_key, read_table, replace_partitions, write_table
from glue.etl.rejected import batch_id, rejected_rows, source_files
from glue.etl.runs import RUN_SUMMARY_KEY, job_arguments, nothing_read, write_run_summary
from glue.etl.tables import CUSTOMERS, RAW_CUSTOMERS, REJECTED_ROWS

ARGUMENTS = ("JOB_NAME", "raw-bucket", "processed-bucket")
OPTIONAL_ARGUMENTS = (RUN_SUMMARY_KEY,)
BOOKMARK = "raw_customers"


def main(argv: list[str]) -> None:
    args = getResolvedOptions(argv, job_arguments(argv, ARGUMENTS, OPTIONAL_ARGUMENTS))
    summary_key = args.get(RUN_SUMMARY_KEY.replace("-", "_"))
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    logger = glue_context.get_logger()
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    raw = read_feed(glue_context, args["raw_bucket"], RAW_CUSTOMERS, bookmark=BOOKMARK)
    if raw is None:
        logger.info("customers: no new files since the last bookmarked run")
        write_run_summary(spark, args["processed_bucket"], summary_key, nothing_read("customers"))
        job.commit()
        return

    batch = transform_customers(raw)
    batch.checked.persist()
    report = batch.report()
    logger.info(report.summary())
    print(report.summary())  # stdout lands in the job's output log group

    processed = bucket_uri(args["processed_bucket"])
    batch_name = batch_id(source_files(raw))
    write_table(rejected_rows(batch.checked, RAW_CUSTOMERS, batch_name), processed, REJECTED_ROWS)
    merge = merge_by_key(read_table(spark, processed, CUSTOMERS), batch.valid, CUSTOMERS, "customer_id")
    replace_partitions(spark, merge, processed, CUSTOMERS)
    batch.checked.unpersist()
    write_run_summary(spark, args["processed_bucket"], summary_key, report)
    job.commit()


if __name__ == "__main__":
    main(sys.argv)
