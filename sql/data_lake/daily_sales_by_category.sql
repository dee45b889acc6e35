-- Daily sales per category for one month, day by day.
-- Parameters: year, month.
SELECT
    sale_date,
    category,
    transactions,
    units,
    revenue,
    customers
FROM daily_category_sales
WHERE year = ? AND month = ?
ORDER BY sale_date, category
