"""Each Athena named query, run by DuckDB over the Parquet the Spark jobs wrote, returns the expected rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import urlparse

import duckdb
import pytest

from components.data_lake.queries import named_queries
from glue.etl.tables import PROCESSED_TABLES

QUERIES = {query.name: query for query in named_queries()}


@pytest.fixture(scope="module")
def lake(lake_uri):
    """A DuckDB database with one view per catalog table, reading its Hive-partitioned Parquet."""
    connection = duckdb.connect()
    root = urlparse(lake_uri).path
    for table in PROCESSED_TABLES:
        connection.execute(
            f"CREATE VIEW {table.name} AS SELECT * FROM "
            f"read_parquet('{root}/{table.prefix}**/*.parquet', hive_partitioning = true)"
        )
    yield connection
    connection.close()


def run(lake, name, *parameters):
    query = QUERIES[name]
    assert query.parameter_count == len(parameters)
    return lake.execute(query.sql, list(parameters)).fetchall()


def test_every_report_is_covered_here():
    assert sorted(QUERIES) == [
        "customer_segments",
        "daily_sales_by_category",
        "monthly_category_revenue",
        "top_customers_by_month",
        "top_products_by_month",
    ]


def test_monthly_category_revenue(lake):
    assert run(lake, "monthly_category_revenue", 2024, 1) == [
        ("Electronics", 3, 3, Decimal("2599.99")),
        ("Books", 1, 2, Decimal("31.00")),
    ]
    assert run(lake, "monthly_category_revenue", 2024, 3) == []


def test_daily_sales_by_category(lake):
    assert run(lake, "daily_sales_by_category", 2024, 2) == [
        (date(2024, 2, 1), "Books", 1, 3, Decimal("36.00"), 1),
        (date(2024, 2, 10), "Electronics", 1, 2, Decimal("1100.00"), 1),
    ]


def test_top_customers_by_month(lake):
    assert run(lake, "top_customers_by_month", 2024, 1) == [
        ("C2", "José García", "CA", 2, Decimal("1599.99")),
        ("C1", "Zoë Müller", "NY", 2, Decimal("1031.00")),
    ]


def test_top_products_by_month(lake):
    assert run(lake, "top_products_by_month", 2024, 1) == [
        (1, "P1", "Laptop", "Electronics", 2, Decimal("1999.99")),
        (2, "P3", "Phone", "Electronics", 1, Decimal("600.00")),
    ]


def test_rejected_rows_are_queryable_with_their_reason_and_record(lake):
    rows = lake.execute(
        "SELECT entity, rejection_reason, COUNT(*) FROM rejected_rows GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert ("customers", "email without @", 2) in rows
    assert ("transactions", "duplicate transaction_id", 1) in rows
    assert sum(count for entity, _, count in rows if entity == "transactions") == 10
    [(record,)] = lake.execute(
        "SELECT record FROM rejected_rows WHERE entity = 'transactions' AND rejection_reason = 'unknown product_id'"
    ).fetchall()
    assert '"product_id":"P9"' in record


def test_customer_segments(lake):
    assert run(lake, "customer_segments") == [
        ("AZ", "55-64", 1, 1),
        ("CA", "25-34", 1, 1),
        ("CA", "65+", 1, 1),
        ("NY", "18-24", 1, 1),
        ("TX", "under-18", 1, 1),
        ("unknown", "unknown", 1, 1),
    ]
