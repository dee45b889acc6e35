"""Giving captured money back: one refund per order, and a reconciliation message when it cannot be.

Used by the RefundPayment task (every path that fails after a capture), by the reaper (orders whose
execution never recovered) and by the lifecycle consumer (a capture the gateway reported after the
order was already released). All three reach the same gateway call with the same idempotency key
(`refund:<order id>`), and the answer is recorded once on the order, so the customer is refunded
exactly once whoever gets there first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from handlers.order_workflow.gateway import PaymentGateway, RefundRequest
from handlers.order_workflow.store import get_order, record_refund, stored_refund


@dataclass(frozen=True)
class RefundResult:
    """`refunded`: the money is back (now or before). `reconciliation`: the gateway refused and an
    operator must settle it (a message is on the reconciliation queue). Neither: nothing was captured."""

    order_id: str
    refunded: bool
    reconciliation: bool = False
    refund_id: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "refunded": self.refunded,
            "reconciliation": self.reconciliation,
            "refundId": self.refund_id,
            "reason": self.reason,
        }


def refund_order(ddb: Any, table: str, gateway: PaymentGateway, order_id: str, now: str) -> RefundResult:
    """Refund the order's captured payment once. TransientPaymentError propagates (retry the caller)."""
    stored = get_order(ddb, table, order_id)
    if stored.get("paymentStatus") != "CAPTURED":
        return RefundResult(order_id, refunded=False, reason=f"nothing captured ({stored.get('paymentStatus')})")
    outcome = stored_refund(stored)
    if outcome is None:
        request = RefundRequest(
            order_id=order_id,
            amount=Decimal(str(stored["totalAmount"])),
            currency=stored["currency"],
            transaction_id=str(stored.get("transactionId") or ""),
            payment_reference=stored["paymentReference"],
        )
        outcome = record_refund(ddb, table, order_id, gateway.refund(request), now)
    if outcome.status == "REFUNDED":
        return RefundResult(order_id, refunded=True, refund_id=outcome.refund_id)
    return RefundResult(order_id, refunded=False, reconciliation=True, reason=outcome.reason)


def reconciliation_message(result: RefundResult, origin: str) -> str:
    """What an operator needs to settle the refund by hand (no payment reference or token)."""
    return json.dumps({"orderId": result.order_id, "reason": result.reason, "origin": origin}, sort_keys=True)


def send_to_reconciliation(sqs: Any, queue_url: str, result: RefundResult, origin: str) -> str:
    """Queue a refund the gateway refused (at least once: the message names the order, so a repeat is
    recognisable)."""
    response = sqs.send_message(QueueUrl=queue_url, MessageBody=reconciliation_message(result, origin))
    return response["MessageId"]
