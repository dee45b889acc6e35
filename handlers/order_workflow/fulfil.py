"""FulfilOrder task: commit the reservation of a paid order and announce `Order Fulfilled`."""

from __future__ import annotations

from typing import Any

from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.store import fulfil

log = get_logger(__name__)


@runtime.task
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input `{"orderId"}`; output `{"status": "FULFILLED", "newlyFulfilled": bool}`. Idempotent: a retry
    after the commit re-announces (consumers de-duplicate) and changes nothing else. FulfilmentFailed
    (the order cannot be shipped) is the business outcome the state machine refunds and releases on."""
    order_id = runtime.order_id_of(event)
    settings = runtime.settings()
    newly = fulfil(
        runtime.client("dynamodb"), settings.orders_table, settings.inventory_table, order_id, runtime.utc_now()
    )
    runtime.publish(
        runtime.client("events"),
        settings.event_bus_name,
        runtime.FULFILMENT_SOURCE,
        runtime.ORDER_FULFILLED,
        {"orderId": order_id, "status": "fulfilled"},
    )
    log.info("order fulfilled", extra={"orderId": order_id, "newlyFulfilled": newly})
    return {"status": "FULFILLED", "newlyFulfilled": newly}
