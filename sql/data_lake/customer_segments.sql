-- Customer segments: how many validated customers per state and age group.
SELECT
    state,
    age_group,
    COUNT(*) AS customers,
    COUNT(DISTINCT email_domain) AS email_domains
FROM customers
GROUP BY state, age_group
ORDER BY state, age_group
