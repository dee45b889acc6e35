"""RecordPayment task (direct variant with an HTTP gateway): keep the answer the gateway gave the
state machine's HTTP Task (`arn:aws:states:::http:invoke` through the gateway connection).

The charge itself is the HTTP Task: Step Functions calls the gateway with the connection's API key,
the order id as idempotency key, and retries its 429/5xx answers. This task records the answer
once on the order (a repeated answer returns the first) and announces a capture.
"""

from __future__ import annotations

from typing import Any

from handlers.order_workflow import runtime
from handlers.order_workflow.gateway import PaymentOutcome
from handlers.order_workflow.payment import announce
from handlers.order_workflow.store import get_order, record_payment


class MalformedGatewayAnswer(ValueError):  # noqa: N818 - the class name is the Step Functions error name
    """The gateway answered 2xx with a body that is not a payment outcome: nobody can tell whether it
    charged, so it is not a business outcome; the execution fails here for an operator (and a redrive)."""


def gateway_outcome(answer: Any, order_id: str) -> PaymentOutcome:
    if not isinstance(answer, dict) or answer.get("status") not in ("CAPTURED", "DECLINED"):
        raise MalformedGatewayAnswer(f"order {order_id}: the gateway answered {answer!r}, not CAPTURED/DECLINED")
    transaction = answer.get("transactionId")
    if answer["status"] == "CAPTURED" and (not isinstance(transaction, str) or not transaction):
        raise MalformedGatewayAnswer(f"order {order_id}: a capture without transactionId")
    reason = answer.get("reason")
    return PaymentOutcome(answer["status"], transaction or None, str(reason) if reason else None)


@runtime.task
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input `{"orderId", "answer": {"status", "transactionId", "reason"}}`; output as ProcessPayment's."""
    order_id = runtime.order_id_of(event)
    outcome = gateway_outcome(event.get("answer"), order_id)
    settings = runtime.settings()
    ddb = runtime.client("dynamodb")
    # Recorded even if the order was released meanwhile: FulfilOrder then fails on it and refunds it.
    outcome = record_payment(ddb, settings.orders_table, order_id, outcome, runtime.utc_now(), require_hold=False)
    return announce(settings, get_order(ddb, settings.orders_table, order_id), outcome)
