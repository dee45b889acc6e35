"""Order lifecycle consumer: EventBridge -> SQS -> this function, with partial batch failures.

Each message is one EventBridge event. It is recorded on its order once per (order, event type), so
redelivered messages and re-published events change nothing. In the callback variant this is the
gateway's way back: its answer, put on the bus (the bus policy lets the gateway's account put
`ecommerce.payments` events only), resumes the waiting execution: the stored task token gets
SendTaskSuccess (Payment Completed / Payment Declined) or SendTaskHeartbeat (Payment Processing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.common.batch import BatchResponse, batch_response, record_id
from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.gateway import PaymentOutcome, gateway_named
from handlers.order_workflow.refund import reconciliation_queue_url
from handlers.order_workflow.refunds import refund_order, send_to_reconciliation
from handlers.order_workflow.store import (
    ReservationRejected,
    pending_callback,
    record_lifecycle,
    record_payment,
    resolve_callback,
)

log = get_logger(__name__)

HANDLED = {
    (runtime.PAYMENTS_SOURCE, runtime.PAYMENT_COMPLETED),
    (runtime.PAYMENTS_SOURCE, runtime.PAYMENT_DECLINED),
    (runtime.PAYMENTS_SOURCE, runtime.PAYMENT_PROCESSING),
    (runtime.FULFILMENT_SOURCE, runtime.ORDER_FULFILLED),
}


class MalformedEvent(ValueError):  # noqa: N818
    """The message is not an order lifecycle event this consumer understands."""


@dataclass(frozen=True)
class LifecycleEvent:
    event_id: str
    source: str
    detail_type: str
    order_id: str
    detail: dict[str, Any]


def parse_event(body: str) -> LifecycleEvent:
    """The EventBridge envelope from an SQS message body, checked."""
    try:
        envelope = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"message body is not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise MalformedEvent("message body is not an EventBridge event object")
    key = (envelope.get("source"), envelope.get("detail-type"))
    if key not in HANDLED:
        raise MalformedEvent(f"unexpected event source/detail-type {key}; handled: {sorted(HANDLED)}")
    detail = envelope.get("detail")
    order_id = detail.get("orderId") if isinstance(detail, dict) else None
    if not isinstance(order_id, str) or not order_id:
        raise MalformedEvent(f"{key[1]} event {envelope.get('id')} has no detail.orderId")
    if not isinstance(envelope.get("id"), str):
        raise MalformedEvent(f"{key[1]} event for order {order_id} has no id")
    return LifecycleEvent(envelope["id"], key[0], key[1], order_id, detail)


def payment_outcome(event: LifecycleEvent) -> PaymentOutcome:
    if event.detail_type == runtime.PAYMENT_COMPLETED:
        transaction = event.detail.get("transactionId")
        if not isinstance(transaction, str) or not transaction:
            raise MalformedEvent(f"Payment Completed for order {event.order_id} has no transactionId")
        return PaymentOutcome("CAPTURED", transaction_id=transaction)
    return PaymentOutcome("DECLINED", reason=str(event.detail.get("reason") or "declined by gateway"))


def _stopped_waiting(sfn: Any) -> tuple[type[Exception], ...]:
    """The modeled errors for a token whose task no longer waits (timed out, execution stopped)."""
    return (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist)


def settle_late_answer(event: LifecycleEvent, ddb: Any, settings: runtime.Settings) -> str:
    """The gateway answered for an order that no longer holds stock (released after its execution
    failed for good): a capture must go back to the customer, once."""
    outcome = payment_outcome(event)
    if outcome.status != "CAPTURED":
        return "late decline for a released order: nothing to do"
    record_payment(ddb, settings.orders_table, event.order_id, outcome, runtime.utc_now(), require_hold=False)
    result = refund_order(
        ddb, settings.orders_table, gateway_named(settings.payment_gateway), event.order_id, runtime.utc_now()
    )
    if result.reconciliation:
        send_to_reconciliation(runtime.client("sqs"), reconciliation_queue_url(), result, "LateCapture")
        return "late capture for a released order: refund refused, sent to reconciliation"
    return "late capture for a released order: refunded"


def resume_waiting_execution(event: LifecycleEvent, ddb: Any, sfn: Any, settings: runtime.Settings) -> str:
    """Answer the parked task token of the order, if one waits. Returns what was done.

    The answer is recorded on the order before the token is used, so an answer that arrives after the
    task stopped waiting is not lost: the redriven (or taken-over) execution asks again, finds it
    recorded and resumes with it (see request_payment). Only when the order has been released
    meanwhile is a capture refunded here."""
    pending = pending_callback(ddb, settings.callback_table, event.order_id)
    if pending is None or pending.get("state") != "PENDING":
        return "no waiting execution"
    token = pending["taskToken"]
    if event.detail_type == runtime.PAYMENT_PROCESSING:
        try:
            sfn.send_task_heartbeat(taskToken=token)
        except _stopped_waiting(sfn):
            return "progress for a task that stopped waiting: ignored"
        return "heartbeat"
    try:
        outcome = record_payment(ddb, settings.orders_table, event.order_id, payment_outcome(event), runtime.utc_now())
    except ReservationRejected:
        return settle_late_answer(event, ddb, settings)
    output = {"status": outcome.status, "transactionId": outcome.transaction_id, "reason": outcome.reason}
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    except _stopped_waiting(sfn):
        current = pending_callback(ddb, settings.callback_table, event.order_id)
        if current is not None and current.get("state") == "RESOLVED":
            return "already resumed"
        return f"recorded {outcome.status}; the task stopped waiting and its redrive resumes with it"
    resolve_callback(ddb, settings.callback_table, event.order_id, outcome.status)
    return f"resumed with {outcome.status}"


def waits_for_callbacks(environ: Mapping[str, str] = os.environ) -> bool:
    """True in the callback variant (PAYMENT_INTEGRATION, set by the component).

    In the direct variant nothing parks a task token, and the consumer's role has no grant on the
    callback table: reading it there would fail every Payment Completed message into the DLQ.
    """
    integration = environ.get("PAYMENT_INTEGRATION")
    if integration not in ("direct", "callback"):
        raise runtime.SettingsError(f"PAYMENT_INTEGRATION is {integration!r}; expected 'direct' or 'callback'")
    return integration == "callback"


def process(event: LifecycleEvent) -> None:
    settings = runtime.settings()
    ddb = runtime.client("dynamodb")
    action = "recorded"
    if event.source == runtime.PAYMENTS_SOURCE and waits_for_callbacks():
        action = resume_waiting_execution(event, ddb, runtime.client("stepfunctions"), settings)
    if event.detail_type != runtime.PAYMENT_PROCESSING:
        first = record_lifecycle(
            ddb, settings.orders_table, event.order_id, event.detail_type, event.event_id, runtime.utc_now()
        )
        action += "" if first else " (duplicate event, already recorded)"
    log.info(
        "lifecycle event",
        extra={"orderId": event.order_id, "detailType": event.detail_type, "eventId": event.event_id, "action": action},
    )


def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    """Report each failed message; the others are deleted. Failed ones return after the visibility
    timeout and end in the DLQ after maxReceiveCount attempts."""
    failed: list[str] = []
    for record in event.get("Records", []):
        try:
            process(parse_event(record["body"]))
        except Exception:
            log.exception("lifecycle message failed", extra={"messageId": record.get("messageId")})
            failed.append(record_id(record))
    return batch_response(failed)
