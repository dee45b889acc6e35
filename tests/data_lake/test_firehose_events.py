"""The events path: EventBridge events partitioned as Firehose partitions them (the real JQ query on
libjq), written as Firehose writes them (GZIP, one JSON event per line), queried by the named query
in DuckDB over the Hive-style folders the crawler catalogs."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import jq
import pytest

from components.data_lake import firehose
from components.data_lake.queries import EVENTS_QUERIES_DIR, named_queries

QUERY = {query.name: query for query in named_queries(EVENTS_QUERIES_DIR)}["orders_per_hour_by_status"]


def event(event_id: str, time: str, source: str, detail_type: str, **detail: Any) -> dict[str, Any]:
    """An EventBridge envelope as the OrderWorkflow bus delivers it to a Firehose target."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": time,
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }


EVENTS = [
    event("e1", "2024-01-15T09:59:59Z", "ecommerce.orders", "Order Placed", orderId="O0", status="pending"),
    event("e2", "2024-01-15T10:05:00Z", "ecommerce.orders", "Order Placed", orderId="O1", status="pending"),
    event("e3", "2024-01-15T10:40:00Z", "ecommerce.orders", "Order Placed", orderId="O2", status="pending"),
    # delivered twice (at least once): still one order
    event("e3", "2024-01-15T10:40:00Z", "ecommerce.orders", "Order Placed", orderId="O2", status="pending"),
    event("e4", "2024-01-15T10:50:00Z", "ecommerce.payments", "Payment Completed", orderId="O1", status="success"),
    event("e5", "2024-01-15T23:10:00Z", "ecommerce.fulfillment", "Order Fulfilled", orderId="O1", status="fulfilled"),
    event("e6", "2024-01-16T09:30:00Z", "ecommerce.payments", "Payment Declined", orderId="O2", reason="card"),
    # the window's end is exclusive; an unrelated source on the same bus is not an order
    event("e7", "2024-01-16T10:00:00Z", "ecommerce.orders", "Order Placed", orderId="O3", status="pending"),
    event("e8", "2024-01-15T11:00:00Z", "ecommerce.inventory", "Stock Low", orderId="X", status="low"),
]


# The columns as the crawler's JSON classifier catalogs the envelope: strings (time included), detail a struct.
CRAWLED_COLUMNS = {
    "version": "VARCHAR",
    "id": "VARCHAR",
    "detail-type": "VARCHAR",
    "source": "VARCHAR",
    "account": "VARCHAR",
    "time": "VARCHAR",
    "region": "VARCHAR",
    "resources": "VARCHAR[]",
    "detail": "STRUCT(orderId VARCHAR, status VARCHAR, reason VARCHAR)",
}


def deliver(root: Path, events: list[dict[str, Any]]) -> list[str]:
    """Partition each event with the configured JQ query and prefix; one GZIP object per prefix."""
    extract = jq.compile(firehose.PARTITION_QUERY)
    batches: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in events:
        keys = extract.input_value(record).first()
        assert sorted(keys) == sorted(firehose.PARTITION_KEYS)
        batches[firehose.render_prefix(firehose.EVENTS_PREFIX, keys)].append(record)
    for prefix, records in batches.items():
        path = root / prefix / "orders-firehose-1-2024-01-16-10-00-00-abc.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(record) + "\n" for record in records)
        path.write_bytes(gzip.compress(lines.encode()))
    return sorted(batches)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("events-lake")
    prefixes = deliver(root, EVENTS)
    connection = duckdb.connect()
    connection.execute(
        f"CREATE VIEW {firehose.EVENTS_TABLE} AS SELECT * FROM read_json("
        f"'{root}/{firehose.EVENTS_ROOT}**/*.gz', format = 'newline_delimited', columns = {CRAWLED_COLUMNS}, "
        "hive_partitioning = true, hive_types_autocast = false)"
    )
    yield connection, prefixes
    connection.close()


def test_firehose_partitions_by_source_and_event_date(lake):
    _, prefixes = lake
    assert prefixes == [
        "raw/events/event_source=ecommerce.fulfillment/event_date=2024-01-15/",
        "raw/events/event_source=ecommerce.inventory/event_date=2024-01-15/",
        "raw/events/event_source=ecommerce.orders/event_date=2024-01-15/",
        "raw/events/event_source=ecommerce.orders/event_date=2024-01-16/",
        "raw/events/event_source=ecommerce.payments/event_date=2024-01-15/",
        "raw/events/event_source=ecommerce.payments/event_date=2024-01-16/",
    ]
    assert not firehose.EVENTS_ERROR_PREFIX.startswith(firehose.EVENTS_ROOT), "errors must not be crawled as events"


def test_firehose_orders_per_hour_by_status_over_the_last_day(lake):
    connection, _ = lake
    assert QUERY.parameter_count == 2
    rows = connection.execute(QUERY.sql, ["2024-01-15T10:00:00Z", "2024-01-16T10:00:00Z"]).fetchall()
    assert rows == [
        ("2024-01-15T10:00:00Z", "pending", 2),
        ("2024-01-15T10:00:00Z", "success", 1),
        ("2024-01-15T23:00:00Z", "fulfilled", 1),
        ("2024-01-16T09:00:00Z", "Payment Declined", 1),
    ]


def test_firehose_prefix_names_a_missing_partition_key():
    with pytest.raises(ValueError, match=r"partition keys \['event_date'\] not extracted"):
        firehose.render_prefix(firehose.EVENTS_PREFIX, {"event_source": "ecommerce.orders"})
