"""Order intake that survives a region loss: the DR intake bus and the EventBridge global endpoint (prod)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError, parse_stack_config
from components.order_workflow import events
from offline.runner import PlanGraph, RecordedResource, flatten_config, merge_config
from tests.conftest import stack_config

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"


def named(plan: PlanGraph, type_token: str, name: str) -> RecordedResource:
    return plan.one(type_token, name)


def region(plan: PlanGraph, resource: RecordedResource) -> str:
    return plan.provider_inputs(resource)["region"]


def test_global_endpoint_fails_over_to_a_same_name_bus_in_the_dr_region(prod_plan: PlanGraph) -> None:
    bus = named(prod_plan, "aws:cloudwatch/eventBus:EventBus", "orders-bus")
    dr_bus = named(prod_plan, "aws:cloudwatch/eventBus:EventBus", "orders-dr-bus")
    assert dr_bus.inputs["name"] == bus.inputs["name"] == "platform-prod-orders-bus"
    assert (region(prod_plan, bus), region(prod_plan, dr_bus)) == ("us-east-1", "us-west-2")
    dr_key = named(prod_plan, "aws:kms/key:Key", "orders-intake-key-key")
    assert region(prod_plan, dr_key) == "us-west-2" and dr_bus.inputs["kmsKeyIdentifier"] == dr_key.outputs["arn"]
    endpoint = named(prod_plan, "aws:cloudwatch/eventEndpoint:EventEndpoint", "orders-global-endpoint")
    health = named(prod_plan, "aws:route53/healthCheck:HealthCheck", "orders-intake-health")
    assert endpoint.inputs["eventBuses"] == [
        {"eventBusArn": bus.outputs["arn"]},
        {"eventBusArn": dr_bus.outputs["arn"]},
    ]
    assert endpoint.inputs["routingConfig"] == {
        "failoverConfig": {"primary": {"healthCheck": health.outputs["arn"]}, "secondary": {"route": "us-west-2"}}
    }
    # No consumers run in the DR region: a replicated copy would only come back to the primary bus twice.
    assert endpoint.inputs["replicationConfig"] == {"state": "DISABLED"}
    outputs = prod_plan.outputs["orders"]
    assert outputs["globalEndpointUrl"] == f"https://{outputs['globalEndpointId']}.endpoints.event.amazonaws.com"
    assert outputs["drIntakeBusArn"] == dr_bus.outputs["arn"]


def test_health_check_follows_the_primary_intake_latency_alarm(prod_plan: PlanGraph) -> None:
    alarm = named(prod_plan, "aws:cloudwatch/metricAlarm:MetricAlarm", "orders-intake-latency")
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == (
        "AWS/Events",
        "IngestionToInvocationStartLatency",
    )
    assert (alarm.inputs["statistic"], alarm.inputs["period"], alarm.inputs["evaluationPeriods"]) == ("Average", 60, 5)
    assert (alarm.inputs["threshold"], alarm.inputs["comparisonOperator"]) == (30_000, "GreaterThanThreshold")
    assert alarm.inputs["treatMissingData"] == "notBreaching"
    assert region(prod_plan, alarm) == "us-east-1"
    health = named(prod_plan, "aws:route53/healthCheck:HealthCheck", "orders-intake-health")
    assert health.inputs["type"] == "CLOUDWATCH_METRIC"
    assert (health.inputs["cloudwatchAlarmName"], health.inputs["cloudwatchAlarmRegion"]) == (
        alarm.inputs["name"],
        "us-east-1",
    )
    assert health.inputs["insufficientDataHealthStatus"] == "Healthy"


def test_dr_rules_forward_the_primary_rules_events_for_a_day_then_dead_letter(prod_plan: PlanGraph) -> None:
    bus = named(prod_plan, "aws:cloudwatch/eventBus:EventBus", "orders-bus")
    dr_rules = {r.name: r for r in prod_plan.of_type(RULE) if r.name.startswith("orders-dr-")}
    patterns = {json.loads(r.inputs["eventPattern"])["detail-type"][0] for r in dr_rules.values()}
    assert patterns == {"Order Placed", "Payment Completed", "Order Fulfilled", "Payment Declined"}
    assert json.loads(dr_rules["orders-dr-order-placed"].inputs["eventPattern"]) == events.ORDER_PLACED_PATTERN
    role = named(prod_plan, "aws:iam/role:Role", "orders-dr-forward-role")
    policy = json.loads(named(prod_plan, "aws:iam/rolePolicy:RolePolicy", "orders-dr-forward-policy").inputs["policy"])
    assert policy["Statement"] == [
        {"Sid": "ForwardToPrimaryBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus.outputs["arn"]}
    ]
    dlq = named(prod_plan, "aws:sqs/queue:Queue", "orders-dr-intake-dlq")
    assert region(prod_plan, dlq) == "us-west-2"
    for rule in dr_rules.values():
        assert region(prod_plan, rule) == "us-west-2"
        target = named(prod_plan, TARGET, f"{rule.name}-forward")
        assert (target.inputs["arn"], target.inputs["roleArn"]) == (bus.outputs["arn"], role.outputs["arn"])
        assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 86_400, "maximumRetryAttempts": 185}
        assert target.inputs["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    archive = named(prod_plan, "aws:cloudwatch/eventArchive:EventArchive", "orders-dr-archive")
    assert (
        archive.inputs["eventSourceArn"]
        == named(prod_plan, "aws:cloudwatch/eventBus:EventBus", "orders-dr-bus").outputs["arn"]
    )
    assert archive.protect is True
    send = json.loads(
        named(prod_plan, "aws:sqs/queuePolicy:QueuePolicy", "orders-dr-intake-dlq-policy").inputs["policy"]
    )
    sources = send["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(sources) == sorted(r.outputs["arn"] for r in dr_rules.values())


def test_dev_has_no_global_endpoint(dev_plan: PlanGraph) -> None:
    assert dev_plan.of_type("aws:cloudwatch/eventEndpoint:EventEndpoint") == []
    assert "globalEndpointId" not in dev_plan.outputs.get("orders", {})


def _config(overrides: dict[str, Any]) -> Any:
    raw = flatten_config(merge_config(stack_config("dev"), {"platform:orders": overrides}))
    return parse_stack_config(raw, project="platform", stack="dev")


def test_a_global_endpoint_without_a_dr_intake_bus_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        _config({"globalEndpoint": True, "drIntakeBus": False})
    assert "globalEndpoint needs drIntakeBus: true" in str(caught.value)
    assert _config({"globalEndpoint": True, "drIntakeBus": True}).orders.global_endpoint is True
