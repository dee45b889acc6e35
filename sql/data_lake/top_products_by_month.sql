-- Best-selling products of one month by revenue (ties share a rank).
-- Parameters: year, month.
SELECT
    sales_rank,
    product_id,
    product_name,
    category,
    units,
    revenue
FROM top_products_monthly
WHERE year = ? AND month = ?
ORDER BY sales_rank, product_id
