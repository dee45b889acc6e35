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


# Below this many started executions in the window the share says nothing (a quiet night's one declined card).
MIN_STARTED_FOR_RATE = 10
RATE_WINDOW_SECONDS = 900


def failure_rate_alarm(
    scope: Scope, args: OrderWorkflowArgs, machine_arn: pulumi.Input[str]
) -> aws.cloudwatch.MetricAlarm:
    """Failed executions as a share of started ones. Business outcomes (declined card, out of stock, invalid
    order) end in Fail states and count in ExecutionsFailed, so a count alarm would page for every declined
    card; an outage of the gateway or the store fails most executions, which the share shows."""
    dimensions = {"StateMachineArn": machine_arn}

    def executions(query_id: str, metric: str) -> dict[str, Any]:
        return {
            "id": query_id,
            "return_data": False,
            "metric": {
                "namespace": "AWS/States",
                "metric_name": metric,
                "dimensions": dimensions,
                "period": RATE_WINDOW_SECONDS,
                "stat": "Sum",
            },
        }

    expression = f"IF(FILL(started, 0) >= {MIN_STARTED_FOR_RATE}, 100 * FILL(failed, 0) / FILL(started, 1), 0)"
    return aws.cloudwatch.MetricAlarm(
        scope.child("failed-executions"),
        name=scope.ctx.name(scope.slug, "failed-executions", service="alarm"),
        alarm_description=(
            f"At least {args.failed_executions_percent}% of the order executions started in 15 minutes failed "
            "(declined cards and stock-outs fail a few; this many means an outage): check the execution history"
        ),
        metric_queries=[
            executions("failed", "ExecutionsFailed"),
            executions("started", "ExecutionsStarted"),
            {"id": "failure_rate", "expression": expression, "label": "Failed executions (%)", "return_data": True},
        ],
        evaluation_periods=1,
        threshold=args.failed_executions_percent,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[scope.alarm_topic_arn],
        ok_actions=[scope.alarm_topic_arn],
        opts=scope.opts(),
    )


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
    failed = failure_rate_alarm(scope, args, machine_arn)
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
