"""Writing a processed table: Snappy Parquet, Hive-style partitions, whole partitions replaced."""

from __future__ import annotations

from pyspark.sql import DataFrame

from glue.etl.tables import TableSpec


def table_uri(base_uri: str, table: TableSpec) -> str:
    """`s3://<bucket>/processed/<path>/` in Glue, a local directory URI in tests."""
    return f"{base_uri.rstrip('/')}/{table.prefix}"


def write_table(frame: DataFrame, base_uri: str, table: TableSpec) -> None:
    """Replace exactly the partitions present in `frame`; other partitions stay as they are.

    The writer option overrides the session's static default, so a rerun for one month can never
    wipe the rest of the table.
    """
    missing = [c.name for c in table.all_columns if c.name not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the columns {missing} of table {table.name}")
    (
        frame.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .option("compression", "snappy")
        .partitionBy(*(c.name for c in table.partition_keys))
        .parquet(table_uri(base_uri, table))
    )
