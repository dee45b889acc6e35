"""Recovery around the order state machine, built through the component's scope.

* Redrive: Step Functions' `Execution Status Change` (FAILED / TIMED_OUT) for this machine, on the
  default bus, invokes the redrive function, which redrives up to `maxAutoRedrives` times and then
  counts the execution as abandoned (`ExecutionsAbandoned`, alarmed).
* Reaper: on a schedule, releases the stock (and refunds the capture) of orders whose execution
  stopped for good more than `reapAfterSeconds` ago; its failures alarm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import Statement
from components.lambda_function import PythonFunction
from components.observability import Metric, lambda_errors, queue_depth
from components.order_workflow import events
from components.queues import MAX_RETENTION_SECONDS, allow_service_to_send
from components.scope import Scope

REAPER_SCHEDULE = "rate(15 minutes)"
REAPER_TIMEOUT_SECONDS = 300
# Make one function of the component: (purpose, module, description, statements, include, timeout,
# dead-letter queue ARN of its asynchronous invocations).
FunctionFactory = Callable[
    [str, str, str, Sequence[Statement], Sequence[str], int, pulumi.Input[str] | None], PythonFunction
]


@dataclass(frozen=True)
class Recovery:
    redrive_function: PythonFunction
    redrive_rule: aws.cloudwatch.EventRule
    dead_letters: aws.sqs.Queue
    reaper_function: PythonFunction
    reaper_schedule: aws.cloudwatch.EventRule
    alarms: list[aws.cloudwatch.MetricAlarm]


def recovery(
    scope: Scope,
    *,
    make_function: FunctionFactory,
    state_machine_arn: pulumi.Input[str],
    executions_arn: pulumi.Input[str],
    orders_table: aws.dynamodb.Table,
    inventory_table: aws.dynamodb.Table,
    reconcile_refunds: Sequence[Statement],
    queue_key_use: Statement,
    retry_policy: dict[str, int],
) -> Recovery:
    # Events neither rule could deliver, and invocations neither function could finish, wait here.
    dead_letters = scope.queue("recovery-dlq", retention_seconds=MAX_RETENTION_SECONDS)
    describe = Statement(sid="DescribeExecutions", actions=["states:DescribeExecution"], resources=[executions_arn])
    redrive_function = make_function(
        "redrive",
        "redrive",
        "Redrive failed order executions up to maxAutoRedrives, then count them abandoned",
        [
            describe,
            Statement(sid="RedriveExecutions", actions=["states:RedriveExecution"], resources=[executions_arn]),
            queue_key_use,
        ],
        [],
        30,
        dead_letters.arn,
    )
    redrive_rule = aws.cloudwatch.EventRule(
        scope.child("execution-stopped"),
        name=scope.physical("execution-stopped", service="events"),
        description="Order executions that failed or timed out: to the redrive function",
        event_pattern=pulumi.Output.from_input(state_machine_arn).apply(
            lambda arn: events.pattern_json(events.execution_stopped_pattern(arn))
        ),
        state="ENABLED",
        opts=scope.opts(),
    )
    scope.rule_invokes(
        redrive_rule,
        redrive_function,
        invoke_child="redrive-invoke",
        target_child="execution-stopped-target",
        target_id="redrive",
        retry_policy=retry_policy,
        dead_letter_arn=dead_letters.arn,
    )

    reaper_function = make_function(
        "reaper",
        "reaper",
        "Release the stock (refund the capture) of orders whose execution stopped for good",
        [
            describe,
            Statement(
                sid="FindAndSettleHeldOrders",
                actions=["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[orders_table.arn],
            ),
            Statement(sid="RestoreStock", actions=["dynamodb:UpdateItem"], resources=[inventory_table.arn]),
            *reconcile_refunds,
        ],
        ["orders", "store", "gateway", "refund", "refunds"],
        REAPER_TIMEOUT_SECONDS,
        dead_letters.arn,
    )
    reaper_schedule = aws.cloudwatch.EventRule(
        scope.child("reaper-schedule"),
        name=scope.physical("reaper", service="events"),
        description="Release stock held by orders whose execution stopped for good",
        schedule_expression=REAPER_SCHEDULE,
        state="ENABLED",
        opts=scope.opts(),
    )
    scope.rule_invokes(
        reaper_schedule,
        reaper_function,
        invoke_child="reaper-invoke",
        target_child="reaper-target",
        target_id="reaper",
        retry_policy=retry_policy,
        dead_letter_arn=dead_letters.arn,
    )
    allow_service_to_send(
        scope.child("recovery-dlq-policy"),
        dead_letters,
        sid="RecoveryEventsNeverDelivered",
        service="events.amazonaws.com",
        source_arns=[redrive_rule.arn, reaper_schedule.arn],
        opts=scope.opts(),
    )

    alarms = [
        scope.alarm(
            "executions-abandoned",
            "Order executions failed past their automatic redrives: redrive by hand or let the reaper release them",
            Metric("Platform", "ExecutionsAbandoned", {"FunctionName": redrive_function.function.name}, "Sum"),
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
        ),
        scope.alarm(
            "recovery-dlq-messages",
            "Stopped executions the redrive never handled, or reaper runs that never finished",
            queue_depth(dead_letters.name),
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            notify_ok=False,
        ),
        scope.alarm(
            "reaper-errors",
            "The reaper could not release some orders' stock (it tries again on its next run)",
            lambda_errors(reaper_function.function.name),
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
        ),
    ]
    return Recovery(redrive_function, redrive_rule, dead_letters, reaper_function, reaper_schedule, alarms)
