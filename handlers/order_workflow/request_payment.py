"""ProcessPayment task (callback variant): hand the payment to the external gateway and park the token.

The state machine waits (`lambda:invoke.waitForTaskToken`) until the gateway's answer arrives as a
`Payment Completed` / `Payment Declined` event, which the lifecycle consumer turns into
SendTaskSuccess with the stored token. `Payment Requested` goes to the gateway through an
EventBridge API destination; it names the order, the amount and the payment reference, never a
card token.

When the answer is already on the order (it came after an earlier task stopped waiting, and this is
the redriven or taken-over execution asking again), the token is answered at once with it: the
gateway is not asked twice and nothing waits for an answer that will not come again.
"""

from __future__ import annotations

import json
import time
from typing import Any

from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.store import get_order, store_callback_token, stored_payment

log = get_logger(__name__)
PAYMENT_REQUESTED = "Payment Requested"


@runtime.task
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input `{"orderId", "taskToken", "executionId"}`. The return value is ignored by Step Functions."""
    order_id = runtime.order_id_of(event)
    settings = runtime.settings()
    ddb = runtime.client("dynamodb")
    token = event.get("taskToken")
    if not isinstance(token, str) or not token:
        raise runtime.MalformedTaskInput(f"order {order_id}: taskToken missing from the task input")
    stored = get_order(ddb, settings.orders_table, order_id)
    answered = stored_payment(stored)
    if answered is not None:
        output = {"status": answered.status, "transactionId": answered.transaction_id, "reason": answered.reason}
        runtime.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps(output))
        log.info("payment already answered", extra={"orderId": order_id, "status": answered.status})
        return {"orderId": order_id, "requested": False}
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
            "paymentReference": stored["paymentReference"],
        },
    )
    log.info("payment requested", extra={"orderId": order_id})
    return {"orderId": order_id, "requested": True}
