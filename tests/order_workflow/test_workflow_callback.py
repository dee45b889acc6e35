"""The callback-payment ASL definition (waitForTaskToken) executed by moto's Step Functions interpreter:
the external gateway's answer travels bus -> rule -> queue -> lifecycle consumer -> SendTaskSuccess.

See emulator.py for how Task states reach the handler code in-process.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from handlers.order_workflow import lifecycle
from tests.order_workflow.emulator import Account, emulated_account, order


@pytest.fixture(scope="module")
def callback() -> Any:
    with emulated_account("callback", heartbeat_seconds=60, timeout_seconds=300) as account:
        yield account


def _gateway_answers(account: Account, detail_type: str, detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The external gateway publishes its answer on the bus; the rules route it to the consumer's queue."""
    account.events.put_events(
        Entries=[
            {
                "EventBusName": "orders-bus",
                "Source": "ecommerce.payments",
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    )
    return account.lifecycle_messages()


def test_callback_variant_waits_for_the_gateway_and_completes(callback: Account) -> None:
    callback.put_stock("CB-A", 5)
    arn = callback.start(order("cb-ok", lines=[("CB-A", 2, "50.00")]))
    callback.wait(arn, until=("ProcessPayment",))
    _wait_for_token(callback, "cb-ok")
    assert callback.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert callback.stock("CB-A") == {"available": 3, "reserved": 2}

    heartbeat = _gateway_answers(callback, "Payment Processing", {"orderId": "cb-ok"})
    assert lifecycle.handler({"Records": heartbeat}, None) == {"batchItemFailures": []}
    answer = _gateway_answers(
        callback, "Payment Completed", {"orderId": "cb-ok", "status": "success", "transactionId": "gw-123"}
    )
    assert lifecycle.handler({"Records": answer}, None) == {"batchItemFailures": []}
    result = callback.wait(arn)

    assert result["status"] == "SUCCEEDED"
    assert callback.stock("CB-A") == {"available": 3, "reserved": 0}
    stored = callback.order("cb-ok")
    assert (stored["status"], stored["transactionId"]) == ("FULFILLED", "gw-123")
    history = callback.history(arn)
    assert any(e["type"] == "TaskSucceeded" and "gw-123" in e["taskSucceededEventDetails"]["output"] for e in history)
    token = callback.ddb.get_item(TableName="callbacks", Key={"orderId": {"S": "cb-ok"}})["Item"]
    assert token["state"]["S"] == "RESOLVED"
    # The same answer delivered again resumes nothing and fails nothing.
    assert lifecycle.handler({"Records": answer}, None) == {"batchItemFailures": []}


def test_callback_variant_decline_releases_the_reservation(callback: Account) -> None:
    callback.put_stock("CB-B", 5)
    arn = callback.start(order("cb-declined", lines=[("CB-B", 5, "1.00")]))
    _wait_for_token(callback, "cb-declined")
    assert callback.stock("CB-B") == {"available": 0, "reserved": 5}

    answer = _gateway_answers(callback, "Payment Declined", {"orderId": "cb-declined", "reason": "insufficient_funds"})
    assert lifecycle.handler({"Records": answer}, None) == {"batchItemFailures": []}
    result = callback.wait(arn)

    assert (result["status"], result["error"]) == ("FAILED", "PaymentDeclined")
    assert callback.stock("CB-B") == {"available": 5, "reserved": 0}
    assert callback.order("cb-declined")["paymentReason"] == "insufficient_funds"


def test_gateway_round_trip_request_through_the_api_destination_answer_through_the_bus(callback: Account) -> None:
    callback.payment_requests()
    callback.put_stock("CB-RT", 3)
    arn = callback.start(order("cb-roundtrip", reference="pm_ref_123", lines=[("CB-RT", 1, "12.50")]))
    _wait_for_token(callback, "cb-roundtrip")

    # What the API destination POSTs to the gateway: the request, never the envelope or a card token.
    [request] = _requests_received(callback)
    assert request == {
        "orderId": "cb-roundtrip",
        "amount": "12.50",
        "currency": "USD",
        "paymentReference": "pm_ref_123",
    }
    # The gateway answers on the bus (its account may put ecommerce.payments answers only).
    answer = _gateway_answers(
        callback, "Payment Completed", {"orderId": request["orderId"], "status": "success", "transactionId": "gw-rt"}
    )
    assert lifecycle.handler({"Records": answer}, None) == {"batchItemFailures": []}
    assert callback.wait(arn)["status"] == "SUCCEEDED"
    assert callback.stock("CB-RT") == {"available": 2, "reserved": 0}


def _requests_received(account: Account) -> list[dict[str, Any]]:
    for _ in range(500):
        if requests := account.payment_requests():
            return requests
        time.sleep(0.01)
    raise AssertionError("the gateway received no payment request")


def _wait_for_token(account: Account, order_id: str) -> None:
    for _ in range(500):
        item = account.ddb.get_item(TableName="callbacks", Key={"orderId": {"S": order_id}}).get("Item")
        if item:
            return
        time.sleep(0.01)
    raise AssertionError(f"no task token stored for {order_id}")
