"""Event patterns and the state machine's input transformer: plain data, shared by the component
(rules, targets) and the tests that run them against EventBridge."""

from __future__ import annotations

import json
from typing import Any

ORDER_PLACED_PATTERN: dict[str, Any] = {
    "source": ["ecommerce.orders"],
    "detail-type": ["Order Placed"],
    "detail": {"status": ["pending"]},
}
PAYMENT_COMPLETED_PATTERN: dict[str, Any] = {
    "source": ["ecommerce.payments"],
    "detail-type": ["Payment Completed"],
    "detail": {"status": ["success"]},
}
# The gateway's other answers in the callback variant: a decline resumes the waiting execution, a
# progress notice keeps it alive (heartbeat).
PAYMENT_PROGRESS_PATTERN: dict[str, Any] = {
    "source": ["ecommerce.payments"],
    "detail-type": ["Payment Declined", "Payment Processing"],
}
# The gateway's source and answers: the only events its account may put on the bus.
GATEWAY_SOURCE = "ecommerce.payments"
GATEWAY_ANSWERS = ("Payment Completed", "Payment Declined", "Payment Processing")
# Callback variant: request_payment publishes it; the rule sends it to the gateway's API destination.
PAYMENT_REQUESTED_PATTERN: dict[str, Any] = {
    "source": ["ecommerce.orders"],
    "detail-type": ["Payment Requested"],
}
PAYMENT_REQUEST_INPUT_PATHS: dict[str, str] = {
    "orderId": "$.detail.orderId",
    "amount": "$.detail.amount",
    "currency": "$.detail.currency",
    "paymentReference": "$.detail.paymentReference",
}
PAYMENT_REQUEST_INPUT_TEMPLATE = (
    '{"orderId": "<orderId>", "amount": "<amount>", "currency": "<currency>", "paymentReference": "<paymentReference>"}'
)
ORDER_FULFILLED_PATTERN: dict[str, Any] = {
    "source": ["ecommerce.fulfillment"],
    "detail-type": ["Order Fulfilled"],
}

# The execution gets the order (article's `detail.orderData`) and the event id for tracing, not the
# whole envelope.
ORDER_PLACED_INPUT_PATHS: dict[str, str] = {"order": "$.detail.orderData", "eventId": "$.id"}
ORDER_PLACED_INPUT_TEMPLATE = '{"order": <order>, "eventId": "<eventId>"}'


def pattern_json(pattern: dict[str, Any]) -> str:
    return json.dumps(pattern, sort_keys=True)


def execution_stopped_pattern(state_machine_arn: str) -> dict[str, Any]:
    """Step Functions' own event (default bus) for an execution of this machine that failed or timed out."""
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT"], "stateMachineArn": [state_machine_arn]},
    }
