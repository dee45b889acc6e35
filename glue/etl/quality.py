"""Shared by the transforms: rejected rows carry a reason and are counted; outputs match their table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

from glue.etl.tables import SOURCE_FILE, SOURCE_MODIFIED, TableSpec

REJECTION = "rejection_reason"
RECORD = "record"
SOURCE_COLUMNS = (SOURCE_FILE, SOURCE_MODIFIED)
LINE = "_line"


@dataclass(frozen=True)
class QualityReport:
    """How many rows of one input passed, and how many were rejected for each reason."""

    entity: str
    total: int
    passed: int
    rejected: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, object]:
        """Row counts as the orchestration announces them."""
        return {
            "read": self.total,
            "accepted": self.passed,
            "rejected": sum(self.rejected.values()),
            "rejectedByReason": dict(sorted(self.rejected.items())),
        }

    def summary(self) -> str:
        reasons = ", ".join(f"{reason}={count}" for reason, count in sorted(self.rejected.items()))
        return f"{self.entity}: {self.passed}/{self.total} rows passed validation" + (
            f"; rejected: {reasons}" if reasons else ""
        )


def first_failure(checks: Sequence[tuple[Column, str]]) -> Column:
    """The reason of the first failed check (checks are `(failed_condition, reason)`), else null."""
    expression = F.lit(None).cast("string")
    for failed, reason in reversed(checks):
        expression = F.when(failed, F.lit(reason)).otherwise(expression)
    return expression


def quality_report(entity: str, checked: DataFrame) -> QualityReport:
    """Count passed and rejected rows of a frame carrying `rejection_reason`, in one Spark job."""
    counts = {row[REJECTION]: row["count"] for row in checked.groupBy(REJECTION).count().collect()}
    passed = counts.pop(None, 0)
    return QualityReport(entity=entity, total=passed + sum(counts.values()), passed=passed, rejected=counts)


def blank(column: str) -> Column:
    """Null, or only whitespace: CSV readers give either for an empty cell."""
    return F.col(column).isNull() | (F.trim(F.col(column).cast("string")) == "")


def iso_date(column: str) -> Column:
    """`yyyy-MM-dd` parsed strictly; null for anything else, never an error.

    `to_date(col, fmt)` raises SparkUpgradeException on strings such as `2024-3-5` under the default
    `timeParserPolicy`; the shape check plus `try_cast` is independent of that session setting (and of
    ANSI mode) and turns impossible days such as `2024-02-30` into null.
    """
    text = F.trim(F.col(column).cast("string"))
    return F.when(text.rlike(r"^\d{4}-\d{2}-\d{2}$"), try_cast(column, "date"))


def try_cast(column: str, type_name: str) -> Column:
    """Cast that yields null for unparseable values even when ANSI mode is on."""
    return F.expr(f"try_cast(trim(cast(`{column}` as string)) as {type_name})")


def conform(frame: DataFrame, table: TableSpec) -> DataFrame:
    """Exactly the table's columns, in its order, cast to its catalog types."""
    return frame.select(*(F.col(c.name).cast(c.type).alias(c.name) for c in table.all_columns))


def missing_fields(frame: DataFrame, fields: Sequence[str]) -> list[str]:
    """Fields a feed must have that the frame lacks (a renamed CSV header fails loudly, not as nulls)."""
    present = set(frame.columns)
    return [name for name in fields if name not in present]


def with_line_order(raw: DataFrame) -> DataFrame:
    """Tag each raw row with its read order, the tie-break between rows of one object.

    Call it on the frame as read: Spark numbers rows of one file split in file order.
    """
    return raw.withColumn(LINE, F.monotonically_increasing_id())


def newest_first(frame: DataFrame) -> list[Column]:
    """Ordering that puts the latest delivery first: the object written last, then the later line.

    `source_modified` may arrive as a timestamp or as epoch milliseconds; either casts to a number
    that grows with time. Objects written in the same instant fall back to the object name (the
    generators and Firehose put a UTC timestamp in it).
    """
    missing = missing_fields(frame, SOURCE_COLUMNS)
    if missing:
        raise ValueError(f"cannot tell the latest row without the columns {missing} that every raw read adds")
    order = [
        F.expr(f"try_cast(`{SOURCE_MODIFIED}` as bigint)").desc_nulls_last(),
        F.col(SOURCE_FILE).desc_nulls_last(),
    ]
    if LINE in frame.columns:
        order.append(F.col(LINE).desc())
    return order


def latest_per_key(frame: DataFrame, key: str) -> DataFrame:
    """One row per key, the latest delivered: a feed delivered twice or corrected keeps its newest row."""
    ranked = frame.withColumn("_rank", F.row_number().over(Window.partitionBy(key).orderBy(*newest_first(frame))))
    return ranked.filter(F.col("_rank") == 1).drop("_rank")


def raw_record(fields: Sequence[str]) -> Column:
    """The raw row as JSON with every field as delivered (nulls kept), for the rejected-rows table."""
    record = F.struct(*(F.col(name).cast("string").alias(name) for name in fields))
    return F.to_json(record, {"ignoreNullFields": "false"})
