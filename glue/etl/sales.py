"""Sales aggregation: transactions joined with products and customers, aggregated per month.

The article's script stops after parsing dates; this completes it. Every transaction either reaches
the aggregates or is rejected with a reason that the job reports: missing ids, unparseable dates,
quantities that are not positive whole numbers, negative prices, duplicates, and ids unknown to the
product or customer feeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

from glue.etl.customers import full_name, state_code
from glue.etl.quality import (
    LINE,
    RECORD,
    REJECTION,
    SOURCE_COLUMNS,
    QualityReport,
    blank,
    conform,
    first_failure,
    iso_date,
    latest_per_key,
    newest_first,
    quality_report,
    raw_record,
    try_cast,
    with_line_order,
)
from glue.etl.tables import (
    DAILY_CATEGORY_SALES,
    MONTHLY_CUSTOMER_REVENUE,
    RAW_TRANSACTIONS,
    TOP_PRODUCTS_MONTHLY,
    TRANSACTIONS,
    UNKNOWN,
)

MISSING_TRANSACTION_ID = "missing transaction_id"
MISSING_CUSTOMER_ID = "missing customer_id"
MISSING_PRODUCT_ID = "missing product_id"
UNPARSEABLE_DATE = "unparseable transaction_date"
BAD_QUANTITY = "quantity not a positive whole number"
BAD_PRICE = "price missing or negative"
DUPLICATE = "duplicate transaction_id"
ALREADY_PROCESSED = "transaction_id accepted by an earlier run"
UNKNOWN_PRODUCT = "unknown product_id"
UNKNOWN_CUSTOMER = "unknown customer_id"

PRICE_TYPE = "decimal(10,2)"
AMOUNT_TYPE = "decimal(12,2)"
DEFAULT_TOP_PRODUCTS = 10


@dataclass(frozen=True)
class SalesBatch:
    """Valid enriched transactions, and every input transaction with its rejection reason (or null)."""

    enriched: DataFrame
    checked: DataFrame

    @property
    def rejected(self) -> DataFrame:
        return self.checked.filter(F.col(REJECTION).isNotNull())

    def report(self) -> QualityReport:
        return quality_report(RAW_TRANSACTIONS.name, self.checked)


def _text(column: str) -> Column:
    return F.trim(F.col(column).cast("string"))


def prepare_products(products: DataFrame) -> DataFrame:
    """product_id, product_name, category; one row per product, rows without an id dropped."""
    category = _text("category")
    typed = (
        with_line_order(products)
        .filter(~blank("product_id"))
        .select(
            *SOURCE_COLUMNS,
            LINE,
            _text("product_id").alias("product_id"),
            _text("product_name").alias("product_name"),
            F.when(category.isNull() | (category == ""), F.lit(UNKNOWN)).otherwise(category).alias("category"),
        )
    )
    return latest_per_key(typed, "product_id").drop(*SOURCE_COLUMNS, LINE)


def prepare_customers(customers: DataFrame) -> DataFrame:
    """customer_id, full_name, state; one row per customer, rows without an id dropped."""
    typed = (
        with_line_order(customers)
        .filter(~blank("customer_id"))
        .select(
            *SOURCE_COLUMNS,
            LINE,
            _text("customer_id").alias("customer_id"),
            full_name().alias("full_name"),
            state_code().alias("state"),
        )
    )
    return latest_per_key(typed, "customer_id").drop(*SOURCE_COLUMNS, LINE)


def parse_transactions(transactions: DataFrame) -> DataFrame:
    """Typed transactions with the reason of the first failed field check."""
    quantity = try_cast("quantity", "int")
    price = try_cast("price", PRICE_TYPE)
    sale_date = iso_date("transaction_date")
    typed = with_line_order(transactions).select(
        *SOURCE_COLUMNS,
        LINE,
        raw_record(RAW_TRANSACTIONS.fields).alias(RECORD),
        _text("transaction_id").alias("transaction_id"),
        _text("customer_id").alias("customer_id"),
        _text("product_id").alias("product_id"),
        quantity.alias("quantity"),
        price.alias("price"),
        sale_date.alias("sale_date"),
        F.col("transaction_date").cast("string").alias("transaction_date"),
        _text("payment_method").alias("payment_method"),
    )
    return typed.withColumn(
        REJECTION,
        first_failure(
            [
                (blank("transaction_id"), MISSING_TRANSACTION_ID),
                (blank("customer_id"), MISSING_CUSTOMER_ID),
                (blank("product_id"), MISSING_PRODUCT_ID),
                (F.col("sale_date").isNull(), UNPARSEABLE_DATE),
                (F.col("quantity").isNull() | (F.col("quantity") <= 0), BAD_QUANTITY),
                (F.col("price").isNull() | (F.col("price") < 0), BAD_PRICE),
            ]
        ),
    )


def check_transactions(
    transactions: DataFrame,
    products: DataFrame,
    customers: DataFrame,
    processed_ids: DataFrame | None = None,
) -> DataFrame:
    """Every transaction, joined with its product and customer, with its rejection reason (or null).

    Duplicates are decided last, among the rows that passed every other check: a copy with a bad
    date or an unknown product never displaces a good copy of the same transaction. Of several good
    copies the latest delivered is kept. `processed_ids` (the transaction_id column of the processed
    table) rejects a transaction an earlier run already accepted.
    """
    joined = (
        parse_transactions(transactions)
        .join(prepare_products(products).withColumn("_known_product", F.lit(True)), "product_id", "left")
        .join(prepare_customers(customers).withColumn("_known_customer", F.lit(True)), "customer_id", "left")
    )
    if processed_ids is None:
        joined = joined.withColumn("_processed", F.lit(None).cast("boolean"))
    else:
        earlier = processed_ids.select("transaction_id").distinct().withColumn("_processed", F.lit(True))
        joined = joined.join(earlier, "transaction_id", "left")
    reason = (
        F.when(F.col(REJECTION).isNotNull(), F.col(REJECTION))
        .when(F.col("_known_product").isNull(), F.lit(UNKNOWN_PRODUCT))
        .when(F.col("_known_customer").isNull(), F.lit(UNKNOWN_CUSTOMER))
        .when(F.col("_processed").isNotNull(), F.lit(ALREADY_PROCESSED))
    )
    checked = joined.withColumn(REJECTION, reason).drop("_known_product", "_known_customer", "_processed")
    return mark_duplicates(checked)


def mark_duplicates(checked: DataFrame) -> DataFrame:
    """Of the rows that passed every check, keep the latest copy of each transaction_id."""
    good_copies = Window.partitionBy("transaction_id", F.col(REJECTION).isNull()).orderBy(*newest_first(checked))
    occurrence = F.row_number().over(good_copies)
    return checked.withColumn(
        REJECTION,
        F.when(F.col(REJECTION).isNull() & (occurrence > 1), F.lit(DUPLICATE)).otherwise(F.col(REJECTION)),
    )


def enrich(valid: DataFrame) -> DataFrame:
    """total_amount = quantity * price (exact decimals) and the year/month partitions, in the layout
    of the processed `transactions` table (which the aggregates below also read)."""
    enriched = (
        valid.withColumn("total_amount", (F.col("quantity") * F.col("price")).cast(AMOUNT_TYPE))
        .withColumn("year", F.year("sale_date"))
        .withColumn("month", F.month("sale_date"))
    )
    return conform(enriched, TRANSACTIONS)


def transform_sales(
    transactions: DataFrame, products: DataFrame, customers: DataFrame, processed_ids: DataFrame | None = None
) -> SalesBatch:
    checked = check_transactions(transactions, products, customers, processed_ids)
    return SalesBatch(enriched=enrich(checked.filter(F.col(REJECTION).isNull())), checked=checked)


def daily_category_sales(enriched: DataFrame) -> DataFrame:
    totals = enriched.groupBy("year", "month", "sale_date", "category").agg(
        F.count("*").alias("transactions"),
        F.sum("quantity").alias("units"),
        F.sum("total_amount").alias("revenue"),
        F.countDistinct("customer_id").alias("customers"),
    )
    return conform(totals, DAILY_CATEGORY_SALES)


def monthly_customer_revenue(enriched: DataFrame) -> DataFrame:
    totals = enriched.groupBy("year", "month", "customer_id", "full_name", "state").agg(
        F.count("*").alias("transactions"),
        F.sum("quantity").alias("units"),
        F.sum("total_amount").alias("revenue"),
        F.min("sale_date").alias("first_purchase"),
        F.max("sale_date").alias("last_purchase"),
    )
    return conform(totals, MONTHLY_CUSTOMER_REVENUE)


def top_products_monthly(enriched: DataFrame, top: int = DEFAULT_TOP_PRODUCTS) -> DataFrame:
    """The `top` products of each month by revenue; ties share a rank, so a month may list more."""
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    totals = enriched.groupBy("year", "month", "product_id", "product_name", "category").agg(
        F.sum("quantity").alias("units"),
        F.sum("total_amount").alias("revenue"),
    )
    by_revenue = Window.partitionBy("year", "month").orderBy(F.col("revenue").desc())
    ranked = totals.withColumn("sales_rank", F.rank().over(by_revenue)).filter(F.col("sales_rank") <= top)
    return conform(ranked, TOP_PRODUCTS_MONTHLY)
