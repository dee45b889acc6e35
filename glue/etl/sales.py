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
    REJECTION,
    QualityReport,
    blank,
    conform,
    first_failure,
    iso_date,
    quality_report,
    try_cast,
)
from glue.etl.tables import (
    DAILY_CATEGORY_SALES,
    MONTHLY_CUSTOMER_REVENUE,
    RAW_TRANSACTIONS,
    TOP_PRODUCTS_MONTHLY,
    UNKNOWN,
)

MISSING_TRANSACTION_ID = "missing transaction_id"
MISSING_CUSTOMER_ID = "missing customer_id"
MISSING_PRODUCT_ID = "missing product_id"
UNPARSEABLE_DATE = "unparseable transaction_date"
BAD_QUANTITY = "quantity not a positive whole number"
BAD_PRICE = "price missing or negative"
DUPLICATE = "duplicate transaction_id"
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


def _latest_per_key(frame: DataFrame, key: str) -> DataFrame:
    """One row per key: a feed delivered twice must not double the join."""
    order = [F.col(c).asc_nulls_last() for c in frame.columns if c != key]
    ranked = frame.withColumn("_row", F.row_number().over(Window.partitionBy(key).orderBy(*order)))
    return ranked.filter(F.col("_row") == 1).drop("_row")


def prepare_products(products: DataFrame) -> DataFrame:
    """product_id, product_name, category; one row per product, rows without an id dropped."""
    category = _text("category")
    typed = products.filter(~blank("product_id")).select(
        _text("product_id").alias("product_id"),
        _text("product_name").alias("product_name"),
        F.when(category.isNull() | (category == ""), F.lit(UNKNOWN)).otherwise(category).alias("category"),
    )
    return _latest_per_key(typed, "product_id")


def prepare_customers(customers: DataFrame) -> DataFrame:
    """customer_id, full_name, state; one row per customer, rows without an id dropped."""
    typed = customers.filter(~blank("customer_id")).select(
        _text("customer_id").alias("customer_id"),
        full_name().alias("full_name"),
        state_code().alias("state"),
    )
    return _latest_per_key(typed, "customer_id")


def parse_transactions(transactions: DataFrame) -> DataFrame:
    """Typed transactions with the reason of the first failed field check."""
    quantity = try_cast("quantity", "int")
    price = try_cast("price", PRICE_TYPE)
    sale_date = iso_date("transaction_date")
    typed = transactions.select(
        _text("transaction_id").alias("transaction_id"),
        _text("customer_id").alias("customer_id"),
        _text("product_id").alias("product_id"),
        quantity.alias("quantity"),
        price.alias("price"),
        sale_date.alias("sale_date"),
        F.col("transaction_date").cast("string").alias("transaction_date"),
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


def mark_duplicates(parsed: DataFrame) -> DataFrame:
    """Among rows that passed the field checks, keep the first of each transaction_id."""
    valid_first = Window.partitionBy("transaction_id", F.col(REJECTION).isNull()).orderBy(
        "sale_date", "customer_id", "product_id", "quantity", "price"
    )
    occurrence = F.row_number().over(valid_first)
    return parsed.withColumn(
        REJECTION,
        F.when(F.col(REJECTION).isNull() & (occurrence > 1), F.lit(DUPLICATE)).otherwise(F.col(REJECTION)),
    )


def check_transactions(transactions: DataFrame, products: DataFrame, customers: DataFrame) -> DataFrame:
    """Every transaction, joined with its product and customer, with its rejection reason (or null)."""
    joined = (
        mark_duplicates(parse_transactions(transactions))
        .join(prepare_products(products).withColumn("_known_product", F.lit(True)), "product_id", "left")
        .join(prepare_customers(customers).withColumn("_known_customer", F.lit(True)), "customer_id", "left")
    )
    reason = (
        F.when(F.col(REJECTION).isNotNull(), F.col(REJECTION))
        .when(F.col("_known_product").isNull(), F.lit(UNKNOWN_PRODUCT))
        .when(F.col("_known_customer").isNull(), F.lit(UNKNOWN_CUSTOMER))
    )
    return joined.withColumn(REJECTION, reason).drop("_known_product", "_known_customer")


def enrich(valid: DataFrame) -> DataFrame:
    """total_amount = quantity * price (exact decimals), with the year and month partitions."""
    return (
        valid.withColumn("total_amount", (F.col("quantity") * F.col("price")).cast(AMOUNT_TYPE))
        .withColumn("year", F.year("sale_date"))
        .withColumn("month", F.month("sale_date"))
    )


def transform_sales(transactions: DataFrame, products: DataFrame, customers: DataFrame) -> SalesBatch:
    checked = check_transactions(transactions, products, customers)
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
