"""Reading and writing the tables the jobs own: Snappy Parquet, Hive-style partitions, whole
partitions replaced, and the latest row per key kept when a new batch meets what is already there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention
from pyspark.sql.types import StructField, StructType, _parse_datatype_string

from glue.etl.tables import TableSpec

# Glue reads and writes `s3://`; local runs of the entry scripts point this at `file://`.
OBJECT_STORE_SCHEME = "s3"

Partition = tuple[Any, ...]
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def bucket_uri(bucket: str) -> str:
    """Base URI of a bucket, the root every table prefix hangs off."""
    return f"{OBJECT_STORE_SCHEME}://{bucket}"


def table_uri(base_uri: str, table: TableSpec) -> str:
    """`s3://<bucket>/processed/<path>/` in Glue, a local directory URI in tests."""
    return f"{base_uri.rstrip('/')}/{table.prefix}"


def table_schema(table: TableSpec) -> StructType:
    return StructType([StructField(c.name, _parse_datatype_string(c.type)) for c in table.all_columns])


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


def _hadoop_path(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def read_table(spark: SparkSession, base_uri: str, table: TableSpec) -> DataFrame | None:
    """The table as written so far, typed as the catalog declares it; None before its first write."""
    uri = table_uri(base_uri, table)
    path, filesystem = _hadoop_path(spark, uri)
    if not filesystem.exists(path):
        return None
    return spark.read.schema(table_schema(table)).option("basePath", uri).parquet(uri)


def partition_uri(spark: SparkSession, base_uri: str, table: TableSpec, partition: Partition) -> str:
    """The directory Spark writes a partition to, values escaped by Spark's own escaping."""
    utils = spark.sparkContext._jvm.org.apache.spark.sql.catalyst.catalog.ExternalCatalogUtils
    parts = (
        f"{column.name}={utils.escapePathName(HIVE_NULL if value is None else str(value))}"
        for column, value in zip(table.partition_keys, partition, strict=True)
    )
    return table_uri(base_uri, table) + "/".join(parts)


@dataclass(frozen=True)
class Merge:
    """The full content of every partition a batch touches; `affected` is None for a first write."""

    rows: DataFrame
    affected: frozenset[Partition] | None


def partitions_of(frame: DataFrame, table: TableSpec) -> set[Partition]:
    """Distinct partition values of a frame (a handful per batch: collected on the driver)."""
    keys = [c.name for c in table.partition_keys]
    return {tuple(row) for row in frame.select(*keys).distinct().collect()}


def merge_by_key(existing: DataFrame | None, batch: DataFrame, table: TableSpec, key: str) -> Merge:
    """New rows win over stored rows with the same key; stored rows of untouched partitions stay put.

    A row whose key moves to another partition (a customer who changed state) leaves its old
    partition: that partition is rewritten too, or removed when nothing is left in it.
    """
    if existing is None:
        return Merge(rows=batch, affected=None)
    keys = [c.name for c in table.partition_keys]
    superseded = existing.join(batch.select(key), key, "left_semi")
    affected = partitions_of(batch.select(*keys).unionByName(superseded.select(*keys)), table)
    in_affected = F.lit(False)
    for partition in affected:
        match = F.lit(True)
        for name, value in zip(keys, partition, strict=True):
            match = match & (F.col(name).isNull() if value is None else (F.col(name) == F.lit(value)))
        in_affected = in_affected | match
    kept = existing.filter(in_affected).join(batch.select(key), key, "left_anti")
    return Merge(rows=kept.unionByName(batch.select(*existing.columns)), affected=frozenset(affected))


def replace_partitions(spark: SparkSession, merge: Merge, base_uri: str, table: TableSpec) -> DataFrame:
    """Write a merge: its partitions replaced, partitions it emptied removed. Returns the written rows.

    The rows are materialised first (a local checkpoint), because they are computed from the very
    files the overwrite replaces.
    """
    rows = merge.rows.localCheckpoint(eager=True)
    write_table(rows, base_uri, table)
    if merge.affected:
        emptied = sorted(merge.affected - partitions_of(rows, table), key=str)
        delete_partitions(spark, base_uri, table, emptied)
    return rows


def delete_partitions(spark: SparkSession, base_uri: str, table: TableSpec, partitions: Sequence[Partition]) -> None:
    for partition in partitions:
        path, filesystem = _hadoop_path(spark, partition_uri(spark, base_uri, table, partition))
        filesystem.delete(path, True)


def write_object(spark: SparkSession, uri: str, text: str) -> None:
    """One small UTF-8 object (replaced if present), through the same filesystem Spark writes with."""
    path, filesystem = _hadoop_path(spark, uri)
    stream = filesystem.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()
