-- Orders per hour by status over the last day, from the order events the platform's bus delivers to raw/events/.
-- Parameters: window start, window end (ISO-8601 UTC such as 2024-01-15T10:00:00Z; start inclusive, end exclusive).
-- EventBridge delivers at least once: an order counts once per hour and status however often its event arrived.
WITH bounds AS (
    SELECT CAST(? AS VARCHAR) AS start_time, CAST(? AS VARCHAR) AS end_time
)
SELECT
    substr(e.time, 1, 13) || ':00:00Z' AS hour,
    COALESCE(e.detail.status, e."detail-type") AS status,
    COUNT(DISTINCT e.detail.orderid) AS orders
FROM raw_events AS e
CROSS JOIN bounds AS b
WHERE e.event_source IN ('ecommerce.orders', 'ecommerce.payments', 'ecommerce.fulfillment')
    AND e.event_date BETWEEN substr(b.start_time, 1, 10) AND substr(b.end_time, 1, 10)
    AND e.time >= b.start_time
    AND e.time < b.end_time
GROUP BY 1, 2
ORDER BY 1, 2
