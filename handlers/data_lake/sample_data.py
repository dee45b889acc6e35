"""Sample-data generator: realistic customer, product and transaction CSV drops in the raw bucket.

Invoke with an optional event such as `{"customers": 1000, "products": 100, "transactions": 5000,
"seed": 7, "badRows": true}`. Each run writes one new object per feed under `raw/<feed>/` (new keys,
so the bookmarked customer job picks them up once), which in turn triggers the crawlers. With
`badRows` the drop also carries the rows the ETL must reject: null ids, bad emails, unparseable dates,
negative quantities. Names include non-ASCII letters on purpose.
"""

from __future__ import annotations

import csv
import io
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import IO, Any

from handlers.common import aws
from handlers.common.log import get_logger

LOGGER = get_logger("data_lake.sample_data")
# A few small PutObject calls; throttles (503 SlowDown) are retried by the client.
S3_UPLOADS = aws.CallPolicy(attempts=4, connect_timeout=3.0, read_timeout=20.0)

CUSTOMER_FIELDS = ("customer_id", "first_name", "last_name", "email", "age", "city", "state", "registration_date")
PRODUCT_FIELDS = ("product_id", "product_name", "category", "brand", "cost", "retail_price", "stock_quantity")
TRANSACTION_FIELDS = (
    "transaction_id",
    "customer_id",
    "product_id",
    "quantity",
    "price",
    "transaction_date",
    "payment_method",
)

FIRST_NAMES = ("John", "Jane", "Alice", "Bob", "Zoë", "José", "Łukasz", "Åsa", "Nguyễn", "美咲", "Chloé", "Søren")
LAST_NAMES = ("Smith", "Johnson", "Müller", "García", "O'Brien", "Žižek", "山田", "Brown", "Davis", "Ødegaard")
CITIES_BY_STATE = {
    "NY": ("New York", "Buffalo"),
    "CA": ("Los Angeles", "San José"),
    "IL": ("Chicago", "Springfield"),
    "TX": ("Houston", "Austin"),
    "AZ": ("Phoenix", "Tucson"),
}
CATEGORIES = ("Electronics", "Clothing", "Books", "Home & Garden", "Sports")
BRANDS = ("BrandA", "BrandB", "BrandC", "BrandD")
PAYMENT_METHODS = ("credit_card", "debit_card", "paypal", "apple_pay")

LIMITS = {"customers": 100_000, "products": 10_000, "transactions": 1_000_000}


class SampleRequestError(ValueError):
    """The invocation asked for something the generator does not do."""


@dataclass(frozen=True)
class SampleRequest:
    customers: int = 1000
    products: int = 100
    transactions: int = 5000
    seed: int | None = None
    bad_rows: bool = False
    days: int = 90
    end: date | None = None


def customer_id(index: int) -> str:
    return f"CUST_{index:05d}"


def product_id(index: int) -> str:
    return f"PROD_{index:03d}"


def generate_customers(rng: random.Random, count: int, *, today: date) -> Iterator[dict[str, str]]:
    for index in range(count):
        state = rng.choice(tuple(CITIES_BY_STATE))
        yield {
            "customer_id": customer_id(index),
            "first_name": rng.choice(FIRST_NAMES),
            "last_name": rng.choice(LAST_NAMES),
            "email": f"customer{index}@{rng.choice(('example.com', 'Example.org', 'mail.example.net'))}",
            "age": str(rng.randint(18, 80)),
            "city": rng.choice(CITIES_BY_STATE[state]),
            "state": state,
            "registration_date": (today - timedelta(days=rng.randint(1, 365))).isoformat(),
        }


def generate_products(rng: random.Random, count: int) -> Iterator[dict[str, str]]:
    for index in range(count):
        cost = rng.uniform(5.0, 200.0)
        yield {
            "product_id": product_id(index),
            "product_name": f"Product {index}",
            "category": CATEGORIES[index % len(CATEGORIES)],
            "brand": rng.choice(BRANDS),
            "cost": f"{cost:.2f}",
            "retail_price": f"{cost * rng.uniform(1.2, 2.5):.2f}",
            "stock_quantity": str(rng.randint(0, 1000)),
        }


def generate_transactions(
    rng: random.Random, count: int, *, customers: int, products: int, end: date, days: int
) -> Iterator[dict[str, str]]:
    for index in range(count):
        yield {
            "transaction_id": f"TXN_{index:07d}",
            "customer_id": customer_id(rng.randrange(customers)),
            "product_id": product_id(rng.randrange(products)),
            "quantity": str(rng.randint(1, 5)),
            "price": f"{rng.uniform(10.0, 500.0):.2f}",
            "transaction_date": (end - timedelta(days=rng.randrange(days))).isoformat(),
            "payment_method": rng.choice(PAYMENT_METHODS),
        }


def bad_customers(today: date) -> list[dict[str, str]]:
    """Rows the customer transform must reject: no id, and emails without `@`."""
    base = {"first_name": "Bad", "last_name": "Row", "age": "30", "city": "Austin", "state": "TX"}
    day = today.isoformat()
    return [
        {**base, "customer_id": "", "email": "no-id@example.com", "registration_date": day},
        {**base, "customer_id": "CUST_BAD01", "email": "not-an-email", "registration_date": day},
        {**base, "customer_id": "CUST_BAD02", "email": "", "registration_date": day},
    ]


def bad_transactions(end: date) -> list[dict[str, str]]:
    """Rows the sales job must reject: null ids, unparseable dates, non-positive quantities."""
    base = {"customer_id": customer_id(0), "product_id": product_id(0), "price": "10.00", "payment_method": "paypal"}
    day = end.isoformat()
    return [
        {**base, "transaction_id": "", "quantity": "1", "transaction_date": day},
        {**base, "transaction_id": "TXN_BAD_DATE", "quantity": "1", "transaction_date": "31/12/2024"},
        {**base, "transaction_id": "TXN_BAD_DAY", "quantity": "1", "transaction_date": "2024-02-30"},
        {**base, "transaction_id": "TXN_NEG_QTY", "quantity": "-2", "transaction_date": day},
        {**base, "transaction_id": "TXN_ZERO_QTY", "quantity": "0", "transaction_date": day},
    ]


def write_csv(rows: Iterable[Mapping[str, str]], fields: tuple[str, ...], stream: IO[str]) -> int:
    """Write a header and the rows; returns the number of data rows."""
    writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    written = 0
    for row in rows:
        writer.writerow(row)
        written += 1
    return written


def dataset(request: SampleRequest) -> dict[str, tuple[tuple[str, ...], Iterator[Mapping[str, str]]]]:
    """Per feed: its CSV fields and its rows (bad rows appended when asked for)."""
    rng = random.Random(request.seed)  # noqa: S311 - sample data, not secrets
    end = request.end or datetime.now(UTC).date()
    customers: Iterable[Mapping[str, str]] = generate_customers(rng, request.customers, today=end)
    products: Iterable[Mapping[str, str]] = generate_products(rng, request.products)
    transactions: Iterable[Mapping[str, str]] = generate_transactions(
        rng, request.transactions, customers=request.customers, products=request.products, end=end, days=request.days
    )
    if request.bad_rows:
        customers = [*customers, *bad_customers(end)]
        transactions = [*transactions, *bad_transactions(end)]
    return {
        "customers": (CUSTOMER_FIELDS, iter(customers)),
        "products": (PRODUCT_FIELDS, iter(products)),
        "transactions": (TRANSACTION_FIELDS, iter(transactions)),
    }


def _count(event: Mapping[str, Any], key: str, default: int) -> int:
    value = event.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LIMITS[key]:
        raise SampleRequestError(f"{key} must be a whole number from 1 to {LIMITS[key]}, got {value!r}")
    return value


def parse_request(event: Mapping[str, Any] | None) -> SampleRequest:
    """Validate the invocation payload; every problem names the key and what is allowed."""
    event = event or {}
    unknown = sorted(set(event) - {"customers", "products", "transactions", "seed", "badRows"})
    if unknown:
        raise SampleRequestError(f"unknown keys {unknown}; allowed: badRows, customers, products, seed, transactions")
    seed = event.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise SampleRequestError(f"seed must be a whole number, got {seed!r}")
    bad_rows = event.get("badRows", False)
    if not isinstance(bad_rows, bool):
        raise SampleRequestError(f"badRows must be true or false, got {bad_rows!r}")
    return SampleRequest(
        customers=_count(event, "customers", SampleRequest.customers),
        products=_count(event, "products", SampleRequest.products),
        transactions=_count(event, "transactions", SampleRequest.transactions),
        seed=seed,
        bad_rows=bad_rows,
    )


def object_key(feed: str, run_id: str) -> str:
    return f"raw/{feed}/{feed}-{run_id}.csv"


def upload_dataset(s3: Any, bucket: str, request: SampleRequest, run_id: str) -> dict[str, dict[str, Any]]:
    """Write one CSV object per feed; returns each feed's key and row count."""
    written: dict[str, dict[str, Any]] = {}
    for feed, (fields, rows) in dataset(request).items():
        buffer = io.StringIO()
        count = write_csv(rows, fields, buffer)
        key = object_key(feed, run_id)
        s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue().encode("utf-8"), ContentType="text/csv")
        LOGGER.info("uploaded sample feed", extra={"feed": feed, "key": key, "rows": count})
        written[feed] = {"key": key, "rows": count}
    return written


@cache
def _s3() -> Any:
    return aws.client("s3", S3_UPLOADS)


def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    request = parse_request(event)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{stamp}-{getattr(context, 'aws_request_id', 'local')[:8]}"
    bucket = os.environ["RAW_BUCKET"]
    return {"bucket": bucket, "files": upload_dataset(_s3(), bucket, request, run_id)}
