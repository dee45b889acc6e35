"""Sample-data generator: the CSV it uploads, its validation, and the ETL run on what it generates."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from glue.etl import customers as customer_etl
from glue.etl import sales as sales_etl
from glue.etl.tables import RAW_CUSTOMERS, RAW_PRODUCTS, RAW_TRANSACTIONS
from handlers.data_lake import sample_data
from tests.data_lake.conftest import csv_frame

END = date(2024, 3, 31)
REQUEST = sample_data.SampleRequest(customers=200, products=20, transactions=1000, seed=42, bad_rows=True, end=END)


def feed_rows(request: sample_data.SampleRequest, feed: str) -> tuple[tuple[str, ...], list[dict[str, str]]]:
    fields, rows = sample_data.dataset(request)[feed]
    return fields, list(rows)


def test_feeds_have_exactly_the_columns_the_etl_reads():
    assert RAW_CUSTOMERS.fields == sample_data.CUSTOMER_FIELDS
    assert RAW_PRODUCTS.fields == sample_data.PRODUCT_FIELDS
    assert RAW_TRANSACTIONS.fields == sample_data.TRANSACTION_FIELDS


def test_same_seed_same_data_and_bad_rows_only_when_asked():
    assert feed_rows(REQUEST, "transactions") == feed_rows(REQUEST, "transactions")
    clean = sample_data.SampleRequest(customers=200, products=20, transactions=1000, seed=42, end=END)
    assert len(feed_rows(clean, "transactions")[1]) == 1000
    assert len(feed_rows(REQUEST, "transactions")[1]) == 1005


def test_handler_uploads_one_utf8_csv_per_feed(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("RAW_BUCKET", "lake-raw")
    sample_data._s3.cache_clear()
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="lake-raw", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        result = sample_data.handler(
            {"customers": 50, "products": 5, "transactions": 100, "seed": 1, "badRows": True},
            SimpleNamespace(aws_request_id="0123456789abcdef"),
        )
        assert {feed: info["rows"] for feed, info in result["files"].items()} == {
            "customers": 53,
            "products": 5,
            "transactions": 105,
        }
        for feed, info in result["files"].items():
            assert info["key"].startswith(f"raw/{feed}/{feed}-") and info["key"].endswith("-01234567.csv")
            obj = s3.get_object(Bucket="lake-raw", Key=info["key"])
            assert obj["ContentType"] == "text/csv"
            reader = csv.DictReader(io.StringIO(obj["Body"].read().decode("utf-8")))
            assert (
                tuple(reader.fieldnames)
                == {"customers": RAW_CUSTOMERS, "products": RAW_PRODUCTS}.get(feed, RAW_TRANSACTIONS).fields
            )
            assert len(list(reader)) == info["rows"]
    sample_data._s3.cache_clear()


def test_two_runs_never_share_a_customer_or_transaction_id():
    def ids(run: str, feed: str, key: str) -> set[str]:
        rows = feed_rows(sample_data.SampleRequest(customers=50, transactions=200, seed=42, end=END, run=run), feed)[1]
        return {row[key] for row in rows}

    assert not ids("run-a", "customers", "customer_id") & ids("run-b", "customers", "customer_id")
    assert not ids("run-a", "transactions", "transaction_id") & ids("run-b", "transactions", "transaction_id")
    # every sale of a run refers to a customer of the same run
    assert {row["customer_id"] for row in feed_rows(REQUEST, "transactions")[1]} <= {
        row["customer_id"] for row in feed_rows(REQUEST, "customers")[1]
    }
    assert ids("run-a", "products", "product_id") == ids("run-b", "products", "product_id")


def test_handler_puts_the_run_id_into_the_ids(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("RAW_BUCKET", "lake-raw")
    sample_data._s3.cache_clear()
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="lake-raw", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        seen: list[set[str]] = []
        for request_id in ("aaaaaaaa-1", "bbbbbbbb-2"):
            result = sample_data.handler(
                {"customers": 5, "products": 2, "transactions": 10, "seed": 1},
                SimpleNamespace(aws_request_id=request_id),
            )
            body = s3.get_object(Bucket="lake-raw", Key=result["files"]["transactions"]["key"])["Body"].read()
            seen.append({row["transaction_id"] for row in csv.DictReader(io.StringIO(body.decode("utf-8")))})
        assert len(seen[0]) == len(seen[1]) == 10
        assert not seen[0] & seen[1]
    sample_data._s3.cache_clear()


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"customers": 0}, "customers must be a whole number from 1 to 100000"),
        ({"transactions": 2_000_000}, "transactions must be a whole number from 1 to 1000000"),
        ({"products": "10"}, "products must be a whole number"),
        ({"seed": "abc"}, "seed must be a whole number"),
        ({"badRows": "yes"}, "badRows must be true or false"),
        ({"rows": 5}, r"unknown keys \['rows'\]"),
    ],
)
def test_bad_requests_name_the_key(event, message):
    with pytest.raises(sample_data.SampleRequestError, match=message):
        sample_data.parse_request(event)


def test_etl_on_generated_data_rejects_exactly_the_bad_rows(spark):
    customer_fields, customers = feed_rows(REQUEST, "customers")
    product_fields, products = feed_rows(REQUEST, "products")
    transaction_fields, transactions = feed_rows(REQUEST, "transactions")

    def frame(fields, rows):
        return csv_frame(spark, fields, [tuple(row[f] for f in fields) for row in rows])

    customer_report = customer_etl.transform_customers(frame(customer_fields, customers)).report()
    assert (customer_report.total, customer_report.passed) == (203, 200)
    assert customer_report.rejected == {customer_etl.MISSING_CUSTOMER_ID: 1, customer_etl.EMAIL_WITHOUT_AT: 2}

    batch = sales_etl.transform_sales(
        frame(transaction_fields, transactions), frame(product_fields, products), frame(customer_fields, customers)
    )
    batch.checked.persist()
    report = batch.report()
    assert (report.total, report.passed) == (1005, 1000)
    assert report.rejected == {
        sales_etl.MISSING_TRANSACTION_ID: 1,
        sales_etl.UNPARSEABLE_DATE: 2,
        sales_etl.BAD_QUANTITY: 2,
    }
    expected_revenue = sum(Decimal(t["quantity"]) * Decimal(t["price"]) for t in transactions[:1000])
    daily = sales_etl.daily_category_sales(batch.enriched)
    assert sum(row["revenue"] for row in daily.collect()) == expected_revenue
