"""Recovery paths of the real direct-payment definition on moto's interpreter: outages that outlast
the retries stay redrivable, failures after a capture are refunded once, and the reaper frees stock
of executions that never recover.

`pytest -k "redrive or refund"` selects the redrive and refund cases.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import pytest

from handlers.common import params
from handlers.order_workflow import fulfil as fulfil_task
from handlers.order_workflow import reaper, runtime, store
from handlers.order_workflow.gateway import LocalGateway
from handlers.order_workflow.store import FulfilmentFailed
from tests.order_workflow.emulator import (
    ENVIRONMENT,
    PARAMETERS,
    REGION,
    Account,
    emulated_account,
    order,
    put_parameters,
)


@pytest.fixture(scope="module")
def direct() -> Iterator[Account]:
    with emulated_account("direct") as account:
        yield account


class GatewayCalls:
    """Counts what reached the sandbox gateway, per order."""

    def __init__(self) -> None:
        self.charges: list[str] = []
        self.refunds: list[str] = []


@pytest.fixture
def gateway() -> Iterator[GatewayCalls]:
    calls = GatewayCalls()
    charge, refund = LocalGateway.charge, LocalGateway.refund

    def counted_charge(self: LocalGateway, request: Any) -> Any:
        outcome = charge(self, request)
        calls.charges.append(request.order_id)
        return outcome

    def counted_refund(self: LocalGateway, request: Any) -> Any:
        outcome = refund(self, request)
        calls.refunds.append(request.order_id)
        return outcome

    with (
        mock.patch.object(LocalGateway, "charge", counted_charge),
        mock.patch.object(LocalGateway, "refund", counted_refund),
    ):
        yield calls


def _throttled(*_: Any, **__: Any) -> None:
    """What DynamoDB answers during a throttling storm that outlasts the SDK's own retries."""
    ddb = runtime.client("dynamodb")
    raise ddb.exceptions.ProvisionedThroughputExceededException(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate of requests exceeds"}},
        "TransactWriteItems",
    )


def _history_types(account: Account, arn: str) -> list[str]:
    return [event["type"] for event in account.history(arn)]


def _resume(account: Account, arn: str, submitted: dict[str, Any]) -> dict[str, Any]:
    """RedriveExecution where the emulator has it; moto 5 has not (NotImplementedError), so the
    operator's other way: the same order submitted again, which takes the stopped order over."""
    try:
        account.sfn.redrive_execution(executionArn=arn)
    except NotImplementedError:
        return account.run(submitted)
    return account.wait(arn)


def test_redrive_after_an_outage_that_outlasts_the_retries_completes_the_order_once(
    direct: Account, gateway: GatewayCalls
) -> None:
    direct.put_stock("OUT-A", 5)
    submitted = order("outage-1", lines=[("OUT-A", 2, "10.00")])
    with mock.patch.object(store, "_settle", side_effect=_throttled):
        failed = direct.run(submitted)

    # Failed AT the task (no Fail state entered), so RedriveExecution could resume it right there.
    assert (failed["status"], failed["error"]) == ("FAILED", "StoreThrottled")
    assert direct.entered_states(failed["executionArn"])[-1] == "FulfilOrder"
    types = _history_types(direct, failed["executionArn"])
    assert "FailStateEntered" not in types
    assert types.count("TaskFailed") == 7  # the first attempt and 6 retries
    # Nothing moved twice or back: the units stay held and the capture stays recorded.
    assert direct.stock("OUT-A") == {"available": 3, "reserved": 2}
    held = direct.order("outage-1")
    assert (held["reservationState"], held["paymentStatus"], held["status"]) == ("HELD", "CAPTURED", "PAID")
    assert gateway.charges == ["outage-1"]

    resumed = _resume(direct, failed["executionArn"], submitted)

    assert resumed["status"] == "SUCCEEDED"
    assert direct.stock("OUT-A") == {"available": 3, "reserved": 0}
    done = direct.order("outage-1")
    assert (done["status"], done["reservationState"]) == ("FULFILLED", "COMMITTED")
    assert done["previousExecutionId"] == failed["executionArn"]
    assert gateway.charges == ["outage-1"], "charged once over both executions"
    assert gateway.refunds == []


def test_redrive_of_a_settled_order_changes_nothing(direct: Account, gateway: GatewayCalls) -> None:
    direct.put_stock("SET-A", 1)
    submitted = order("settled-1", lines=[("SET-A", 1, "1.00")])
    assert direct.run(submitted)["status"] == "SUCCEEDED"
    again = direct.run(submitted)
    assert again["status"] == "SUCCEEDED"
    assert direct.entered_states(again["executionArn"]) == ["ValidateOrder", "DuplicateOrderIgnored"]
    assert direct.stock("SET-A") == {"available": 0, "reserved": 0}
    assert gateway.charges == ["settled-1"]


def test_refund_when_fulfilment_fails_after_capture_ends_refunded_with_stock_restored(
    direct: Account, gateway: GatewayCalls
) -> None:
    direct.put_stock("FUL-A", 4)
    refused = FulfilmentFailed("order fulfil-1 cannot be fulfilled: the warehouse refused the parcel")
    with mock.patch.object(fulfil_task, "fulfil", side_effect=refused):
        result = direct.run(order("fulfil-1", lines=[("FUL-A", 3, "7.00")]))

    assert (result["status"], result["error"]) == ("FAILED", "FulfilmentFailed")
    assert direct.entered_states(result["executionArn"])[-5:] == [
        "FulfilOrder", "RefundPayment", "ReleaseInventory", "WhyReleased?", "FulfillmentFailed",
    ]  # fmt: skip
    assert direct.stock("FUL-A") == {"available": 4, "reserved": 0}
    stored = direct.order("fulfil-1")
    assert (stored["status"], stored["refundStatus"], stored["reservationState"]) == (
        "REFUNDED",
        "REFUNDED",
        "RELEASED",
    )
    assert stored["refundId"].startswith("rf_")
    assert gateway.refunds == ["fulfil-1"]
    # Submitted again, the refunded order is settled: no second charge, no second refund.
    assert direct.run(order("fulfil-1", lines=[("FUL-A", 3, "7.00")]))["status"] == "SUCCEEDED"
    assert (gateway.charges, gateway.refunds) == (["fulfil-1"], ["fulfil-1"])


def test_refund_the_gateway_refuses_goes_to_reconciliation_and_the_stock_is_released(
    direct: Account, gateway: GatewayCalls
) -> None:
    direct.put_stock("REC-A", 2)
    refused = FulfilmentFailed("order norefund-1 cannot be fulfilled")
    with mock.patch.object(fulfil_task, "fulfil", side_effect=refused):
        result = direct.run(order("norefund-1", reference="tok_norefund_card", lines=[("REC-A", 2, "3.00")]))

    assert (result["status"], result["error"]) == ("FAILED", "FulfilmentFailed")
    assert direct.stock("REC-A") == {"available": 2, "reserved": 0}
    stored = direct.order("norefund-1")
    assert (stored["status"], stored["refundStatus"], stored["refundReason"]) == (
        "REFUND_REQUIRED",
        "REJECTED",
        "refund_not_allowed",
    )
    messages = direct.sqs.receive_message(QueueUrl=ENVIRONMENT["RECONCILIATION_QUEUE_URL"], MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in messages["Messages"]]
    assert bodies == [{"orderId": "norefund-1", "origin": "RefundPayment", "reason": "refund_not_allowed"}]
    assert "tok_norefund" not in json.dumps(bodies)
    assert gateway.refunds == ["norefund-1"]


def test_reaper_refunds_and_releases_an_order_whose_execution_failed_for_good(
    direct: Account, gateway: GatewayCalls
) -> None:
    direct.put_stock("REAP-A", 3)
    with mock.patch.object(store, "_settle", side_effect=_throttled):
        failed = direct.run(order("reap-1", lines=[("REAP-A", 2, "5.00")]))
    assert failed["status"] == "FAILED"
    stopped = failed["stopDate"]
    rules = reaper.ReaperSettings(reap_after=timedelta(hours=1), max_auto_redrives=0)
    settings = runtime.settings()

    def run_reaper(at: Any) -> dict[str, Any]:
        return reaper.reap(direct.ddb, direct.sfn, direct.sqs, settings, rules, at)

    # Inside the operators' window the hold stays: a redrive could still resume the execution.
    assert "reap-1" not in run_reaper(stopped + timedelta(minutes=59))["reaped"]
    assert direct.stock("REAP-A") == {"available": 1, "reserved": 2}

    summary = run_reaper(stopped + timedelta(hours=1, seconds=1))
    assert "reap-1" in summary["reaped"] and summary["failed"] == []
    assert direct.stock("REAP-A") == {"available": 3, "reserved": 0}
    stored = direct.order("reap-1")
    assert (stored["status"], stored["reservationState"]) == ("REFUNDED", "RELEASED")
    assert gateway.refunds == ["reap-1"]
    # A second run finds nothing more to do for it.
    assert "reap-1" not in run_reaper(stopped + timedelta(hours=2))["reaped"]
    assert gateway.refunds == ["reap-1"]


def test_reaper_entry_point_reads_its_rules_from_the_parameters_and_reaps(
    direct: Account, gateway: GatewayCalls
) -> None:
    """The scheduled entry point end to end: rules from SSM (`reapAfterSeconds`, `maxAutoRedrives`), the
    owner described, the captured payment refunded, the units released; a later run finds nothing more."""
    direct.put_stock("REAP-B", 2)
    with mock.patch.object(store, "_settle", side_effect=_throttled):
        failed = direct.run(order("reap-2", lines=[("REAP-B", 1, "5.00")]))
    ssm = boto3.client("ssm", region_name=REGION)
    # No automatic redrive left and a one-second window: the execution has failed for good.
    put_parameters(ssm, {"maxAutoRedrives": "0", "reapAfterSeconds": "1"})
    params.clear_cache()  # as a fresh container would read them
    try:
        time.sleep(max(0.0, 1.05 - (datetime.now(UTC) - failed["stopDate"]).total_seconds()))
        summary = reaper.handler({}, None)
        assert "reap-2" in summary["reaped"] and summary["failed"] == []
        assert "reap-2" not in reaper.handler({}, None)["reaped"]
    finally:
        put_parameters(ssm, {k: PARAMETERS[k] for k in ("maxAutoRedrives", "reapAfterSeconds")})
        params.clear_cache()
    assert direct.stock("REAP-B") == {"available": 2, "reserved": 0}
    assert (direct.order("reap-2")["status"], gateway.refunds.count("reap-2")) == ("REFUNDED", 1)
