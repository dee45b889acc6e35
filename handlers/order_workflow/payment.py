"""ProcessPayment task (direct variant): charge through the configured gateway, once per order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.gateway import PaymentOutcome, PaymentRequest, gateway_named
from handlers.order_workflow.store import ReservationRejected, get_order, record_payment, stored_payment

log = get_logger(__name__)


def outcome_json(outcome: PaymentOutcome) -> dict[str, Any]:
    return {"status": outcome.status, "transactionId": outcome.transaction_id, "reason": outcome.reason}


@runtime.task
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input `{"orderId", "attempt"}` (attempt = `$$.State.RetryCount`); output `{"status": "CAPTURED" |
    "DECLINED", "transactionId", "reason"}`. A gateway that cannot answer raises TransientPaymentError,
    which the state machine retries with backoff and jitter."""
    order_id = runtime.order_id_of(event)
    settings = runtime.settings()
    ddb = runtime.client("dynamodb")
    stored = get_order(ddb, settings.orders_table, order_id)
    outcome = stored_payment(stored)
    if outcome is None and stored.get("reservationState") != "HELD":
        # Released meanwhile (the reaper gave up on an earlier execution): nothing to charge for.
        raise ReservationRejected(f"order {order_id} holds no stock ({stored.get('reservationState')}); not charged")
    if outcome is None:
        request = PaymentRequest(
            order_id=order_id,
            amount=Decimal(str(stored["totalAmount"])),
            currency=stored["currency"],
            payment_reference=stored["paymentReference"],
            attempt=int(event.get("attempt", 0)),
        )
        outcome = gateway_named(settings.payment_gateway).charge(request)
        # Recorded even if the order was released since the check above: a capture is never forgotten,
        # and FulfilOrder then fails on the released order and refunds it.
        outcome = record_payment(ddb, settings.orders_table, order_id, outcome, runtime.utc_now(), require_hold=False)
    return announce(settings, stored, outcome)


def announce(settings: runtime.Settings, stored: dict[str, Any], outcome: PaymentOutcome) -> dict[str, Any]:
    """Publish Payment Completed for a capture (on every attempt that sees it: at least once, the
    consumer de-duplicates) and give the task's output."""
    order_id = str(stored["orderId"])
    if outcome.status == "CAPTURED":
        runtime.publish(
            runtime.client("events"),
            settings.event_bus_name,
            runtime.PAYMENTS_SOURCE,
            runtime.PAYMENT_COMPLETED,
            {
                "orderId": order_id,
                "status": "success",
                "amount": str(stored["totalAmount"]),
                "currency": stored["currency"],
                "transactionId": outcome.transaction_id,
            },
        )
    log.info("payment", extra={"orderId": order_id, **outcome_json(outcome)})
    return outcome_json(outcome)
