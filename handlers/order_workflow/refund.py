"""RefundPayment task: on every path that fails after a capture, give the money back once.

Runs before ReleaseInventory, so the released order ends REFUNDED. A refund the gateway refuses is
not a dead end: it goes to the reconciliation queue (its own alarm) and the execution carries on to
release the stock; the order stays REFUND_REQUIRED until an operator settles it.
"""

from __future__ import annotations

import os
from typing import Any

from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.gateway import gateway_named
from handlers.order_workflow.refunds import refund_order, send_to_reconciliation

log = get_logger(__name__)


def reconciliation_queue_url() -> str:
    url = os.environ.get("RECONCILIATION_QUEUE_URL")
    if not url:
        raise runtime.SettingsError("environment variable RECONCILIATION_QUEUE_URL is not set")
    return url


@runtime.task
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input `{"orderId"}`; output `{"orderId", "refunded", "reconciliation", "refundId", "reason"}`.
    TransientPaymentError (the gateway could not answer) is retried by the state machine."""
    order_id = runtime.order_id_of(event)
    settings = runtime.settings()
    result = refund_order(
        runtime.client("dynamodb"),
        settings.orders_table,
        gateway_named(settings.payment_gateway),
        order_id,
        runtime.utc_now(),
    )
    if result.reconciliation:
        send_to_reconciliation(runtime.client("sqs"), reconciliation_queue_url(), result, "RefundPayment")
    log.info("refund", extra=result.to_json())
    return result.to_json()
