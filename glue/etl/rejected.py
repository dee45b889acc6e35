"""Rejected rows as a table (`rejected/rows/entity=<feed>/batch=<digest>/`), not only a count in a log.

A batch is identified by the digest of the input objects it read, so a retried run (the same
bookmarked objects) replaces its own rejected rows instead of adding them twice, and two runs over
different objects never overwrite each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

from glue.etl.quality import RECORD, REJECTION, conform, raw_record
from glue.etl.tables import REJECTED_ROWS, SOURCE_FILE, RawEntity

BATCH_DIGEST_LENGTH = 16


def batch_id(source_files: Sequence[str]) -> str:
    """Digest of the set of input objects: the same objects give the same batch, in any order."""
    digest = hashlib.sha256()
    for name in sorted(set(source_files)):
        digest.update(name.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:BATCH_DIGEST_LENGTH]


def source_files(frame: DataFrame) -> list[str]:
    """The distinct input objects of a raw frame (a handful per run: collected on the driver)."""
    return [row[SOURCE_FILE] for row in frame.select(SOURCE_FILE).distinct().collect()]


def rejected_rows(checked: DataFrame, entity: RawEntity, batch: str) -> DataFrame:
    """The rejected rows of a checked raw frame in the layout of the `rejected_rows` table.

    `record` is the raw row as delivered: taken from the frame's `record` column when the transform
    kept one (after it re-typed the fields), else built from the feed's raw fields.
    """
    record = F.col(RECORD) if RECORD in checked.columns else raw_record(entity.fields)
    rows = checked.filter(F.col(REJECTION).isNotNull()).select(
        F.col(REJECTION),
        record.alias(RECORD),
        F.col(SOURCE_FILE),
        F.lit(entity.name).alias("entity"),
        F.lit(batch).alias("batch"),
    )
    return conform(rows, REJECTED_ROWS)
