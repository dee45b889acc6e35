"""Handlers and their DynamoDB transactions against moto: atomic reservation, idempotency, consumer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from handlers.order_workflow import fulfil, lifecycle, payment, release, reserve, runtime, validate
from handlers.order_workflow.store import DuplicateOrder, InventoryContention, OrderConflict, get_order
from handlers.order_workflow.store import reserve as reserve_order
from tests.order_workflow.emulator import ACCOUNT, ENVIRONMENT, REGION, _create_tables, order, put_parameters


@pytest.fixture
def ddb() -> Iterator[Any]:
    env = {**ENVIRONMENT, "AWS_DEFAULT_REGION": REGION}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        with mock_aws():
            runtime.reset()
            client = boto3.client("dynamodb", region_name=REGION)
            _create_tables(client)
            put_parameters(boto3.client("ssm", region_name=REGION))
            boto3.client("events", region_name=REGION).create_event_bus(Name=ENVIRONMENT["EVENT_BUS_NAME"])
            yield client
            runtime.reset()


def stock(ddb: Any, product: str, units: int) -> None:
    ddb.put_item(TableName="inventory", Item={"productId": {"S": product}, "available": {"N": str(units)}})


def units(ddb: Any, product: str) -> tuple[int, int]:
    item = ddb.get_item(TableName="inventory", Key={"productId": {"S": product}})["Item"]
    return int(item["available"]["N"]), int(item.get("reserved", {"N": "0"})["N"])


def execution(name: str) -> str:
    """What the state machine passes as `executionId` ($$.Execution.Id): the execution's ARN."""
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:platform-dev-orders-workflow:{name}"


EXEC_1, EXEC_2, EXEC_3 = execution("exec-1"), execution("exec-2"), execution("exec-3")


def placed(order_id: str, lines: list[tuple[str, int, str]], execution: str = EXEC_1, **kw: Any) -> None:
    validate.handler({"order": order(order_id, lines=lines, **kw), "executionId": execution}, None)


def test_validate_creates_once_and_tells_retry_duplicate_and_conflict(ddb: Any) -> None:
    first = validate.handler({"order": order("v-1"), "executionId": EXEC_1}, None)
    assert first["submission"] == "CREATED"
    assert validate.handler({"order": order("v-1"), "executionId": EXEC_1}, None)["submission"] == "RESUMED"
    with (
        mock.patch.object(validate, "execution_running", return_value=True) as running,
        pytest.raises(DuplicateOrder, match=r"already handled by execution arn:aws:states:.*:exec-1, still running"),
    ):
        validate.handler({"order": order("v-1"), "executionId": EXEC_2}, None)
    running.assert_called_once_with(mock.ANY, EXEC_1)
    with pytest.raises(OrderConflict, match="different content"):
        validate.handler({"order": order("v-1", reference="tok_other"), "executionId": EXEC_3}, None)
    assert get_order(ddb, "orders", "v-1")["status"] == "VALIDATED"


def test_order_of_a_stopped_execution_is_taken_over_and_a_settled_one_never(ddb: Any) -> None:
    stock(ddb, "A", 5)
    placed("v-2", [("A", 2, "1.00")], execution=EXEC_1)
    reserve.handler({"orderId": "v-2"}, None)
    # exec-1 is not a running execution (moto knows no such ARN): exec-2 carries the order on.
    taken = validate.handler({"order": order("v-2", lines=[("A", 2, "1.00")]), "executionId": EXEC_2}, None)
    assert taken["submission"] == "TAKEN_OVER"
    stored = get_order(ddb, "orders", "v-2")
    assert (stored["executionId"], stored["previousExecutionId"]) == (EXEC_2, EXEC_1)
    # Its steps are idempotent per order: reserving again takes nothing more.
    assert reserve.handler({"orderId": "v-2"}, None)["status"] == "RESERVED"
    assert units(ddb, "A") == (3, 2)
    payment.handler({"orderId": "v-2", "attempt": 0}, None)
    fulfil.handler({"orderId": "v-2"}, None)
    with pytest.raises(DuplicateOrder, match=r"already processed by execution arn:aws:states:.*:exec-2 \(FULFILLED\)"):
        validate.handler({"order": order("v-2", lines=[("A", 2, "1.00")]), "executionId": EXEC_3}, None)


def test_reservation_is_all_or_nothing_and_names_the_short_products(ddb: Any) -> None:
    stock(ddb, "A", 5)
    stock(ddb, "B", 1)
    placed("r-1", [("A", 2, "1.00"), ("B", 2, "1.00"), ("GHOST", 1, "1.00")])
    result = reserve.handler({"orderId": "r-1"}, None)

    assert result["status"] == "INSUFFICIENT"
    assert result["shortages"] == [
        {"productId": "B", "requested": 2, "available": 1, "reason": "insufficient stock"},
        {"productId": "GHOST", "requested": 1, "available": 0, "reason": "unknown product"},
    ]
    assert units(ddb, "A") == (5, 0) and units(ddb, "B") == (1, 0)
    assert get_order(ddb, "orders", "r-1")["status"] == "OUT_OF_STOCK"
    # Asked again (a retried task), the answer is the same and still nothing moves.
    assert reserve.handler({"orderId": "r-1"}, None) == result


def test_reservation_is_idempotent_on_the_order_id(ddb: Any) -> None:
    stock(ddb, "A", 5)
    placed("r-2", [("A", 2, "1.00"), ("A", 1, "1.00")])
    assert reserve.handler({"orderId": "r-2"}, None)["status"] == "RESERVED"
    assert reserve.handler({"orderId": "r-2"}, None)["status"] == "RESERVED"
    assert units(ddb, "A") == (2, 3)
    assert get_order(ddb, "orders", "r-2")["reservation"] == {"A": 3}


def test_transaction_conflict_is_a_retryable_error_not_a_shortage(ddb: Any) -> None:
    stock(ddb, "A", 5)
    placed("r-3", [("A", 1, "1.00")])
    stubbed = boto3.client("dynamodb", region_name=REGION)
    stubber = Stubber(stubbed)
    stubber.add_response("get_item", ddb.get_item(TableName="orders", Key={"orderId": {"S": "r-3"}}))
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message="Transaction cancelled",
        response_meta={},
    )
    stubber.activate()

    original = stubbed.meta.events

    def add_reasons(parsed: dict[str, Any], **_: Any) -> None:
        parsed["CancellationReasons"] = [{"Code": "None"}, {"Code": "TransactionConflict"}]

    original.register("after-call.dynamodb.TransactWriteItems", add_reasons)
    with pytest.raises(InventoryContention):
        reserve_order(stubbed, "orders", "inventory", "r-3", "now")
    assert units(ddb, "A") == (5, 0)


def test_payment_fulfil_and_release_are_idempotent(ddb: Any) -> None:
    stock(ddb, "A", 5)
    placed("p-1", [("A", 2, "4.50")])
    reserve.handler({"orderId": "p-1"}, None)
    charged = payment.handler({"orderId": "p-1", "attempt": 0}, None)
    assert payment.handler({"orderId": "p-1", "attempt": 1}, None) == charged
    assert fulfil.handler({"orderId": "p-1"}, None) == {"status": "FULFILLED", "newlyFulfilled": True}
    assert fulfil.handler({"orderId": "p-1"}, None) == {"status": "FULFILLED", "newlyFulfilled": False}
    assert units(ddb, "A") == (3, 0)
    # A fulfilled order has nothing to release.
    assert release.handler({"orderId": "p-1"}, None)["released"] is False
    assert units(ddb, "A") == (3, 0)


def test_release_restores_exactly_what_was_reserved_once(ddb: Any) -> None:
    stock(ddb, "A", 5)
    stock(ddb, "B", 9)
    placed("rel-1", [("A", 2, "1.00"), ("B", 4, "1.00")], reference="tok_decline")
    reserve.handler({"orderId": "rel-1"}, None)
    stock_after_reserve = (units(ddb, "A"), units(ddb, "B"))
    assert stock_after_reserve == ((3, 2), (5, 4))
    assert payment.handler({"orderId": "rel-1", "attempt": 0}, None)["status"] == "DECLINED"

    first = release.handler({"orderId": "rel-1"}, None)
    second = release.handler({"orderId": "rel-1"}, None)
    assert first == {
        "released": True,
        "reservationState": "RELEASED",
        "status": "CANCELLED",
        "restored": {"A": 2, "B": 4},
    }
    assert second["released"] is False
    assert (units(ddb, "A"), units(ddb, "B")) == ((5, 0), (9, 0))
    # Releasing an order that never reserved anything is a no-op, not an error.
    assert release.handler({"orderId": "never-placed"}, None)["released"] is False


def _message(
    message_id: str, detail_type: str, detail: dict[str, Any], source: str = "ecommerce.fulfillment"
) -> dict[str, Any]:
    body = {"id": f"evt-{message_id}", "source": "ecommerce.fulfillment", "detail-type": detail_type, "detail": detail}
    return {"messageId": message_id, "body": json.dumps(body)}


def test_consumer_reports_only_the_failed_messages(ddb: Any) -> None:
    placed("c-1", [("A", 1, "1.00")])
    records = [
        _message("m1", "Order Fulfilled", {"orderId": "c-1"}),
        {"messageId": "m2", "body": "not json"},
        _message("m3", "Order Fulfilled", {"orderId": "unknown-order"}),
        _message("m4", "Order Shipped", {"orderId": "c-1"}),
        _message("m5", "Order Fulfilled", {"orderId": "c-1"}),  # same order and type, new event id
    ]
    response = lifecycle.handler({"Records": records}, None)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}, {"itemIdentifier": "m4"}]
    }
    recorded = get_order(ddb, "orders", "c-1")["lifecycle"]
    assert list(recorded) == ["Order Fulfilled"] and recorded["Order Fulfilled"]["eventId"] == "evt-m1"


def test_publish_refuses_to_lose_a_rejected_event(ddb: Any) -> None:
    events = boto3.client("events", region_name=REGION)
    with Stubber(events) as stubber:
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]},
        )
        with pytest.raises(runtime.EventPublishError, match="Order Fulfilled"):
            runtime.publish(events, "orders-bus", "ecommerce.fulfillment", "Order Fulfilled", {"orderId": "o"})


def test_client_errors_other_than_conditions_propagate(ddb: Any) -> None:
    ddb.delete_table(TableName="orders")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        validate.handler({"order": order("x-1"), "executionId": "e"}, None)
