"""Orders, inventory and callback tokens in DynamoDB: every state change is one conditional write.

Inventory item: `productId`, `available` (units that can be sold), `reserved` (units held by orders
not yet fulfilled). Order item: the normalised order plus `status`, `reservation` (units held per
product), `reservationState` (HELD -> COMMITTED | RELEASED), payment fields and `lifecycle` (the
lifecycle events already recorded). A unit moves between `available` and `reserved` only inside a
transaction that also moves the order's `reservationState`, so each change happens exactly once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handlers.common.dynamo import from_dynamo as from_item
from handlers.common.dynamo import to_item
from handlers.order_workflow.gateway import PaymentOutcome, RefundOutcome
from handlers.order_workflow.orders import Order
from handlers.order_workflow.runtime import InventoryContention


class DuplicateOrder(Exception):  # noqa: N818 - class names are the Step Functions error names
    """The same order was already submitted by another execution, which still runs or has finished it."""


class OrderConflict(Exception):  # noqa: N818
    """An order with this id but different content exists: refuse rather than overwrite."""


class OrderNotFound(Exception):  # noqa: N818
    """A step was asked to work on an order that was never validated."""


class ReservationRejected(Exception):  # noqa: N818
    """The order is in a state where reserving (or fulfilling, releasing) is not allowed."""


class FulfilmentFailed(Exception):  # noqa: N818
    """A paid order cannot be fulfilled (its reservation is gone or the stock no longer adds up):
    a business outcome, so the state machine refunds the payment and releases what is still held."""


# An order in one of these states has been carried to its end; a resubmission never reopens it.
SETTLED_RESERVATIONS = ("COMMITTED", "RELEASED")


def get_order(ddb: Any, table: str, order_id: str) -> dict[str, Any]:
    response = ddb.get_item(TableName=table, Key=to_item({"orderId": order_id}), ConsistentRead=True)
    if "Item" not in response:
        raise OrderNotFound(f"order {order_id} does not exist")
    return from_item(response["Item"])


# ---------------------------------------------------------------------------------------------- create


def create_order(
    ddb: Any, table: str, order: Order, execution_id: str, now: str, owner_running: Callable[[str], bool]
) -> str:
    """Store a new order exactly once. Returns "CREATED"; "RESUMED" when this same execution already
    stored it (a retried task); "TAKEN_OVER" when the execution that stored it has stopped without
    finishing the order (failed past its redrives), so this one carries it on: every later step is
    idempotent per order. Raises DuplicateOrder while the owner still runs or once the order is
    settled, and OrderConflict for different content under the same id."""
    item = {
        "orderId": order.order_id,
        "customerId": order.customer_id,
        "currency": order.currency,
        "totalAmount": order.total_amount,
        "paymentReference": order.payment_reference,
        "items": [
            {"productId": line.product_id, "quantity": line.quantity, "price": line.unit_price} for line in order.lines
        ],
        "fingerprint": order.fingerprint(),
        "executionId": execution_id,
        "status": "VALIDATED",
        "lifecycle": {},
        "createdAt": now,
    }
    try:
        ddb.put_item(
            TableName=table,
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(orderId)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return "CREATED"
    except ddb.exceptions.ConditionalCheckFailedException as error:
        existing = error.response.get("Item")
    stored = from_item(existing) if existing else get_order(ddb, table, order.order_id)
    if stored.get("fingerprint") != item["fingerprint"]:
        raise OrderConflict(f"order {order.order_id} already exists with different content") from None
    owner = str(stored.get("executionId", ""))
    if owner == execution_id:
        return "RESUMED"
    if stored.get("reservationState") in SETTLED_RESERVATIONS or stored.get("status") == "OUT_OF_STOCK":
        raise DuplicateOrder(f"order {order.order_id} was already processed by execution {owner} ({stored['status']})")
    if owner_running(owner):
        raise DuplicateOrder(f"order {order.order_id} is already handled by execution {owner}, still running")
    return _take_over(ddb, table, order.order_id, owner, execution_id, now)


def _take_over(ddb: Any, table: str, order_id: str, owner: str, execution_id: str, now: str) -> str:
    try:
        ddb.update_item(
            TableName=table,
            Key=to_item({"orderId": order_id}),
            UpdateExpression="SET executionId = :new, takenOverAt = :now, previousExecutionId = :old",
            ConditionExpression="executionId = :old",
            ExpressionAttributeValues=to_item({":new": execution_id, ":old": owner, ":now": now}),
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        raise DuplicateOrder(f"order {order_id} was taken over by another execution at the same time") from None
    return "TAKEN_OVER"


# --------------------------------------------------------------------------------------------- reserve


@dataclass(frozen=True)
class Shortage:
    product_id: str
    requested: int
    available: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "productId": self.product_id,
            "requested": self.requested,
            "available": self.available,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Reservation:
    status: str  # RESERVED | INSUFFICIENT
    shortages: list[Shortage] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "shortages": [s.to_json() for s in self.shortages]}


def _inventory_take(table: str, product_id: str, quantity: int) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table,
            "Key": to_item({"productId": product_id}),
            "UpdateExpression": "SET available = available - :q, reserved = if_not_exists(reserved, :zero) + :q",
            # The check and the decrement are one atomic operation: no window for another order.
            "ConditionExpression": "available >= :q",
            "ExpressionAttributeValues": to_item({":q": quantity, ":zero": 0}),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _existing_reservation(stored: dict[str, Any]) -> Reservation:
    """The answer a repeated reserve gives for an order that already went through reserve."""
    if stored.get("reservationState") in ("HELD", "COMMITTED"):
        return Reservation("RESERVED")
    if stored.get("status") == "OUT_OF_STOCK":
        return Reservation(
            "INSUFFICIENT",
            [
                Shortage(s["productId"], int(s["requested"]), int(s["available"]), s["reason"])
                for s in stored.get("shortages", [])
            ],
        )
    raise ReservationRejected(
        f"order {stored['orderId']} is {stored.get('status')} with reservation {stored.get('reservationState')}; "
        "it cannot be reserved again"
    )


def reserve(ddb: Any, orders_table: str, inventory_table: str, order_id: str, now: str) -> Reservation:
    """Take every line's units in ONE transaction, only if each product has enough; idempotent per order."""
    stored = get_order(ddb, orders_table, order_id)
    if stored.get("status") != "VALIDATED":
        return _existing_reservation(stored)
    quantities: dict[str, int] = {}
    for line in stored["items"]:
        quantities[line["productId"]] = quantities.get(line["productId"], 0) + int(line["quantity"])
    products = sorted(quantities)
    order_update = {
        "Update": {
            "TableName": orders_table,
            "Key": to_item({"orderId": order_id}),
            "UpdateExpression": "SET reservation = :reservation, reservationState = :held, #status = :reserved, "
            "reservedAt = :now",
            "ConditionExpression": "#status = :validated AND attribute_not_exists(reservationState)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(
                {
                    ":reservation": {p: quantities[p] for p in products},
                    ":held": "HELD",
                    ":reserved": "RESERVED",
                    ":validated": "VALIDATED",
                    ":now": now,
                }
            ),
        }
    }
    items = [order_update, *(_inventory_take(inventory_table, p, quantities[p]) for p in products)]
    try:
        ddb.transact_write_items(TransactItems=items)
        return Reservation("RESERVED")
    except ddb.exceptions.TransactionCanceledException as error:
        reasons = error.response.get("CancellationReasons", [])
    codes = [r.get("Code", "None") for r in reasons]
    if "TransactionConflict" in codes:
        raise InventoryContention(f"order {order_id}: concurrent transaction on the same items, retry") from None
    if codes and codes[0] == "ConditionalCheckFailed":
        return _existing_reservation(get_order(ddb, orders_table, order_id))
    shortages = []
    for product, reason in zip(products, reasons[1:], strict=False):
        if reason.get("Code") != "ConditionalCheckFailed":
            continue
        old = from_item(reason["Item"]) if reason.get("Item") else None
        if old is None:
            shortages.append(Shortage(product, quantities[product], 0, "unknown product"))
        else:
            shortages.append(Shortage(product, quantities[product], int(old.get("available", 0)), "insufficient stock"))
    if not shortages:
        raise RuntimeError(f"order {order_id}: reservation cancelled for reasons {codes}")
    _mark_out_of_stock(ddb, orders_table, order_id, shortages, now)
    return Reservation("INSUFFICIENT", shortages)


def _mark_out_of_stock(ddb: Any, table: str, order_id: str, shortages: list[Shortage], now: str) -> None:
    # A concurrent retry of this step may already have recorded the outcome (the condition then fails).
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
        ddb.update_item(
            TableName=table,
            Key=to_item({"orderId": order_id}),
            UpdateExpression="SET #status = :out, shortages = :shortages, closedAt = :now",
            ConditionExpression="#status = :validated",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":out": "OUT_OF_STOCK",
                    ":validated": "VALIDATED",
                    ":shortages": [s.to_json() for s in shortages],
                    ":now": now,
                }
            ),
        )


# --------------------------------------------------------------------------------------------- payment


def stored_payment(stored: dict[str, Any]) -> PaymentOutcome | None:
    if "paymentStatus" not in stored:
        return None
    # Absent values are stored as "" (DynamoDB has no null in SET); give them back as None.
    return PaymentOutcome(
        stored["paymentStatus"], stored.get("transactionId") or None, stored.get("paymentReason") or None
    )


def record_payment(
    ddb: Any, table: str, order_id: str, outcome: PaymentOutcome, now: str, *, require_hold: bool = True
) -> PaymentOutcome:
    """Write the gateway's answer once; a later answer for the same order returns the first one.
    `require_hold=False` records a late answer on an order that no longer holds stock (to refund it)."""
    values: dict[str, Any] = {
        ":payment": outcome.status,
        ":status": "PAID" if outcome.status == "CAPTURED" else "PAYMENT_DECLINED",
        ":txn": outcome.transaction_id or "",
        ":reason": outcome.reason or "",
        ":now": now,
    }
    condition = "attribute_not_exists(paymentStatus)"
    if require_hold:
        condition += " AND reservationState = :held"
        values[":held"] = "HELD"
    try:
        ddb.update_item(
            TableName=table,
            Key=to_item({"orderId": order_id}),
            UpdateExpression="SET paymentStatus = :payment, #status = :status, transactionId = :txn, "
            "paymentReason = :reason, paidAt = :now",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(values),
        )
        return outcome
    except ddb.exceptions.ConditionalCheckFailedException:
        pass  # an answer is already recorded: return it
    stored = get_order(ddb, table, order_id)
    previous = stored_payment(stored)
    if previous is None:
        raise ReservationRejected(f"order {order_id} holds no reservation ({stored.get('reservationState')}); not paid")
    return previous


# ---------------------------------------------------------------------------------------------- refund


def stored_refund(stored: dict[str, Any]) -> RefundOutcome | None:
    if "refundStatus" not in stored:
        return None
    return RefundOutcome(stored["refundStatus"], stored.get("refundId") or None, stored.get("refundReason") or None)


def record_refund(ddb: Any, table: str, order_id: str, outcome: RefundOutcome, now: str) -> RefundOutcome:
    """Write the gateway's refund answer once (keyed on the order); a repeated answer returns the first."""
    status = {"REFUNDED": "REFUNDED", "REJECTED": "REFUND_REQUIRED"}[outcome.status]
    values = {
        ":refund": outcome.status,
        ":status": status,
        ":id": outcome.refund_id or "",
        ":reason": outcome.reason or "",
        ":now": now,
        ":captured": "CAPTURED",
    }
    try:
        ddb.update_item(
            TableName=table,
            Key=to_item({"orderId": order_id}),
            UpdateExpression="SET refundStatus = :refund, #status = :status, refundId = :id, refundReason = :reason, "
            "refundedAt = :now",
            ConditionExpression="attribute_not_exists(refundStatus) AND paymentStatus = :captured",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(values),
        )
        return outcome
    except ddb.exceptions.ConditionalCheckFailedException:
        pass  # a refund answer is already recorded: return it
    previous = stored_refund(get_order(ddb, table, order_id))
    if previous is None:
        raise ReservationRejected(f"order {order_id} has no captured payment to refund")
    return previous


# --------------------------------------------------------------------------------------- fulfil/release


def _inventory_move(table: str, product_id: str, quantity: int, *, restore: bool) -> dict[str, Any]:
    expression = "SET reserved = reserved - :q" + (", available = available + :q" if restore else "")
    return {
        "Update": {
            "TableName": table,
            "Key": to_item({"productId": product_id}),
            "UpdateExpression": expression,
            "ConditionExpression": "reserved >= :q",
            "ExpressionAttributeValues": to_item({":q": quantity}),
        }
    }


def _settle(
    ddb: Any, orders_table: str, inventory_table: str, stored: dict[str, Any], *, to_state: str, status: str, now: str
) -> None:
    """Move the held units out of `reserved` (shipped) or back to `available` (released), and the
    order's reservation out of HELD, in one transaction."""
    reservation = {product: int(units) for product, units in stored["reservation"].items()}
    condition = "reservationState = :held"
    values: dict[str, Any] = {":held": "HELD", ":to": to_state, ":status": status, ":now": now}
    if to_state == "COMMITTED":
        condition += " AND paymentStatus = :captured"
        values[":captured"] = "CAPTURED"
    order_update = {
        "Update": {
            "TableName": orders_table,
            "Key": to_item({"orderId": stored["orderId"]}),
            "UpdateExpression": "SET reservationState = :to, #status = :status, settledAt = :now",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(values),
        }
    }
    moves = [
        _inventory_move(inventory_table, product, units, restore=to_state == "RELEASED")
        for product, units in sorted(reservation.items())
    ]
    ddb.transact_write_items(TransactItems=[order_update, *moves])


def _cancellation_codes(error: Exception) -> list[str]:
    return [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]


def fulfil(ddb: Any, orders_table: str, inventory_table: str, order_id: str, now: str) -> bool:
    """Commit the reservation of a paid order. True when this call fulfilled it, False if already done."""
    stored = get_order(ddb, orders_table, order_id)
    if stored.get("reservationState") == "COMMITTED":
        return False
    if stored.get("reservationState") != "HELD" or stored.get("paymentStatus") != "CAPTURED":
        raise FulfilmentFailed(
            f"order {order_id} cannot be fulfilled: reservation {stored.get('reservationState')}, "
            f"payment {stored.get('paymentStatus')}"
        )
    try:
        _settle(ddb, orders_table, inventory_table, stored, to_state="COMMITTED", status="FULFILLED", now=now)
        return True
    except ddb.exceptions.TransactionCanceledException as error:
        codes = _cancellation_codes(error)
    if "TransactionConflict" in codes:
        raise InventoryContention(f"order {order_id}: concurrent transaction while fulfilling, retry") from None
    if get_order(ddb, orders_table, order_id).get("reservationState") == "COMMITTED":
        return False
    raise FulfilmentFailed(f"order {order_id}: fulfilment cancelled ({codes})")


def _released_status(stored: dict[str, Any]) -> str:
    """What a released order is: REFUNDED once its payment went back, REFUND_REQUIRED while a captured
    payment is still with us (its refund went to reconciliation), CANCELLED when nothing was taken."""
    if stored.get("refundStatus") == "REFUNDED":
        return "REFUNDED"
    if stored.get("paymentStatus") == "CAPTURED":
        return "REFUND_REQUIRED"
    return "CANCELLED"


def release(ddb: Any, orders_table: str, inventory_table: str, order_id: str, now: str) -> dict[str, Any]:
    """Compensation: give back exactly the units this order holds, once. Runs after RefundPayment on
    the paths that captured money, so the order ends REFUNDED (see `_released_status`)."""
    try:
        stored = get_order(ddb, orders_table, order_id)
    except OrderNotFound:
        return {"released": False, "reservationState": None, "restored": {}}
    if stored.get("reservationState") != "HELD":
        return {"released": False, "reservationState": stored.get("reservationState"), "restored": {}}
    status = _released_status(stored)
    try:
        _settle(ddb, orders_table, inventory_table, stored, to_state="RELEASED", status=status, now=now)
    except ddb.exceptions.TransactionCanceledException as error:
        codes = _cancellation_codes(error)
        if "TransactionConflict" in codes:
            raise InventoryContention(f"order {order_id}: concurrent transaction while releasing, retry") from None
        current = get_order(ddb, orders_table, order_id).get("reservationState")
        if current != "HELD":
            return {"released": False, "reservationState": current, "restored": {}}
        raise ReservationRejected(f"order {order_id}: release cancelled ({codes})") from None
    restored = {product: int(units) for product, units in sorted(stored["reservation"].items())}
    return {"released": True, "reservationState": "RELEASED", "status": status, "restored": restored}


# ------------------------------------------------------------------------------------- callback tokens


def store_callback_token(ddb: Any, table: str, order_id: str, token: str, execution_id: str, expires_at: int) -> None:
    """Keep the task token until the gateway answers; a retried request stores the newest token."""
    ddb.put_item(
        TableName=table,
        Item=to_item(
            {
                "orderId": order_id,
                "taskToken": token,
                "executionId": execution_id,
                "state": "PENDING",
                "expiresAt": expires_at,
            }
        ),
        ConditionExpression="attribute_not_exists(orderId) OR #state = :pending",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues=to_item({":pending": "PENDING"}),
    )


def pending_callback(ddb: Any, table: str, order_id: str) -> dict[str, Any] | None:
    response = ddb.get_item(TableName=table, Key=to_item({"orderId": order_id}), ConsistentRead=True)
    return from_item(response["Item"]) if "Item" in response else None


def resolve_callback(ddb: Any, table: str, order_id: str, outcome: str) -> None:
    """Mark the token used; safe to repeat (a resolved token fails the condition)."""
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
        ddb.update_item(
            TableName=table,
            Key=to_item({"orderId": order_id}),
            UpdateExpression="SET #state = :resolved, outcome = :outcome",
            ConditionExpression="#state = :pending",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_item({":resolved": "RESOLVED", ":pending": "PENDING", ":outcome": outcome}),
        )


# ----------------------------------------------------------------------------------- lifecycle events


def record_lifecycle(ddb: Any, table: str, order_id: str, event_type: str, event_id: str, now: str) -> bool:
    """Remember that the order went through `event_type`. False when it was already recorded (a
    redelivered message or a re-published event); OrderNotFound when the order is unknown."""
    try:
        ddb.update_item(
            TableName=table,
            Key=to_item({"orderId": order_id}),
            UpdateExpression="SET lifecycle.#type = :event",
            ConditionExpression="attribute_exists(orderId) AND attribute_not_exists(lifecycle.#type)",
            ExpressionAttributeNames={"#type": event_type},
            ExpressionAttributeValues=to_item({":event": {"eventId": event_id, "recordedAt": now}}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return True
    except ddb.exceptions.ConditionalCheckFailedException as error:
        if not error.response.get("Item"):
            raise OrderNotFound(f"order {order_id} does not exist; cannot record {event_type}") from None
        return False


# ---------------------------------------------------------------------------------------------- reaper


def held_orders(ddb: Any, table: str) -> list[dict[str, Any]]:
    """Orders that still hold stock (reservationState HELD), with the fields the reaper decides on."""
    found: list[dict[str, Any]] = []
    pages = ddb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="reservationState = :held",
        ProjectionExpression="orderId, executionId, reservedAt, paymentStatus",
        ExpressionAttributeValues=to_item({":held": "HELD"}),
        ConsistentRead=True,
    )
    for page in pages:
        found.extend(from_item(item) for item in page["Items"])
    return found
