"""Bytes a query engine reads for the monthly category report: partitioned Parquet vs raw CSV.

    .venv/bin/python -m bench.data_lake_scan_bytes [--transactions 1000000] [--workdir DIR]

Athena bills per byte scanned. This generates feeds with the sample-data generator, runs the real
sales aggregation on local Spark (as Glue 5.1 does) into Hive-partitioned Snappy Parquet, then runs
the report three times in DuckDB through a filesystem that counts every byte read:

- the `monthly_category_revenue` named query (the exact Athena SQL) over the pre-aggregated
  `daily_category_sales`, where the year/month filter prunes partitions and Parquet lets the engine
  read only the columns used (target: <= 5% of the raw bytes);
- the same-grain comparison: the same answer from the processed `transactions` table, i.e. the very
  same transactions as partitioned Parquet, one row each (target: <= 10% of the raw bytes);
- the same answer computed from the raw CSV feeds, which an engine must read whole.

Athena bills at least 10 MB per query (and rounds up to the next MB), so the billed ratio of the
same-grain query is also reported (target: <= 20% of the raw query's bill). All answers are compared
row by row.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from components.data_lake.queries import named_queries
from glue.etl.output import write_table
from glue.etl.sales import daily_category_sales, transform_sales
from glue.etl.tables import (
    DAILY_CATEGORY_SALES,
    RAW_CUSTOMERS,
    RAW_PRODUCTS,
    RAW_TRANSACTIONS,
    SOURCE_FILE,
    SOURCE_MODIFIED,
    TRANSACTIONS,
)
from handlers.data_lake import sample_data

TARGET_RATIO = 0.05
SAME_GRAIN_TARGET = 0.10
BILLED_TARGET = 0.20
ATHENA_MINIMUM_BYTES = 10 * 1024 * 1024
ATHENA_BILLING_UNIT = 1024 * 1024
END = date(2025, 12, 31)
REPORT_MONTH = (2025, 6)

RAW_MONTHLY_CATEGORY_SQL = """
SELECT
    p.category,
    COUNT(*) AS transactions,
    SUM(CAST(t.quantity AS BIGINT)) AS units,
    SUM(CAST(CAST(t.quantity AS INTEGER) * CAST(t.price AS DECIMAL(10, 2)) AS DECIMAL(12, 2))) AS revenue
FROM raw_transactions AS t
JOIN raw_products AS p ON p.product_id = t.product_id
WHERE year(CAST(t.transaction_date AS DATE)) = ? AND month(CAST(t.transaction_date AS DATE)) = ?
GROUP BY p.category
ORDER BY revenue DESC, p.category
"""


# The monthly category report from the processed transactions (one row per transaction).
SAME_GRAIN_MONTHLY_CATEGORY_SQL = """
SELECT
    category,
    COUNT(*) AS transactions,
    SUM(quantity) AS units,
    SUM(total_amount) AS revenue
FROM transactions
WHERE year = ? AND month = ?
GROUP BY category
ORDER BY revenue DESC, category
"""


def billed_bytes(scanned: int) -> int:
    """What Athena bills for a query that scanned `scanned` bytes: whole MB, at least 10 MB."""
    units = -(-scanned // ATHENA_BILLING_UNIT)
    return max(ATHENA_MINIMUM_BYTES, units * ATHENA_BILLING_UNIT)


class _CountingReader:
    """A binary file that adds every byte it returns to its handler's total."""

    def __init__(self, handler: CountingFileSystem, path: str) -> None:
        self._handler = handler
        self._file = open(path, "rb")  # noqa: SIM115 - closed by pyarrow through close()
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._handler.bytes_read += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()
        self.closed = True


class CountingFileSystem(pafs.FileSystemHandler):
    """Read-only local filesystem for Arrow datasets that counts the bytes the engine reads."""

    def __init__(self) -> None:
        self._local = pafs.LocalFileSystem()
        self.bytes_read = 0

    def get_type_name(self) -> str:
        return "counting-local"

    def equals(self, other: Any) -> bool:
        return other is self

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self._local.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self._local.get_file_info(selector)

    def open_input_file(self, path: str) -> pa.PythonFile:
        return pa.PythonFile(_CountingReader(self, path), mode="r")

    def open_input_stream(self, path: str) -> pa.PythonFile:
        return self.open_input_file(path)

    def _read_only(self, *_args: Any, **_kwargs: Any) -> None:
        raise OSError("the counting filesystem is read-only")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
    delete_file = move = copy_file = open_output_stream = open_append_stream = _read_only


def generate_feeds(directory: Path, transactions: int) -> dict[str, Path]:
    request = sample_data.SampleRequest(
        customers=20_000, products=500, transactions=transactions, seed=7, days=730, end=END
    )
    paths: dict[str, Path] = {}
    for feed, (fields, rows) in sample_data.dataset(request).items():
        path = directory / "raw" / feed / f"{feed}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as stream:
            sample_data.write_csv(rows, fields, stream)
        paths[feed] = path
    return paths


def run_sales_aggregation(feeds: dict[str, Path], lake: Path) -> None:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench-data-lake")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    def read(feed: str, fields: tuple[str, ...]):
        frame = spark.read.option("header", True).option("escape", '"').csv(str(feeds[feed]))
        assert tuple(frame.columns) == fields, frame.columns
        # the columns Glue's attachFilename / attachTimestamp options add to every raw read
        return frame.select(
            "*",
            F.col("_metadata.file_path").alias(SOURCE_FILE),
            F.unix_millis(F.col("_metadata.file_modification_time")).alias(SOURCE_MODIFIED),
        )

    batch = transform_sales(
        read("transactions", RAW_TRANSACTIONS.fields),
        read("products", RAW_PRODUCTS.fields),
        read("customers", RAW_CUSTOMERS.fields),
    )
    transactions = batch.enriched.localCheckpoint(eager=True)
    write_table(transactions, lake.as_uri(), TRANSACTIONS)
    write_table(daily_category_sales(transactions), lake.as_uri(), DAILY_CATEGORY_SALES)
    spark.stop()


def measure(register: dict[str, ds.Dataset], handler: CountingFileSystem, sql: str) -> tuple[list[tuple], int]:
    connection = duckdb.connect()
    for name, dataset in register.items():
        connection.register(name, dataset)
    handler.bytes_read = 0
    rows = connection.execute(sql, list(REPORT_MONTH)).fetchall()
    connection.close()
    return rows, handler.bytes_read


def partitioned_parquet(path: Path, handler: CountingFileSystem) -> ds.Dataset:
    return ds.dataset(str(path), filesystem=pafs.PyFileSystem(handler), format="parquet", partitioning="hive")


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, help="keep the generated lake here (default: a temporary dir)")
    args = parser.parse_args()
    if args.transactions < 1_000_000:
        parser.error("the target is defined on at least 1,000,000 transactions")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-data-lake-"))
    try:
        started = time.perf_counter()
        feeds = generate_feeds(workdir, args.transactions)
        generated = time.perf_counter()
        lake = workdir / "lake"
        run_sales_aggregation(feeds, lake)
        aggregated = time.perf_counter()

        parquet_fs = CountingFileSystem()
        table_path = lake / DAILY_CATEGORY_SALES.prefix
        parquet = partitioned_parquet(table_path, parquet_fs)
        report_sql = next(q for q in named_queries() if q.name == "monthly_category_revenue").sql
        parquet_rows, parquet_bytes = measure({DAILY_CATEGORY_SALES.name: parquet}, parquet_fs, report_sql)

        grain_fs = CountingFileSystem()
        grain_path = lake / TRANSACTIONS.prefix
        grain = partitioned_parquet(grain_path, grain_fs)
        grain_rows, grain_bytes = measure({TRANSACTIONS.name: grain}, grain_fs, SAME_GRAIN_MONTHLY_CATEGORY_SQL)

        csv_fs = CountingFileSystem()
        raw = {
            f"raw_{feed}": ds.dataset(str(feeds[feed]), filesystem=pafs.PyFileSystem(csv_fs), format="csv")
            for feed in ("transactions", "products")
        }
        csv_rows, csv_bytes = measure(raw, csv_fs, RAW_MONTHLY_CATEGORY_SQL)
        queried = time.perf_counter()

        ratio = parquet_bytes / csv_bytes
        grain_ratio = grain_bytes / csv_bytes
        billed_ratio = billed_bytes(grain_bytes) / billed_bytes(csv_bytes)
        aggregate_billed_ratio = billed_bytes(parquet_bytes) / billed_bytes(csv_bytes)
        same = parquet_rows == csv_rows == grain_rows and bool(parquet_rows)
        year, month = REPORT_MONTH
        print(f"monthly category report for {year}-{month:02d} over {args.transactions:,} transactions")
        print(f"  raw CSV feeds on disk            {size_of(workdir / 'raw'):>14,} bytes")
        print(f"  daily_category_sales on disk     {size_of(table_path):>14,} bytes (Snappy Parquet)")
        print(f"  transactions table on disk       {size_of(grain_path):>14,} bytes (Snappy Parquet, same grain)")
        print(f"  bytes read from raw CSV          {csv_bytes:>14,}  billed {billed_bytes(csv_bytes):>14,}")
        print(f"  bytes read from aggregate        {parquet_bytes:>14,}  billed {billed_bytes(parquet_bytes):>14,}")
        print(f"  bytes read from transactions     {grain_bytes:>14,}  billed {billed_bytes(grain_bytes):>14,}")
        print(f"  aggregate / CSV (bytes)          {ratio:>14.4%}  (target <= {TARGET_RATIO:.0%})")
        print(f"  same grain / CSV (bytes)         {grain_ratio:>14.4%}  (target <= {SAME_GRAIN_TARGET:.0%})")
        print(f"  same grain / CSV (billed)        {billed_ratio:>14.4%}  (target <= {BILLED_TARGET:.0%})")
        print(f"  aggregate / CSV (billed)         {aggregate_billed_ratio:>14.4%}")
        print(f"  same answer from all three       {'yes' if same else 'NO'} ({len(parquet_rows)} categories)")
        print(
            f"  time: generate {generated - started:.1f}s, Spark aggregation {aggregated - generated:.1f}s, "
            f"queries {queried - aggregated:.1f}s"
        )
        passed = same and ratio <= TARGET_RATIO and grain_ratio <= SAME_GRAIN_TARGET and billed_ratio <= BILLED_TARGET
        print(f"result: {'PASS' if passed else 'FAIL'}")
        return 0 if passed else 1
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
