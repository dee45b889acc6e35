"""The component's event patterns and input transformer, evaluated by EventBridge (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from components.order_workflow import events as patterns

REGION = "eu-west-1"
BUS = "orders-bus"
ORDER_DATA = {"orderId": "o-1", "customerId": "C1", "items": [{"productId": "P", "quantity": 1, "price": 9.99}]}


@pytest.fixture(scope="module")
def bus() -> Iterator[dict[str, Any]]:
    """One probe queue per rule; the OrderPlaced probe has the state machine target's input transformer."""
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        queues = {}
        rules = {
            "order-placed": patterns.ORDER_PLACED_PATTERN,
            "payment-completed": patterns.PAYMENT_COMPLETED_PATTERN,
            "payment-progress": patterns.PAYMENT_PROGRESS_PATTERN,
            "order-fulfilled": patterns.ORDER_FULFILLED_PATTERN,
        }
        for name, pattern in rules.items():
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=name, EventBusName=BUS, EventPattern=patterns.pattern_json(pattern))
            target: dict[str, Any] = {"Id": "probe", "Arn": arn}
            if name == "order-placed":
                target["InputTransformer"] = {
                    "InputPathsMap": patterns.ORDER_PLACED_INPUT_PATHS,
                    "InputTemplate": patterns.ORDER_PLACED_INPUT_TEMPLATE,
                }
            events.put_targets(Rule=name, EventBusName=BUS, Targets=[target])
            queues[name] = url
        yield {"events": events, "sqs": sqs, "queues": queues}


def _routed(bus: dict[str, Any], source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, list[Any]]:
    """Publish one event and return, per rule, the bodies its target received."""
    result = bus["events"].put_events(
        Entries=[{"EventBusName": BUS, "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )
    assert result["FailedEntryCount"] == 0
    routed: dict[str, list[Any]] = {}
    for name, url in bus["queues"].items():
        messages = bus["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            bus["sqs"].delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        routed[name] = [json.loads(m["Body"]) for m in messages]
    return {name: bodies for name, bodies in routed.items() if bodies}


def test_order_placed_reaches_the_workflow_as_order_and_event_id(bus: dict[str, Any]) -> None:
    routed = _routed(bus, "ecommerce.orders", "Order Placed", {"status": "pending", "orderData": ORDER_DATA})
    assert list(routed) == ["order-placed"]
    (execution_input,) = routed["order-placed"]
    assert execution_input["order"] == ORDER_DATA
    assert isinstance(execution_input["eventId"], str) and execution_input["eventId"]


@pytest.mark.parametrize(
    ("source", "detail_type", "status"),
    [
        ("ecommerce.shop", "Order Placed", "pending"),  # wrong source
        ("ecommerce.orders", "Order Updated", "pending"),  # wrong detail-type
        ("ecommerce.orders", "Order Placed", "confirmed"),  # wrong status
    ],
)
def test_order_placed_ignores_other_events(bus: dict[str, Any], source: str, detail_type: str, status: str) -> None:
    assert _routed(bus, source, detail_type, {"status": status, "orderData": ORDER_DATA}) == {}


def test_payment_completed_matches_only_successful_payments(bus: dict[str, Any]) -> None:
    detail = {"orderId": "o-1", "status": "success", "transactionId": "t-1"}
    routed = _routed(bus, "ecommerce.payments", "Payment Completed", detail)
    assert list(routed) == ["payment-completed"]
    assert routed["payment-completed"][0]["detail"] == detail
    assert _routed(bus, "ecommerce.payments", "Payment Completed", {**detail, "status": "failed"}) == {}
    assert _routed(bus, "ecommerce.orders", "Payment Completed", detail) == {}
    assert _routed(bus, "ecommerce.payments", "Payment Captured", detail) == {}


def test_gateway_progress_and_fulfilment_rules(bus: dict[str, Any]) -> None:
    assert list(_routed(bus, "ecommerce.payments", "Payment Declined", {"orderId": "o-1"})) == ["payment-progress"]
    assert list(_routed(bus, "ecommerce.payments", "Payment Processing", {"orderId": "o-1"})) == ["payment-progress"]
    assert _routed(bus, "ecommerce.payments", "Payment Requested", {"orderId": "o-1"}) == {}
    fulfilled = {"orderId": "o-1", "status": "fulfilled"}
    assert list(_routed(bus, "ecommerce.fulfillment", "Order Fulfilled", fulfilled)) == ["order-fulfilled"]
    assert _routed(bus, "ecommerce.orders", "Order Fulfilled", fulfilled) == {}
