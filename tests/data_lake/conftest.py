"""Fixtures of the DataLake tests: one local Spark session for the whole run, and small datasets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType


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
    """A frame as a CSV reader delivers it: every column a nullable string."""
    schema = StructType([StructField(name, StringType(), True) for name in fields])
    return spark.createDataFrame([tuple(row) for row in rows], schema)
