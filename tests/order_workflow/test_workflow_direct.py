"""The deployed direct-payment ASL definition, executed by moto's Step Functions interpreter against our handlers.

See emulator.py for how Task states reach the handler code in-process and why that is faithful.
"""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from handlers.order_workflow import lifecycle, runtime
from tests.order_workflow.emulator import Account, emulated_account, order


@pytest.fixture(scope="module")
def direct() -> Any:
    with emulated_account("direct") as account:
        yield account


def test_good_order_completes_and_stock_drops(direct: Account) -> None:
    direct.put_stock("GOOD-LAPTOP", 5)
    direct.put_stock("GOOD-MOUSE", 10)
    result = direct.run(order("good-1", lines=[("GOOD-LAPTOP", 1, "999.99"), ("GOOD-MOUSE", 2, "29.99")]))

    assert result["status"] == "SUCCEEDED"
    assert direct.entered_states(result["executionArn"]) == [
        "ValidateOrder", "ReserveInventory", "InventoryReserved?", "ProcessPayment", "PaymentCaptured?",
        "FulfilOrder", "OrderCompleted",
    ]  # fmt: skip
    assert direct.stock("GOOD-LAPTOP") == {"available": 4, "reserved": 0}
    assert direct.stock("GOOD-MOUSE") == {"available": 8, "reserved": 0}
    stored = direct.order("good-1")
    assert (stored["status"], stored["reservationState"], stored["paymentStatus"]) == (
        "FULFILLED",
        "COMMITTED",
        "CAPTURED",
    )
    output = json.loads(result["output"])
    assert output["order"]["totalAmount"] == "1059.97"
    assert output["payment"]["transactionId"] == stored["transactionId"]


def test_insufficient_stock_fails_and_changes_no_stock(direct: Account) -> None:
    direct.put_stock("SHORT-A", 10)
    direct.put_stock("SHORT-B", 1)
    result = direct.run(order("short-1", lines=[("SHORT-A", 3, "5.00"), ("SHORT-B", 2, "7.50")]))

    assert (result["status"], result["error"]) == ("FAILED", "InsufficientInventory")
    # SHORT-A had enough, but the transaction takes all lines or none.
    assert direct.stock("SHORT-A") == {"available": 10, "reserved": 0}
    assert direct.stock("SHORT-B") == {"available": 1, "reserved": 0}
    stored = direct.order("short-1")
    assert stored["status"] == "OUT_OF_STOCK"
    assert [(s["productId"], s["requested"], s["available"]) for s in stored["shortages"]] == [("SHORT-B", 2, 1)]
    assert "ProcessPayment" not in direct.entered_states(result["executionArn"])


def test_declined_payment_releases_the_reservation(direct: Account) -> None:
    direct.put_stock("DECL-A", 4)
    result = direct.run(order("declined-1", reference="tok_decline_card", lines=[("DECL-A", 3, "10.00")]))

    assert (result["status"], result["error"]) == ("FAILED", "PaymentDeclined")
    states = direct.entered_states(result["executionArn"])
    assert states[-4:] == ["PaymentCaptured?", "ReleaseInventory", "WhyReleased?", "PaymentFailed"]
    assert direct.stock("DECL-A") == {"available": 4, "reserved": 0}
    stored = direct.order("declined-1")
    assert (stored["paymentStatus"], stored["reservationState"], stored["status"]) == (
        "DECLINED",
        "RELEASED",
        "CANCELLED",
    )


def test_transient_payment_error_is_retried_with_backoff_then_succeeds(direct: Account) -> None:
    direct.put_stock("TRANS-A", 2)
    waits_before = len(direct.retry_waits)
    result = direct.run(order("transient-1", reference="tok_transient_2", lines=[("TRANS-A", 1, "12.34")]))

    assert result["status"] == "SUCCEEDED"
    history = direct.history(result["executionArn"])
    failures = [e for e in history if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failures] == ["TransientPaymentError"] * 2
    waits = direct.retry_waits[waits_before:]
    # IntervalSeconds 2, BackoffRate 2, JitterStrategy FULL: each wait is drawn from [0, 2] then [0, 4].
    assert len(waits) == 2
    assert 0 <= waits[0] <= 2 and 0 <= waits[1] <= 4
    assert direct.stock("TRANS-A") == {"available": 1, "reserved": 0}
    assert direct.order("transient-1")["paymentStatus"] == "CAPTURED"


def test_malformed_order_fails_at_validation_with_its_reason(direct: Account) -> None:
    bad = order("bad-1", lines=[("BAD-A", 2, "10.00")])
    bad["items"][0]["quantity"] = -2
    bad["totalAmount"] = 99.999
    result = direct.run(bad)

    assert (result["status"], result["error"]) == ("FAILED", "InvalidOrder")
    cause = json.loads(result["cause"])
    assert "order.items[0].quantity" in cause["errorMessage"]
    assert "order.totalAmount" in cause["errorMessage"]
    assert direct.entered_states(result["executionArn"]) == ["ValidateOrder", "OrderRejected"]
    with pytest.raises(Exception, match="does not exist"):
        direct.order("bad-1")


def test_same_order_submitted_twice_is_processed_once(direct: Account) -> None:
    direct.put_stock("DUP-A", 10)
    first = direct.run(order("dup-1", lines=[("DUP-A", 4, "2.50")]))
    second = direct.run(order("dup-1", lines=[("DUP-A", 4, "2.50")]))

    assert first["status"] == second["status"] == "SUCCEEDED"
    assert direct.entered_states(second["executionArn"]) == ["ValidateOrder", "DuplicateOrderIgnored"]
    assert direct.stock("DUP-A") == {"available": 6, "reserved": 0}
    assert direct.order("dup-1")["executionId"] == first["executionArn"]


def test_lifecycle_events_reach_the_consumer_and_are_recorded_once(direct: Account) -> None:
    direct.lifecycle_messages()
    direct.put_stock("LIFE-A", 3)
    direct.run(order("life-1", lines=[("LIFE-A", 1, "3.00")]))
    records = direct.lifecycle_messages()
    kinds = sorted(json.loads(r["body"])["detail-type"] for r in records)
    assert kinds == ["Order Fulfilled", "Payment Completed"]

    assert lifecycle.handler({"Records": records}, None) == {"batchItemFailures": []}
    # SQS redelivers the same messages: nothing new is recorded, nothing fails.
    assert lifecycle.handler({"Records": records}, None) == {"batchItemFailures": []}
    recorded = direct.order("life-1")["lifecycle"]
    assert sorted(recorded) == kinds
    by_type = {json.loads(r["body"])["detail-type"]: json.loads(r["body"])["id"] for r in records}
    assert {k: v["eventId"] for k, v in recorded.items()} == by_type


def test_direct_consumer_never_reads_the_callback_table_it_has_no_grant_on(direct: Account) -> None:
    direct.lifecycle_messages()
    direct.put_stock("LIFE-B", 2)
    direct.run(order("life-2", lines=[("LIFE-B", 1, "3.00")]))
    records = direct.lifecycle_messages()
    assert "Payment Completed" in {json.loads(r["body"])["detail-type"] for r in records}
    # What the real role answers: the direct variant grants nothing on the callback table.
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no grant"}}, "GetItem")
    with mock.patch.object(lifecycle, "pending_callback", side_effect=denied) as read_tokens:
        assert lifecycle.handler({"Records": records}, None) == {"batchItemFailures": []}
    read_tokens.assert_not_called()
    assert "Payment Completed" in direct.order("life-2")["lifecycle"]


def test_bus_refusing_payment_completed_once_is_retried_and_the_paid_order_completes(direct: Account) -> None:
    direct.put_stock("PUB-A", 3)
    real_publish = runtime.publish
    refused: list[str] = []

    def refuse_first_payment_event(events: Any, bus: str, source: str, detail_type: str, detail: dict) -> str:
        if detail_type == runtime.PAYMENT_COMPLETED and not refused:
            refused.append(detail["orderId"])
            raise runtime.EventPublishError(f"{detail_type} rejected: InternalFailure")
        return real_publish(events, bus, source, detail_type, detail)

    with mock.patch.object(runtime, "publish", side_effect=refuse_first_payment_event):
        result = direct.run(order("pub-1", lines=[("PUB-A", 2, "4.00")]))

    assert refused == ["pub-1"]
    assert result["status"] == "SUCCEEDED"
    failures = [e for e in direct.history(result["executionArn"]) if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failures] == ["EventPublishError"]
    assert direct.stock("PUB-A") == {"available": 1, "reserved": 0}
    stored = direct.order("pub-1")
    assert (stored["status"], stored["paymentStatus"], stored["reservationState"]) == (
        "FULFILLED",
        "CAPTURED",
        "COMMITTED",
    )
