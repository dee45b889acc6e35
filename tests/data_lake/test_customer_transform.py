"""Customer transform on local Spark: validation, derived attributes and the written layout."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from glue.etl import customers as etl
from glue.etl.output import write_table
from glue.etl.tables import CUSTOMERS
from tests.data_lake.conftest import csv_frame
from tests.data_lake.datasets import CUSTOMER_FIELDS
from tests.data_lake.datasets import CUSTOMERS as RAW_ROWS


@pytest.fixture(scope="module")
def batch(spark):
    customers = etl.transform_customers(csv_frame(spark, CUSTOMER_FIELDS, RAW_ROWS))
    customers.checked.persist()
    return customers


@pytest.fixture(scope="module")
def valid_by_id(batch):
    return {row["customer_id"]: row.asDict() for row in batch.valid.collect()}


def test_rows_without_id_or_at_sign_are_rejected_and_counted(batch):
    report = batch.report()
    assert report.total == 10
    assert report.passed == 6
    assert report.rejected == {etl.MISSING_CUSTOMER_ID: 2, etl.EMAIL_WITHOUT_AT: 2}
    assert report.summary() == (
        "customers: 6/10 rows passed validation; rejected: email without @=2, missing customer_id=2"
    )
    rejected_ids = sorted(str(row["customer_id"]) for row in batch.rejected.collect())
    assert rejected_ids == ["C4", "C8", "None", "None"]


def test_derived_attributes_of_a_unicode_customer(valid_by_id):
    assert valid_by_id["C1"] == {
        "customer_id": "C1",
        "first_name": "Zoë",
        "last_name": "Müller",
        "full_name": "Zoë Müller",
        "email": "zoe@Example.COM",
        "email_domain": "example.com",
        "age": 23,
        "city": "New York",
        "registration_date": date(2023, 5, 17),
        "registration_year": 2023,
        "state": "NY",
        "age_group": "18-24",
    }


@pytest.mark.parametrize(
    ("customer", "expected"),
    [("C1", "18-24"), ("C2", "25-34"), ("C9", "55-64"), ("C5", "65+"), ("C7", "under-18"), ("C6", "unknown")],
)
def test_age_groups_at_their_boundaries(valid_by_id, customer, expected):
    assert valid_by_id[customer]["age_group"] == expected


def test_unparseable_values_become_null_not_errors(valid_by_id):
    li = valid_by_id["C5"]
    assert (li["full_name"], li["registration_date"], li["registration_year"]) == ("李", None, None)
    ann = valid_by_id["C6"]
    assert (ann["age"], ann["state"], ann["email"], ann["email_domain"]) == (None, "unknown", "ann@B.org", "b.org")
    assert valid_by_id["C9"]["registration_date"] == date(2020, 2, 29)


def test_output_columns_match_the_catalog_table(batch):
    assert [(f.name, f.dataType.simpleString()) for f in batch.valid.schema.fields] == [
        (c.name, c.type) for c in CUSTOMERS.all_columns
    ]


def test_written_as_snappy_parquet_partitioned_by_state_and_age_group(spark, batch, tmp_path: Path):
    write_table(batch.valid, tmp_path.as_uri(), CUSTOMERS)
    root = tmp_path / "processed" / "customers"
    files = sorted(p.relative_to(root).parent.as_posix() for p in root.rglob("*.parquet"))
    assert files == [
        "state=AZ/age_group=55-64",
        "state=CA/age_group=25-34",
        "state=CA/age_group=65+",
        "state=NY/age_group=18-24",
        "state=TX/age_group=under-18",
        "state=unknown/age_group=unknown",
    ]
    metadata = pq.ParquetFile(next(root.rglob("*.parquet"))).metadata
    assert metadata.row_group(0).column(0).compression == "SNAPPY"
