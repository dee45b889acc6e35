-- The ten customers with the highest revenue in one month.
-- Parameters: year, month.
SELECT
    customer_id,
    full_name,
    state,
    transactions,
    revenue
FROM monthly_customer_revenue
WHERE year = ? AND month = ?
ORDER BY revenue DESC, customer_id
LIMIT 10
