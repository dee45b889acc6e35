"""A gateway that answers after the callback task stopped waiting, on the real callback definition:
the execution fails at the payment task (redrivable, stock held); the late answer is recorded and
the resumed execution completes with it without asking the gateway again; a capture reported for an
order already released is refunded.

`pytest -k "redrive or refund"` selects both.
"""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest

from handlers.order_workflow import lifecycle, release
from tests.order_workflow.emulator import ENVIRONMENT, Account, emulated_account, order
from tests.order_workflow.test_workflow_callback import _gateway_answers


@pytest.fixture(scope="module")
def impatient() -> Any:
    """A callback account whose payment task stops waiting after 2 s."""
    with emulated_account("callback", heartbeat_seconds=1, timeout_seconds=2) as account:
        yield account


def test_redrive_after_the_gateway_answered_late_completes_without_asking_twice(impatient: Account) -> None:
    impatient.put_stock("LATE-A", 2)
    submitted = order("cb-late", lines=[("LATE-A", 1, "9.00")])
    failed = impatient.wait(impatient.start(submitted), timeout=30)

    # The silent gateway failed the execution AT the payment task, holding the stock: redrivable.
    assert (failed["status"], failed["error"]) == ("FAILED", "States.Timeout")
    assert impatient.entered_states(failed["executionArn"])[-1] == "ProcessPayment"
    assert impatient.stock("LATE-A") == {"available": 1, "reserved": 1}
    assert len(impatient.payment_requests()) == 1

    late = _gateway_answers(
        impatient, "Payment Completed", {"orderId": "cb-late", "status": "success", "transactionId": "gw-late"}
    )
    with mock.patch.object(lifecycle.log, "info") as logged:
        assert lifecycle.handler({"Records": late}, None) == {"batchItemFailures": []}
    actions = [call.kwargs["extra"]["action"] for call in logged.call_args_list if "extra" in call.kwargs]
    assert any(a.startswith("recorded CAPTURED; the task stopped waiting") for a in actions), actions
    assert impatient.order("cb-late")["paymentStatus"] == "CAPTURED"

    # moto 5 has no RedriveExecution: the same order submitted again takes the stopped order over.
    resumed = impatient.run(submitted)
    assert resumed["status"] == "SUCCEEDED", (resumed.get("error"), resumed.get("cause"))
    assert impatient.payment_requests() == [], "the recorded answer resumed it: the gateway was not asked again"
    assert impatient.stock("LATE-A") == {"available": 1, "reserved": 0}
    stored = impatient.order("cb-late")
    assert (stored["status"], stored["transactionId"]) == ("FULFILLED", "gw-late")


def test_refund_of_a_capture_reported_after_the_order_was_released(impatient: Account) -> None:
    impatient.put_stock("LATE-B", 1)
    failed = impatient.wait(impatient.start(order("cb-reaped", lines=[("LATE-B", 1, "4.00")])), timeout=30)
    assert failed["status"] == "FAILED"
    impatient.payment_requests()
    # The reaper released the order after its execution failed for good ...
    release.handler({"orderId": "cb-reaped"}, None)
    assert impatient.stock("LATE-B") == {"available": 1, "reserved": 0}
    # ... and only then does the gateway report the capture. The callback gateway is external and
    # has no refund API wired: the refund goes to an operator (reconciliation queue), once, and the
    # order says the money is still to be given back; the sandbox never claims it.
    late = _gateway_answers(
        impatient, "Payment Completed", {"orderId": "cb-reaped", "status": "success", "transactionId": "gw-reaped"}
    )
    assert lifecycle.handler({"Records": late}, None) == {"batchItemFailures": []}
    assert lifecycle.handler({"Records": late}, None) == {"batchItemFailures": []}
    stored = impatient.order("cb-reaped")
    assert (stored["status"], stored["paymentStatus"], stored["refundStatus"], stored["reservationState"]) == (
        "REFUND_REQUIRED",
        "CAPTURED",
        "REJECTED",
        "RELEASED",
    )
    queued = impatient.sqs.receive_message(QueueUrl=ENVIRONMENT["RECONCILIATION_QUEUE_URL"], MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in queued["Messages"]]
    assert [b["orderId"] for b in bodies] == ["cb-reaped"]
    assert bodies[0]["origin"] == "LateCapture"
