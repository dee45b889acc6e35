"""Small hand-checked raw feeds: every row's fate (and every aggregate) is worked out in the tests."""

from __future__ import annotations

from glue.etl.tables import RAW_CUSTOMERS, RAW_PRODUCTS, RAW_TRANSACTIONS

CUSTOMER_FIELDS = RAW_CUSTOMERS.fields
PRODUCT_FIELDS = RAW_PRODUCTS.fields
TRANSACTION_FIELDS = RAW_TRANSACTIONS.fields

# customer_id, first_name, last_name, email, age, city, state, registration_date
CUSTOMERS: list[tuple[str | None, ...]] = [
    ("C1", "Zoë", "Müller", "zoe@Example.COM", "23", "New York", "ny", "2023-05-17"),
    ("C2", "José", "García", "jose@mail.es", "25", "San José", "CA", "2022-11-30"),
    ("", "No", "Id", "noid@example.com", "40", "Austin", "TX", "2023-01-01"),
    (None, "Null", "Id", "null@example.com", "40", "Austin", "TX", "2023-01-01"),
    ("C4", "Łukasz", "Nowak", "lukasz.example.com", "30", "Chicago", "IL", "2023-01-01"),
    ("C5", "李", None, "li@mail.cn", "65", "Los Angeles", "CA", "2024-02-30"),
    ("C6", "Ann", "Lee", " ann@B.org ", "abc", "Austin", None, "2022-01-01"),
    ("C7", "Kid", "Young", "kid@x.io", "16", "Houston", "TX", "2021-06-01"),
    ("C8", "No", "Mail", None, "50", "Phoenix", "AZ", "2021-06-01"),
    ("C9", "Edge", "Case", "edge@x.io", "64", "Tucson", "AZ", "2020-02-29"),
]

# product_id, product_name, category, brand, cost, retail_price, stock_quantity
PRODUCTS: list[tuple[str | None, ...]] = [
    ("P1", "Laptop", "Electronics", "BrandA", "700.00", "1000.00", "5"),
    ("P1", "Laptop", "Electronics", "BrandA", "700.00", "1000.00", "5"),
    ("P2", "Novel", "Books", "BrandB", "5.00", "15.50", "100"),
    ("P3", "Phone", "Electronics", "BrandC", "300.00", "600.00", "20"),
]

# transaction_id, customer_id, product_id, quantity, price, transaction_date, payment_method
TRANSACTIONS: list[tuple[str | None, ...]] = [
    ("T1", "C1", "P1", "1", "1000.00", "2024-01-15", "credit_card"),
    ("T2", "C1", "P2", "2", "15.50", "2024-01-15", "paypal"),
    ("T3", "C2", "P3", "1", "600.00", "2024-01-20", "debit_card"),
    ("T4", "C2", "P2", "3", "12.00", "2024-02-01", "paypal"),
    ("T5", "C1", "P3", "2", "550.00", "2024-02-10", "apple_pay"),
    ("T6", "C2", "P1", "1", "999.99", "2024-01-15", "credit_card"),
    ("T1", "C1", "P1", "1", "1000.00", "2024-01-15", "credit_card"),
    ("", "C1", "P1", "1", "1.00", "2024-01-15", "paypal"),
    ("T7", "C1", "P1", "1", "1.00", "2024-13-01", "paypal"),
    ("T14", "C1", "P1", "1", "1.00", "2024-3-5", "paypal"),
    ("T8", "C1", "P1", "-1", "1.00", "2024-01-15", "paypal"),
    ("T9", "C1", "P1", "2.5", "1.00", "2024-01-15", "paypal"),
    ("T10", "C1", "P1", "1", "-5.00", "2024-01-15", "paypal"),
    ("T11", "C1", "P9", "1", "1.00", "2024-01-15", "paypal"),
    ("T12", "C99", "P1", "1", "1.00", "2024-01-15", "paypal"),
    ("T13", None, "P1", "1", "1.00", "2024-01-15", "paypal"),
]
