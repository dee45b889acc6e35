-- Customer segments: how many distinct validated customers per state and age group.
SELECT
    state,
    age_group,
    COUNT(DISTINCT customer_id) AS customers,
    COUNT(DISTINCT email_domain) AS email_domains
FROM customers
GROUP BY state, age_group
ORDER BY state, age_group
