"""The tables of the lake, defined once: Spark conforms its output to them and Pulumi catalogs them.

Column types are Hive DDL type names, which Spark's `cast` accepts too, so the Parquet the jobs write
and the Glue catalog tables Athena reads can never drift apart. No PySpark import here: the Pulumi
program reads these definitions without a JVM.
"""

from __future__ import annotations

from dataclasses import dataclass

RAW_PREFIX = "raw/"
PROCESSED_PREFIX = "processed/"
# Rows a job could not accept, with the reason and the raw record, as a table of their own.
REJECTED_PREFIX = "rejected/"
# Crawled raw tables are named `raw_<entity>` so they never collide with the processed tables.
RAW_TABLE_PREFIX = "raw_"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str


# Columns every raw read adds (Glue's `attachFilename` / `attachTimestamp` S3 options): which object a
# row came from and when that object was written, so "the latest delivery wins" means exactly that.
SOURCE_FILE = "source_file"
SOURCE_MODIFIED = "source_modified"


@dataclass(frozen=True)
class TableSpec:
    """A table the jobs write: Snappy Parquet under `<zone><path>/`, Hive-style partitions."""

    name: str
    path: str
    description: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    zone: str = PROCESSED_PREFIX

    @property
    def prefix(self) -> str:
        """Key prefix of the table's data in the processed bucket."""
        return f"{self.zone}{self.path}/"

    @property
    def all_columns(self) -> tuple[Column, ...]:
        """Data columns then partition columns: the order Spark writes and Athena exposes."""
        return self.columns + self.partition_keys


@dataclass(frozen=True)
class RawEntity:
    """A CSV feed landing under `raw/<name>/`, crawled into the table `raw_<name>`."""

    name: str
    fields: tuple[str, ...]

    @property
    def prefix(self) -> str:
        return f"{RAW_PREFIX}{self.name}/"

    @property
    def table(self) -> str:
        return f"{RAW_TABLE_PREFIX}{self.name}"


RAW_CUSTOMERS = RawEntity(
    "customers",
    ("customer_id", "first_name", "last_name", "email", "age", "city", "state", "registration_date"),
)
RAW_TRANSACTIONS = RawEntity(
    "transactions",
    ("transaction_id", "customer_id", "product_id", "quantity", "price", "transaction_date", "payment_method"),
)
RAW_PRODUCTS = RawEntity(
    "products",
    ("product_id", "product_name", "category", "brand", "cost", "retail_price", "stock_quantity"),
)
RAW_ENTITIES: tuple[RawEntity, ...] = (RAW_CUSTOMERS, RAW_TRANSACTIONS, RAW_PRODUCTS)

AGE_GROUPS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
# Ages the source cannot vouch for still land in a partition, never in a null one.
UNDER_AGE_GROUP = "under-18"
UNKNOWN = "unknown"

CUSTOMERS = TableSpec(
    name="customers",
    path="customers",
    description="Validated customers with derived attributes, partitioned by state and age group.",
    columns=(
        Column("customer_id", "string", "Customer identifier from the source system."),
        Column("first_name", "string", "Given name as delivered (unicode kept)."),
        Column("last_name", "string", "Family name as delivered (unicode kept)."),
        Column("full_name", "string", "First and last name joined by one space."),
        Column("email", "string", "Email address as delivered, trimmed."),
        Column("email_domain", "string", "Lower-cased part after the last @."),
        Column("age", "int", "Age in years; null when the source value is not a whole number."),
        Column("city", "string", "City."),
        Column("registration_date", "date", "Registration day; null when not an ISO date."),
        Column("registration_year", "int", "Year of registration_date."),
    ),
    partition_keys=(
        Column("state", "string", "State code, upper-cased; 'unknown' when missing."),
        Column("age_group", "string", "18-24 ... 65+, 'under-18' or 'unknown'."),
    ),
)

DAILY_CATEGORY_SALES = TableSpec(
    name="daily_category_sales",
    path="sales/daily_category_sales",
    description="Sales per day and product category.",
    columns=(
        Column("sale_date", "date", "Transaction day."),
        Column("category", "string", "Product category."),
        Column("transactions", "bigint", "Number of valid transactions."),
        Column("units", "bigint", "Units sold."),
        Column("revenue", "decimal(18,2)", "Sum of quantity * price."),
        Column("customers", "bigint", "Distinct customers who bought."),
    ),
    partition_keys=(
        Column("year", "int", "Year of sale_date."),
        Column("month", "int", "Month of sale_date (1-12)."),
    ),
)

MONTHLY_CUSTOMER_REVENUE = TableSpec(
    name="monthly_customer_revenue",
    path="sales/monthly_customer_revenue",
    description="Revenue per customer and month.",
    columns=(
        Column("customer_id", "string", "Customer identifier."),
        Column("full_name", "string", "Customer's full name."),
        Column("state", "string", "Customer's state; 'unknown' when missing."),
        Column("transactions", "bigint", "Number of valid transactions."),
        Column("units", "bigint", "Units bought."),
        Column("revenue", "decimal(18,2)", "Sum of quantity * price."),
        Column("first_purchase", "date", "First purchase day in the month."),
        Column("last_purchase", "date", "Last purchase day in the month."),
    ),
    partition_keys=DAILY_CATEGORY_SALES.partition_keys,
)

TOP_PRODUCTS_MONTHLY = TableSpec(
    name="top_products_monthly",
    path="sales/top_products_monthly",
    description="Best-selling products per month by revenue (rank 1 = highest).",
    columns=(
        Column("sales_rank", "int", "Rank by revenue within the month; ties share a rank."),
        Column("product_id", "string", "Product identifier."),
        Column("product_name", "string", "Product name."),
        Column("category", "string", "Product category."),
        Column("units", "bigint", "Units sold."),
        Column("revenue", "decimal(18,2)", "Sum of quantity * price."),
    ),
    partition_keys=DAILY_CATEGORY_SALES.partition_keys,
)

# Every valid transaction once, enriched: the history the monthly aggregates are recomputed from, so
# no job ever re-reads raw/ transactions it has already processed (raw objects age into colder classes).
TRANSACTIONS = TableSpec(
    name="transactions",
    path="sales/transactions",
    description="Every accepted transaction once, with its product and customer attributes.",
    columns=(
        Column("transaction_id", "string", "Transaction identifier, unique in the table."),
        Column("customer_id", "string", "Customer identifier."),
        Column("product_id", "string", "Product identifier."),
        Column("quantity", "int", "Units bought (positive)."),
        Column("price", "decimal(10,2)", "Unit price."),
        Column("total_amount", "decimal(12,2)", "quantity * price."),
        Column("sale_date", "date", "Transaction day."),
        Column("payment_method", "string", "Payment method as delivered."),
        Column("product_name", "string", "Product name at processing time."),
        Column("category", "string", "Product category at processing time."),
        Column("full_name", "string", "Customer's full name at processing time."),
        Column("state", "string", "Customer's state at processing time; 'unknown' when missing."),
    ),
    partition_keys=DAILY_CATEGORY_SALES.partition_keys,
)

REJECTED_ROWS = TableSpec(
    name="rejected_rows",
    path="rows",
    zone=REJECTED_PREFIX,
    description="Raw rows a job rejected, with the reason and the whole record; one batch per set of input files.",
    columns=(
        Column("rejection_reason", "string", "Why the row was not accepted."),
        Column("record", "string", "The raw row as JSON, every field as delivered."),
        Column("source_file", "string", "The raw object the row came from."),
    ),
    partition_keys=(
        Column("entity", "string", "The raw feed: customers, transactions, products."),
        Column("batch", "string", "Digest of the batch's input files: a retried run replaces its own rows."),
    ),
)

SALES_TABLES: tuple[TableSpec, ...] = (DAILY_CATEGORY_SALES, MONTHLY_CUSTOMER_REVENUE, TOP_PRODUCTS_MONTHLY)
PROCESSED_TABLES: tuple[TableSpec, ...] = (CUSTOMERS, TRANSACTIONS, *SALES_TABLES, REJECTED_ROWS)
# Tables partitioned by year/month: Athena projects their partitions. The others' partitions are
# registered by the processed-tables crawler the refresh runs after the jobs.
MONTHLY_TABLES: tuple[TableSpec, ...] = (TRANSACTIONS, *SALES_TABLES)
CRAWLED_TABLES: tuple[TableSpec, ...] = (CUSTOMERS, REJECTED_ROWS)

# Each job run writes its row counts to `runs/<execution>/<job>.json` in the processed bucket when
# the orchestration passes `--run-summary-key`; the orchestration announces them.
RUN_SUMMARY_PREFIX = "runs/"
