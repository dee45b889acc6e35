-- Monthly category report: revenue, units and transactions per product category for one month.
-- Parameters: year, month.
SELECT
    category,
    SUM(transactions) AS transactions,
    SUM(units) AS units,
    SUM(revenue) AS revenue
FROM daily_category_sales
WHERE year = ? AND month = ?
GROUP BY category
ORDER BY revenue DESC, category
