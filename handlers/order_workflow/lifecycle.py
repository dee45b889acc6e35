"""Order lifecycle consumer: EventBridge -> SQS -> this function, with partial batch failures.

Each message is one EventBridge event. It is recorded on its order once per (order, event type), so
redelivered messages and re-published events change nothing. In the callback variant the gateway's
answer also resumes the waiting execution: the stored task token gets SendTaskSuccess (Payment
Completed / Payment Declined) or SendTaskHeartbeat (Payment Processing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from handlers.common.batch import BatchResponse, batch_response, record_id
from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.gateway import PaymentOutcome
from handlers.order_workflow.store import pending_callback, record_lifecycle, record_payment, resolve_callback

log = get_logger(__name__)

HANDLED = {
    (runtime.PAYMENTS_SOURCE, runtime.PAYMENT_COMPLETED),
    (runtime.PAYMENTS_SOURCE, runtime.PAYMENT_DECLINED),
    (runtime.PAYMENTS_SOURCE, runtime.PAYMENT_PROCESSING),
    (runtime.FULFILMENT_SOURCE, runtime.ORDER_FULFILLED),
}


class MalformedEvent(ValueError):  # noqa: N818
    """The message is not an order lifecycle event this consumer understands."""


class LateCallback(RuntimeError):  # noqa: N818
    """The gateway answered after the execution stopped waiting; an operator must reconcile it."""


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


def resume_waiting_execution(event: LifecycleEvent, ddb: Any, sfn: Any, settings: runtime.Settings) -> str:
    """Answer the parked task token of the order, if one waits. Returns what was done."""
    pending = pending_callback(ddb, settings.callback_table, event.order_id)
    if pending is None or pending.get("state") != "PENDING":
        return "no waiting execution"
    token = pending["taskToken"]
    try:
        if event.detail_type == runtime.PAYMENT_PROCESSING:
            sfn.send_task_heartbeat(taskToken=token)
            return "heartbeat"
        outcome = record_payment(ddb, settings.orders_table, event.order_id, payment_outcome(event), runtime.utc_now())
        output = {"status": outcome.status, "transactionId": outcome.transaction_id, "reason": outcome.reason}
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise
        current = pending_callback(ddb, settings.callback_table, event.order_id)
        if current is not None and current.get("state") == "RESOLVED":
            return "already resumed"
        raise LateCallback(
            f"{event.detail_type} for order {event.order_id} arrived after the execution stopped waiting ({code})"
        ) from None
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
