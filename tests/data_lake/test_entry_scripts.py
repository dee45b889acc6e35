"""The Glue entry scripts (glue/jobs/*.py) run end to end on local Spark against the awsglue stand-in.

Each test drops raw CSV objects into a local "raw bucket", runs a script's `main` with the job
arguments as Glue passes them, and reads back the tables it wrote to the local "processed bucket":
argument names, bookmarks (`job.commit()`), merges and sinks are exercised as one.
"""

from __future__ import annotations

import importlib
import json
import os
from datetime import date
from pathlib import Path

import pytest

from glue.etl import output
from glue.etl.output import read_table
from glue.etl.tables import (
    CUSTOMERS,
    DAILY_CATEGORY_SALES,
    MONTHLY_CUSTOMER_REVENUE,
    RAW_CUSTOMERS,
    RAW_PRODUCTS,
    RAW_TRANSACTIONS,
    REJECTED_ROWS,
    TRANSACTIONS,
    RawEntity,
)
from tests.data_lake import awsglue_standin
from tests.data_lake.conftest import Rows, write_csv
from tests.least_privilege import glue_io

# Arguments Glue adds on its own; the scripts must ignore them.
GLUE_ARGUMENTS = ["--job-bookmark-option", "job-bookmark-enable", "--TempDir", "s3://elsewhere/temp/"]


class Lake:
    """Two local 'buckets' and the bookmark store, with helpers that read like a runbook."""

    def __init__(self, root: Path, store: awsglue_standin.BookmarkStore, spark) -> None:
        self.raw = root / "raw-bucket"
        self.processed = root / "processed-bucket"
        self.store = store
        self.spark = spark
        self._deliveries = 0

    def deliver(self, entity: RawEntity, rows: Rows) -> Path:
        """A new object under raw/<feed>/, written a minute after the previous delivery."""
        self._deliveries += 1
        path = write_csv(self.raw / entity.prefix / f"{entity.name}-{self._deliveries:03d}.csv", entity.fields, rows)
        os.utime(path, (1_700_000_000 + 60 * self._deliveries,) * 2)
        return path

    def run(self, job: str, *arguments: str) -> None:
        script = job.replace("-", "_")
        # What the script reads and writes is noted for the least-privilege check of the job role.
        with glue_io.recording(
            f"{script}.py", {"--raw-bucket": str(self.raw), "--processed-bucket": str(self.processed)}
        ):
            module = importlib.import_module(f"glue.jobs.{script}")
            module = importlib.reload(module)  # bind the stand-in modules (and the recording) of this test
            module.main([f"{job}.py", "--JOB_NAME", job, *GLUE_ARGUMENTS, *arguments])

    def customer_transform(self, *extra: str) -> None:
        self.run("customer-transform", "--raw-bucket", str(self.raw), "--processed-bucket", str(self.processed), *extra)

    def sales_aggregation(self, *extra: str, top: int = 5) -> None:
        self.run(
            "sales-aggregation",
            "--raw-bucket",
            str(self.raw),
            "--processed-bucket",
            str(self.processed),
            "--top-products",
            str(top),
            *extra,
        )

    def run_summary(self, key: str) -> dict:
        return json.loads((self.processed / key).read_text())

    def table(self, table, *columns: str) -> list[tuple]:
        frame = read_table(self.spark, self.processed.as_uri(), table)
        assert frame is not None, f"{table.name} was never written"
        return sorted(tuple(row[c] for c in columns) for row in frame.collect())


@pytest.fixture
def lake(spark, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Lake:
    store = awsglue_standin.BookmarkStore(tmp_path / "bookmarks.json")
    awsglue_standin.install(monkeypatch, store)
    monkeypatch.setattr(output, "OBJECT_STORE_SCHEME", "file")
    # bucket "names" are absolute directories here, so file://<bucket>/<prefix> is a local path
    return Lake(tmp_path, store, spark)


def customer(cid: str | None, email: str, age: str, state: str) -> tuple[str | None, ...]:
    return (cid, "Ann", "Lee", email, age, "Austin", state, "2023-01-01")


def test_customer_entry_script_keeps_one_row_per_customer_across_runs_and_retries(lake: Lake, monkeypatch):
    lake.deliver(
        RAW_CUSTOMERS,
        [
            customer("C1", "c1@x.io", "30", "TX"),
            customer("C2", "c2@x.io", "40", "NY"),
            customer("", "x@x.io", "1", "TX"),
        ],
    )
    # The first attempt dies after writing, before job.commit(): the bookmark does not move, and the
    # retry reads the same object again without adding a row anywhere.
    real_replace = output.replace_partitions

    def crash_after_writing(*args, **kwargs):
        real_replace(*args, **kwargs)
        raise RuntimeError("executor lost after the write, before job.commit()")

    monkeypatch.setattr(output, "replace_partitions", crash_after_writing)
    with pytest.raises(RuntimeError, match=r"before job\.commit"):
        lake.customer_transform()
    assert lake.store.commits == []
    monkeypatch.setattr(output, "replace_partitions", real_replace)
    lake.customer_transform()
    assert lake.store.commits == ["customer-transform"]
    assert lake.table(CUSTOMERS, "customer_id") == [("C1",), ("C2",)]
    assert lake.table(REJECTED_ROWS, "rejection_reason") == [("missing customer_id",)]

    # A later delivery: C1 moved to CA (its TX partition must empty), C2 re-sent with a bad email
    # (rejected, the stored C2 stays), C3 delivered twice in one object (the later line wins).
    lake.deliver(
        RAW_CUSTOMERS,
        [
            customer("C1", "c1@new.io", "31", "CA"),
            customer("C2", "broken", "40", "NY"),
            customer("C3", "old@x.io", "50", "AZ"),
            customer("C3", "new@x.io", "50", "AZ"),
            customer(None, "nobody@x.io", "20", "AZ"),
        ],
    )
    lake.customer_transform("--run-summary-key", "runs/exec-2/customer-transform.json")
    assert lake.run_summary("runs/exec-2/customer-transform.json") == {
        "read": 5,
        "accepted": 3,
        "rejected": 2,
        "rejectedByReason": {"email without @": 1, "missing customer_id": 1},
    }
    assert lake.table(CUSTOMERS, "customer_id", "email", "state", "age_group") == [
        ("C1", "c1@new.io", "CA", "25-34"),
        ("C2", "c2@x.io", "NY", "35-44"),
        ("C3", "new@x.io", "AZ", "45-54"),
    ]
    assert not list((lake.processed / CUSTOMERS.prefix / "state=TX").rglob("*.parquet"))
    rejected = lake.table(REJECTED_ROWS, "entity", "rejection_reason", "record")
    assert [(entity, reason) for entity, reason, _ in rejected] == [
        ("customers", "email without @"),
        ("customers", "missing customer_id"),
        ("customers", "missing customer_id"),
    ]
    assert json.loads(rejected[0][2])["email"] == "broken"

    # Nothing new: the bookmark hands the job no objects, the table stays as it is.
    lake.customer_transform("--run-summary-key", "runs/exec-3/customer-transform.json")
    assert lake.run_summary("runs/exec-3/customer-transform.json")["read"] == 0
    assert lake.store.commits == ["customer-transform"] * 3
    assert len(lake.table(CUSTOMERS, "customer_id")) == 3


PRODUCTS = [("P1", "Laptop", "Electronics", "A", "700", "1000", "5"), ("P2", "Novel", "Books", "B", "5", "15", "9")]
CUSTOMERS_FEED = [customer("C1", "c1@x.io", "30", "TX"), customer("C2", "c2@x.io", "40", "NY")]


def sale(tid: str, cid: str, pid: str, quantity: str, price: str, day: str) -> tuple[str, ...]:
    return (tid, cid, pid, quantity, price, day, "paypal")


def test_sales_entry_script_is_incremental_and_never_rereads_old_raw_objects(lake: Lake):
    lake.deliver(RAW_PRODUCTS, PRODUCTS)
    lake.deliver(RAW_CUSTOMERS, CUSTOMERS_FEED)
    first = lake.deliver(
        RAW_TRANSACTIONS,
        [sale("T1", "C1", "P1", "1", "1000.00", "2024-01-15"), sale("T2", "C2", "P2", "2", "15.00", "2024-01-20")],
    )
    lake.sales_aggregation()
    assert lake.store.commits == ["sales-aggregation"]

    # Day 91: the first object is no longer readable (an archive class Glue cannot read); the job
    # must not need it. The new object re-sends T1, adds January and February sales, and carries a
    # bad first copy of T4 before its good copy.
    first.unlink()
    lake.deliver(
        RAW_TRANSACTIONS,
        [
            sale("T1", "C1", "P1", "1", "1000.00", "2024-01-15"),
            sale("T3", "C1", "P2", "1", "15.00", "2024-01-21"),
            sale("T4", "C2", "P9", "1", "1.00", "2024-02-01"),
            sale("T4", "C2", "P1", "1", "900.00", "2024-02-01"),
        ],
    )
    lake.sales_aggregation("--run-summary-key", "runs/exec-2/sales-aggregation.json")
    assert lake.run_summary("runs/exec-2/sales-aggregation.json")["rejectedByReason"] == {
        "transaction_id accepted by an earlier run": 1,
        "unknown product_id": 1,
    }
    assert lake.table(TRANSACTIONS, "transaction_id", "year", "month", "total_amount") == [
        ("T1", 2024, 1, 1000),
        ("T2", 2024, 1, 30),
        ("T3", 2024, 1, 15),
        ("T4", 2024, 2, 900),
    ]
    assert lake.table(DAILY_CATEGORY_SALES, "sale_date", "category", "transactions") == [
        (date(2024, 1, 15), "Electronics", 1),
        (date(2024, 1, 20), "Books", 1),
        (date(2024, 1, 21), "Books", 1),
        (date(2024, 2, 1), "Electronics", 1),
    ]
    assert lake.table(MONTHLY_CUSTOMER_REVENUE, "year", "month", "customer_id", "transactions", "revenue") == [
        (2024, 1, "C1", 2, 1015),
        (2024, 1, "C2", 1, 30),
        (2024, 2, "C2", 1, 900),
    ]
    assert lake.table(REJECTED_ROWS, "entity", "rejection_reason") == [
        ("transactions", "transaction_id accepted by an earlier run"),
        ("transactions", "unknown product_id"),
    ]


@pytest.mark.parametrize(
    ("job", "arguments", "missing"),
    [
        ("customer-transform", ["--raw-bucket", "/r"], "--processed-bucket"),
        ("sales-aggregation", ["--raw-bucket", "/r", "--processed-bucket", "/p"], "--top-products"),
    ],
)
def test_entry_script_missing_argument_is_named(lake: Lake, job: str, arguments: list[str], missing: str):
    with pytest.raises(awsglue_standin.GlueArgumentError, match=missing):
        lake.run(job, *arguments)
    assert lake.store.commits == []


def test_sales_entry_script_without_a_product_feed_fails_loudly(lake: Lake):
    lake.deliver(RAW_CUSTOMERS, CUSTOMERS_FEED)
    lake.deliver(RAW_TRANSACTIONS, [sale("T1", "C1", "P1", "1", "1.00", "2024-01-15")])
    with pytest.raises(ValueError, match="no products feed under"):
        lake.sales_aggregation()
    assert lake.store.commits == []
