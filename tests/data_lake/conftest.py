"""Fixtures of the DataLake tests: one local Spark session for the whole run, and small datasets."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

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


def csv_frame(spark: SparkSession, fields: Sequence[str], rows: Sequence[Sequence[str | None]]) -> DataFrame:
    """The rows as a UTF-8 CSV file read back by Spark's CSV reader, as the jobs receive a feed:
    every column a string, empty cells (None or "") null, surrounding spaces kept."""
    path = Path(tempfile.mkdtemp(prefix="feed-")) / "feed.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows(["" if value is None else value for value in row] for row in rows)
    # Python's csv doubles quotes (RFC 4180); Spark must be told that this is the escape.
    return spark.read.option("header", True).option("escape", '"').option("encoding", "UTF-8").csv(str(path))


@pytest.fixture(scope="session")
def lake_uri(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The processed zone as the two jobs write it from the hand-checked feeds (see datasets.py)."""
    from glue.etl.customers import transform_customers
    from glue.etl.output import write_table
    from glue.etl.sales import daily_category_sales, monthly_customer_revenue, top_products_monthly, transform_sales
    from glue.etl.tables import CUSTOMERS, DAILY_CATEGORY_SALES, MONTHLY_CUSTOMER_REVENUE, TOP_PRODUCTS_MONTHLY
    from tests.data_lake import datasets

    uri = tmp_path_factory.mktemp("lake").as_uri()
    customers = csv_frame(spark, datasets.CUSTOMER_FIELDS, datasets.CUSTOMERS)
    write_table(transform_customers(customers).valid, uri, CUSTOMERS)
    sales = transform_sales(
        csv_frame(spark, datasets.TRANSACTION_FIELDS, datasets.TRANSACTIONS),
        csv_frame(spark, datasets.PRODUCT_FIELDS, datasets.PRODUCTS),
        customers,
    )
    sales.checked.persist()
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
