"""Fixtures of the DataLake tests: one local Spark session for the whole run, and small datasets."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

from glue.etl.tables import SOURCE_FILE, SOURCE_MODIFIED
from handlers.common import aws as aws_clients


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """Spark 3.5.6 in local mode, as Glue 5.1 runs it; small and quiet so tests stay fast."""
    session = (
        SparkSession.builder.master("local[2]")
        .appName("datalake-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


Rows = Sequence[Sequence[str | None]]


def write_csv(path: Path, fields: Sequence[str], rows: Rows) -> Path:
    """A UTF-8 CSV file as the feeds deliver it (empty cells for None)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows(["" if value is None else value for value in row] for row in rows)
    return path


def read_feed(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """CSV objects read as the jobs read a feed: every column a string, empty cells null, surrounding
    spaces kept, plus the source object and its modification time (Glue's attachFilename and
    attachTimestamp options)."""
    # Python's csv doubles quotes (RFC 4180); Spark must be told that this is the escape.
    frame = spark.read.option("header", True).option("escape", '"').option("encoding", "UTF-8").csv(list(paths))
    return frame.select(
        "*",
        F.col("_metadata.file_path").alias(SOURCE_FILE),
        (F.unix_millis(F.col("_metadata.file_modification_time"))).alias(SOURCE_MODIFIED),
    )


def csv_frame(spark: SparkSession, fields: Sequence[str], rows: Rows) -> DataFrame:
    """The rows as one delivered CSV object, read back as the jobs read it."""
    path = write_csv(Path(tempfile.mkdtemp(prefix="feed-")) / "feed.csv", fields, rows)
    return read_feed(spark, [str(path)])


def csv_deliveries(spark: SparkSession, fields: Sequence[str], deliveries: Sequence[Rows]) -> DataFrame:
    """Several deliveries of one feed, one object each, written one minute apart in the given order."""
    directory = Path(tempfile.mkdtemp(prefix="feed-"))
    paths = []
    for number, rows in enumerate(deliveries):
        path = write_csv(directory / f"delivery-{number}.csv", fields, rows)
        written = 1_700_000_000 + 60 * number
        os.utime(path, (written, written))
        paths.append(str(path))
    return read_feed(spark, paths)


@pytest.fixture(scope="session")
def lake_uri(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The processed zone as the two jobs write it from the hand-checked feeds (see datasets.py)."""
    from glue.etl.customers import transform_customers
    from glue.etl.output import write_table
    from glue.etl.rejected import rejected_rows
    from glue.etl.sales import daily_category_sales, monthly_customer_revenue, top_products_monthly, transform_sales
    from glue.etl.tables import (
        CUSTOMERS,
        DAILY_CATEGORY_SALES,
        MONTHLY_CUSTOMER_REVENUE,
        RAW_CUSTOMERS,
        RAW_TRANSACTIONS,
        REJECTED_ROWS,
        TOP_PRODUCTS_MONTHLY,
        TRANSACTIONS,
    )
    from tests.data_lake import datasets

    uri = tmp_path_factory.mktemp("lake").as_uri()
    customers = csv_frame(spark, datasets.CUSTOMER_FIELDS, datasets.CUSTOMERS)
    customer_batch = transform_customers(customers)
    write_table(customer_batch.valid, uri, CUSTOMERS)
    sales = transform_sales(
        csv_frame(spark, datasets.TRANSACTION_FIELDS, datasets.TRANSACTIONS),
        csv_frame(spark, datasets.PRODUCT_FIELDS, datasets.PRODUCTS),
        customers,
    )
    sales.checked.persist()
    rejected = rejected_rows(customer_batch.checked, RAW_CUSTOMERS, "batch-1").unionByName(
        rejected_rows(sales.checked, RAW_TRANSACTIONS, "batch-1")
    )
    write_table(rejected, uri, REJECTED_ROWS)
    write_table(sales.enriched, uri, TRANSACTIONS)
    write_table(daily_category_sales(sales.enriched), uri, DAILY_CATEGORY_SALES)
    write_table(monthly_customer_revenue(sales.enriched), uri, MONTHLY_CUSTOMER_REVENUE)
    write_table(top_products_monthly(sales.enriched, top=2), uri, TOP_PRODUCTS_MONTHLY)
    return uri


@pytest.fixture(autouse=True)
def fresh_aws_clients() -> Iterator[None]:
    """Each test starts, and leaves, with no cached client: as a new Lambda container would."""
    aws_clients.clear_clients()
    yield
    aws_clients.clear_clients()
