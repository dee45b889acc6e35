"""Customer transform: validate raw customers and derive the attributes analysts segment by."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

from glue.etl.quality import (
    LINE,
    REJECTION,
    SOURCE_COLUMNS,
    QualityReport,
    blank,
    conform,
    first_failure,
    iso_date,
    latest_per_key,
    quality_report,
    try_cast,
    with_line_order,
)
from glue.etl.tables import (
    AGE_GROUPS,
    CUSTOMERS,
    RAW_CUSTOMERS,
    UNDER_AGE_GROUP,
    UNKNOWN,
)

MISSING_CUSTOMER_ID = "missing customer_id"
EMAIL_WITHOUT_AT = "email without @"

# Lower bound of each age group, in order; the last group is open-ended.
_AGE_GROUP_FLOORS = tuple(zip((18, 25, 35, 45, 55, 65), AGE_GROUPS, strict=True))


@dataclass(frozen=True)
class CustomerBatch:
    """The customers that passed validation (in the table's layout) and those that did not."""

    valid: DataFrame
    rejected: DataFrame
    checked: DataFrame

    def report(self) -> QualityReport:
        return quality_report(RAW_CUSTOMERS.name, self.checked)


def age_group(age: Column) -> Column:
    """18-24, 25-34, 35-44, 45-54, 55-64, 65+; `under-18` below and `unknown` when age is null."""
    expression = F.when(age.isNull(), F.lit(UNKNOWN)).when(age < 18, F.lit(UNDER_AGE_GROUP))
    for floor, label in reversed(_AGE_GROUP_FLOORS):
        expression = expression.when(age >= floor, F.lit(label))
    return expression


def full_name(first_name: str = "first_name", last_name: str = "last_name") -> Column:
    """First and last name joined by one space; null when both are missing."""
    parts = [F.trim(F.col(c).cast("string")) for c in (first_name, last_name)]
    return F.nullif(F.concat_ws(" ", *parts), F.lit(""))


def state_code(column: str = "state") -> Column:
    """Upper-cased state; `unknown` when missing, so no row lands in a null partition."""
    state = F.upper(F.trim(F.col(column).cast("string")))
    return F.when(state.isNull() | (state == ""), F.lit(UNKNOWN)).otherwise(state)


def check_customers(raw: DataFrame) -> DataFrame:
    """Raw customers with `rejection_reason` set (null when the row is valid)."""
    email = F.trim(F.col("email").cast("string"))
    return raw.withColumn(
        REJECTION,
        first_failure(
            [
                (blank("customer_id"), MISSING_CUSTOMER_ID),
                (email.isNull() | ~email.contains("@"), EMAIL_WITHOUT_AT),
            ]
        ),
    )


def derive_customer_attributes(valid: DataFrame) -> DataFrame:
    """full_name, age_group, registration_year, email_domain and clean partition values."""
    first = F.trim(F.col("first_name").cast("string"))
    last = F.trim(F.col("last_name").cast("string"))
    email = F.trim(F.col("email").cast("string"))
    age = try_cast("age", "int")
    registered = iso_date("registration_date")
    return valid.select(
        *SOURCE_COLUMNS,
        LINE,
        F.trim(F.col("customer_id").cast("string")).alias("customer_id"),
        first.alias("first_name"),
        last.alias("last_name"),
        full_name().alias("full_name"),
        email.alias("email"),
        F.lower(F.substring_index(email, "@", -1)).alias("email_domain"),
        age.alias("age"),
        F.trim(F.col("city").cast("string")).alias("city"),
        registered.alias("registration_date"),
        F.year(registered).alias("registration_year"),
        state_code().alias("state"),
        age_group(age).alias("age_group"),
    )


def transform_customers(raw: DataFrame) -> CustomerBatch:
    """Drop rows without customer_id or with an email lacking `@`; derive the rest.

    A customer delivered more than once (a re-sent file, a corrected address) keeps only its latest
    valid row: validation first, so a bad newer copy is rejected without losing the good older one.
    """
    checked = check_customers(with_line_order(raw))
    derived = derive_customer_attributes(checked.filter(F.col(REJECTION).isNull()))
    valid = conform(latest_per_key(derived, "customer_id"), CUSTOMERS)
    rejected = checked.filter(F.col(REJECTION).isNotNull())
    return CustomerBatch(valid=valid, rejected=rejected, checked=checked)
