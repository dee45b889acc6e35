"""ProcessPayment task (callback variant): hand the payment to the external gateway and park the token.

The state machine waits (`lambda:invoke.waitForTaskToken`) until the gateway's answer arrives as a
`Payment Completed` / `Payment Declined` event, which the lifecycle consumer turns into
SendTaskSuccess with the stored token.
"""

from __future__ import annotations

import time
from typing import Any

from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.store import get_order, store_callback_token

log = get_logger(__name__)
PAYMENT_REQUESTED = "Payment Requested"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input `{"orderId", "taskToken", "executionId"}`. The return value is ignored by Step Functions."""
    settings = runtime.settings()
    ddb = runtime.client("dynamodb")
    order_id = str(event["orderId"])
    token = event.get("taskToken")
    if not isinstance(token, str) or not token:
        raise ValueError(f"order {order_id}: taskToken missing from the task input")
    stored = get_order(ddb, settings.orders_table, order_id)
    expires_at = int(time.time()) + settings.callback_ttl_seconds
    store_callback_token(ddb, settings.callback_table, order_id, token, str(event.get("executionId", "")), expires_at)
    runtime.publish(
        runtime.client("events"),
        settings.event_bus_name,
        runtime.ORDERS_SOURCE,
        PAYMENT_REQUESTED,
        {
            "orderId": order_id,
            "amount": str(stored["totalAmount"]),
            "currency": stored["currency"],
            "paymentToken": stored["paymentToken"],
        },
    )
    log.info("payment requested", extra={"orderId": order_id})
    return {"orderId": order_id, "requested": True}
