"""The direct variant with an HTTP gateway: ProcessPayment is a Step Functions HTTP Task
(`arn:aws:states:::http:invoke`) through the gateway connection, RecordPayment keeps the answer.

Run on moto's interpreter with the HTTP Task emulated as AWS runs it (http_task.py) against a
gateway API on 127.0.0.1 (gateway_server.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.order_workflow.emulator import GATEWAY_API_KEY, Account, emulated_account, order
from tests.order_workflow.gateway_server import SandboxGateway


@pytest.fixture(scope="module")
def http() -> Iterator[Account]:
    with emulated_account("direct-http") as account:
        yield account


def _gateway(account: Account) -> SandboxGateway:
    assert account.http_gateway is not None
    return account.http_gateway


def test_http_task_charges_through_the_connection_and_the_order_completes(http: Account) -> None:
    http.put_stock("HTTP-A", 3)
    result = http.run(order("http-1", reference="pm_http_1", lines=[("HTTP-A", 2, "15.00")]))

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert http.entered_states(result["executionArn"])[3:6] == ["ProcessPayment", "RecordPayment", "PaymentCaptured?"]
    gateway = _gateway(http)
    # One charge, keyed on the order, with the connection's API key (never in the definition).
    assert gateway.calls["http-1"] == 1
    assert {
        "orderId": "http-1",
        "amount": "30.00",
        "currency": "USD",
        "paymentReference": "pm_http_1",
    } in gateway.bodies
    definition = http.sfn.describe_state_machine(stateMachineArn=http.state_machine_arn)["definition"]
    assert GATEWAY_API_KEY not in definition
    assert http.stock("HTTP-A") == {"available": 1, "reserved": 0}
    stored = http.order("http-1")
    assert (stored["status"], stored["transactionId"]) == ("FULFILLED", gateway.answers["http-1"]["transactionId"])


def test_http_gateway_5xx_is_retried_with_the_same_idempotency_key(http: Account) -> None:
    http.put_stock("HTTP-B", 1)
    result = http.run(order("http-2", reference="tok_transient_2", lines=[("HTTP-B", 1, "5.00")]))

    assert result["status"] == "SUCCEEDED", result.get("cause")
    failures = [
        e["taskFailedEventDetails"]["error"] for e in http.history(result["executionArn"]) if e["type"] == "TaskFailed"
    ]
    assert failures == ["States.Http.StatusCode.503"] * 2
    assert _gateway(http).calls["http-2"] == 3
    assert http.order("http-2")["paymentStatus"] == "CAPTURED"


def test_http_gateway_decline_releases_the_reservation(http: Account) -> None:
    http.put_stock("HTTP-C", 2)
    result = http.run(order("http-3", reference="tok_decline_x", lines=[("HTTP-C", 2, "1.00")]))

    assert (result["status"], result["error"]) == ("FAILED", "PaymentDeclined")
    assert http.stock("HTTP-C") == {"available": 2, "reserved": 0}
    stored = http.order("http-3")
    assert (stored["paymentStatus"], stored["status"]) == ("DECLINED", "CANCELLED")
