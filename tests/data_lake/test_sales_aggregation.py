"""Sales aggregation on local Spark: every rejection counted, exact totals on hand-checked data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest

from glue.etl import sales as etl
from glue.etl.output import write_table
from glue.etl.tables import DAILY_CATEGORY_SALES, MONTHLY_CUSTOMER_REVENUE, TOP_PRODUCTS_MONTHLY
from tests.data_lake import datasets
from tests.data_lake.conftest import csv_frame


@pytest.fixture(scope="module")
def batch(spark):
    sales = etl.transform_sales(
        csv_frame(spark, datasets.TRANSACTION_FIELDS, datasets.TRANSACTIONS),
        csv_frame(spark, datasets.PRODUCT_FIELDS, datasets.PRODUCTS),
        csv_frame(spark, datasets.CUSTOMER_FIELDS, datasets.CUSTOMERS),
    )
    sales.checked.persist()
    return sales


def rows(frame, *columns):
    return sorted(tuple(row[c] for c in columns) for row in frame.collect())


def test_every_bad_transaction_is_rejected_with_its_reason(batch):
    report = batch.report()
    assert (report.total, report.passed) == (16, 6)
    assert report.rejected == {
        etl.DUPLICATE: 1,
        etl.MISSING_TRANSACTION_ID: 1,
        etl.UNPARSEABLE_DATE: 2,
        etl.BAD_QUANTITY: 2,
        etl.BAD_PRICE: 1,
        etl.UNKNOWN_PRODUCT: 1,
        etl.UNKNOWN_CUSTOMER: 1,
        etl.MISSING_CUSTOMER_ID: 1,
    }
    reasons = {row["transaction_id"]: row[etl.REJECTION] for row in batch.rejected.collect() if row["transaction_id"]}
    assert reasons == {
        "T1": etl.DUPLICATE,
        "T7": etl.UNPARSEABLE_DATE,
        "T14": etl.UNPARSEABLE_DATE,
        "T8": etl.BAD_QUANTITY,
        "T9": etl.BAD_QUANTITY,
        "T10": etl.BAD_PRICE,
        "T11": etl.UNKNOWN_PRODUCT,
        "T12": etl.UNKNOWN_CUSTOMER,
        "T13": etl.MISSING_CUSTOMER_ID,
    }


def test_total_amount_is_quantity_times_price_in_exact_decimals(batch):
    assert rows(batch.enriched, "transaction_id", "total_amount", "year", "month") == [
        ("T1", Decimal("1000.00"), 2024, 1),
        ("T2", Decimal("31.00"), 2024, 1),
        ("T3", Decimal("600.00"), 2024, 1),
        ("T4", Decimal("36.00"), 2024, 2),
        ("T5", Decimal("1100.00"), 2024, 2),
        ("T6", Decimal("999.99"), 2024, 1),
    ]


def test_daily_sales_per_category(batch):
    daily = etl.daily_category_sales(batch.enriched)
    assert rows(daily, "sale_date", "category", "transactions", "units", "revenue", "customers") == [
        (date(2024, 1, 15), "Books", 1, 2, Decimal("31.00"), 1),
        (date(2024, 1, 15), "Electronics", 2, 2, Decimal("1999.99"), 2),
        (date(2024, 1, 20), "Electronics", 1, 1, Decimal("600.00"), 1),
        (date(2024, 2, 1), "Books", 1, 3, Decimal("36.00"), 1),
        (date(2024, 2, 10), "Electronics", 1, 2, Decimal("1100.00"), 1),
    ]


def test_monthly_revenue_per_customer(batch):
    monthly = etl.monthly_customer_revenue(batch.enriched)
    columns = ("year", "month", "customer_id", "full_name", "state", "transactions", "units", "revenue")
    assert rows(monthly, *columns, "first_purchase", "last_purchase") == [
        (2024, 1, "C1", "Zoë Müller", "NY", 2, 3, Decimal("1031.00"), date(2024, 1, 15), date(2024, 1, 15)),
        (2024, 1, "C2", "José García", "CA", 2, 2, Decimal("1599.99"), date(2024, 1, 15), date(2024, 1, 20)),
        (2024, 2, "C1", "Zoë Müller", "NY", 1, 2, Decimal("1100.00"), date(2024, 2, 10), date(2024, 2, 10)),
        (2024, 2, "C2", "José García", "CA", 1, 3, Decimal("36.00"), date(2024, 2, 1), date(2024, 2, 1)),
    ]


def test_top_products_per_month_keeps_the_top_n(batch):
    top = etl.top_products_monthly(batch.enriched, top=2)
    assert rows(top, "year", "month", "sales_rank", "product_id", "units", "revenue") == [
        (2024, 1, 1, "P1", 2, Decimal("1999.99")),
        (2024, 1, 2, "P3", 1, Decimal("600.00")),
        (2024, 2, 1, "P3", 2, Decimal("1100.00")),
        (2024, 2, 2, "P2", 3, Decimal("36.00")),
    ]
    with pytest.raises(ValueError, match="top must be at least 1"):
        etl.top_products_monthly(batch.enriched, top=0)


@pytest.mark.parametrize(
    ("table", "build"),
    [
        (DAILY_CATEGORY_SALES, etl.daily_category_sales),
        (MONTHLY_CUSTOMER_REVENUE, etl.monthly_customer_revenue),
        (TOP_PRODUCTS_MONTHLY, etl.top_products_monthly),
    ],
)
def test_outputs_match_their_catalog_tables(batch, table, build):
    assert [(f.name, f.dataType.simpleString()) for f in build(batch.enriched).schema.fields] == [
        (c.name, c.type) for c in table.all_columns
    ]


def test_rewriting_one_month_replaces_only_that_month(spark, batch, tmp_path: Path):
    uri = tmp_path.as_uri()
    daily = etl.daily_category_sales(batch.enriched)
    write_table(daily, uri, DAILY_CATEGORY_SALES)
    february_only = daily.filter("sale_date = DATE '2024-02-01'")
    write_table(february_only, uri, DAILY_CATEGORY_SALES)
    written = spark.read.parquet(urlparse(uri).path + "/" + DAILY_CATEGORY_SALES.prefix)
    assert rows(written, "year", "month", "sale_date") == [
        (2024, 1, date(2024, 1, 15)),
        (2024, 1, date(2024, 1, 15)),
        (2024, 1, date(2024, 1, 20)),
        (2024, 2, date(2024, 2, 1)),
    ]


def test_a_date_the_new_parser_rejects_does_not_fail_the_job(spark):
    frame = csv_frame(spark, datasets.TRANSACTION_FIELDS, [("T", "C", "P", "1", "1.00", "2024-3-5", "paypal")])
    assert [row[etl.REJECTION] for row in etl.parse_transactions(frame).collect()] == [etl.UNPARSEABLE_DATE]
