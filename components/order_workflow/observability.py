"""The order workflow's alarms (apart from declined cards, which are business) and its dashboard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.observability import Metric, lambda_errors, queue_depth
from components.order_workflow.args import OrderWorkflowArgs
from components.scope import Scope


def _executions(metric: str, machine_arn: pulumi.Input[str]) -> Metric:
    return Metric("AWS/States", metric, {"StateMachineArn": machine_arn}, "Sum")


def order_alarms(
    scope: Scope,
    args: OrderWorkflowArgs,
    *,
    machine_arn: pulumi.Input[str],
    release_function_name: pulumi.Input[str],
    queues: Sequence[tuple[str, aws.sqs.Queue]],
) -> list[aws.cloudwatch.MetricAlarm]:
    """Failed and timed-out executions, a stuck compensation, and any message in a dead-letter or
    reconciliation queue."""
    failed = scope.alarm(
        "failed-executions",
        "Order executions failed (declined, out of stock or errors): check the execution history",
        _executions("ExecutionsFailed", machine_arn),
        threshold=args.failed_executions_threshold,
        comparison_operator="GreaterThanOrEqualToThreshold",
    )
    timed_out = scope.alarm(
        "timed-out-executions",
        "Order executions timed out: they hold stock until redriven or reaped",
        _executions("ExecutionsTimedOut", machine_arn),
        threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
    )
    release = scope.alarm(
        "release-failures",
        "ReleaseInventory failed: compensation is stuck (the execution fails at it and is redriven)",
        lambda_errors(release_function_name),
        threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
    )
    dead_letters = [
        scope.alarm(
            f"{purpose}-messages",
            f"Messages in {purpose}: undeliverable events, failing messages or refunds to settle by hand",
            queue_depth(queue.name),
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            notify_ok=False,
        )
        for purpose, queue in queues
    ]
    return [failed, timed_out, release, *dead_letters]


def order_dashboard(
    scope: Scope,
    *,
    machine_arn: pulumi.Input[str],
    bus_name: pulumi.Input[str],
    rule_names: Sequence[pulumi.Input[str]],
) -> aws.cloudwatch.Dashboard:
    region = scope.where

    def body(values: list[Any]) -> str:
        machine, bus, *names = values
        executions = [
            ["AWS/States", metric, "StateMachineArn", machine]
            for metric in ("ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")
        ]
        invocations = [
            ["AWS/Events", metric, "EventBusName", bus, "RuleName", rule]
            for rule in names
            for metric in ("Invocations", "FailedInvocations")
        ]
        widget = {"type": "metric", "width": 12, "height": 6}
        return json.dumps(
            {
                "widgets": [
                    {**widget, "properties": {"title": "Order executions", "metrics": executions,
                                              "stat": "Sum", "period": 300, "region": region}},
                    {**widget, "properties": {"title": "Rule invocations", "metrics": invocations,
                                              "stat": "Sum", "period": 300, "region": region}},
                ]
            }
        )  # fmt: skip

    return aws.cloudwatch.Dashboard(
        scope.child("dashboard"),
        dashboard_name=scope.physical("dashboard"),
        dashboard_body=pulumi.Output.all(machine_arn, bus_name, *rule_names).apply(body),
        opts=scope.opts(),
    )
