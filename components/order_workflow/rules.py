"""The orders bus's own rules: Order Placed starts the state machine; the lifecycle events (and, in
the callback variant, the gateway's declines and progress) go to the lifecycle queue. Every target
retries into the events DLQ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from components.iam import Statement, service_trust_policy
from components.order_workflow import events
from components.order_workflow.args import OrderWorkflowArgs
from components.queues import allow_service_to_send
from components.scope import Scope


@dataclass(frozen=True)
class Rules:
    rules: dict[str, aws.cloudwatch.EventRule]
    targets: dict[str, aws.cloudwatch.EventTarget]
    events_role: aws.iam.Role


def retry_policy(args: OrderWorkflowArgs) -> dict[str, int]:
    """How long and how often EventBridge retries delivering to one of this component's targets."""
    return {
        "maximum_event_age_in_seconds": args.event_max_age_seconds,
        "maximum_retry_attempts": args.event_retry_attempts,
    }


def bus_rule(
    scope: Scope, bus: aws.cloudwatch.EventBus, purpose: str, pattern: dict[str, Any], description: str
) -> aws.cloudwatch.EventRule:
    return aws.cloudwatch.EventRule(
        scope.child(purpose),
        name=scope.physical(purpose, service="events"),
        event_bus_name=bus.name,
        event_pattern=events.pattern_json(pattern),
        description=description,
        state="ENABLED",
        opts=scope.opts(),
    )


def order_rules(
    scope: Scope,
    args: OrderWorkflowArgs,
    *,
    bus: aws.cloudwatch.EventBus,
    state_machine: aws.sfn.StateMachine,
    encrypt_execution_input: Statement,
    lifecycle_queue: aws.sqs.Queue,
    events_dlq: aws.sqs.Queue,
) -> Rules:
    delivery: dict[str, Any] = {"retry_policy": retry_policy(args), "dead_letter_config": {"arn": events_dlq.arn}}
    order_placed = bus_rule(scope, bus, "order-placed", events.ORDER_PLACED_PATTERN, "OrderPlaced: start the workflow")
    lifecycle_rules = {
        "PaymentCompleted": bus_rule(
            scope,
            bus,
            "payment-completed",
            events.PAYMENT_COMPLETED_PATTERN,
            "PaymentCompleted: to the lifecycle queue",
        ),
        "OrderFulfilled": bus_rule(
            scope, bus, "order-fulfilled", events.ORDER_FULFILLED_PATTERN, "OrderFulfilled: to the lifecycle queue"
        ),
    }
    if args.payment_integration == "callback":
        lifecycle_rules["PaymentProgress"] = bus_rule(
            scope,
            bus,
            "payment-progress",
            events.PAYMENT_PROGRESS_PATTERN,
            "Gateway declines and progress: lifecycle queue",
        )
    events_role, events_policy = scope.service_role(
        "events",
        name=scope.physical("start-workflow-events", service="iam"),
        description="EventBridge: start the order workflow",
        trust=service_trust_policy("events.amazonaws.com"),
        statements=[
            Statement(sid="StartWorkflow", actions=["states:StartExecution"], resources=[state_machine.arn]),
            encrypt_execution_input,
        ],
    )
    targets = {
        "OrderPlaced": aws.cloudwatch.EventTarget(
            scope.child("order-placed-target"),
            rule=order_placed.name,
            event_bus_name=bus.name,
            target_id="order-workflow",
            arn=state_machine.arn,
            role_arn=events_role.arn,
            input_transformer={
                "input_paths": events.ORDER_PLACED_INPUT_PATHS,
                "input_template": events.ORDER_PLACED_INPUT_TEMPLATE,
            },
            **delivery,
            opts=scope.opts(depends_on=[events_policy]),
        )
    }
    for key, rule in lifecycle_rules.items():
        targets[key] = aws.cloudwatch.EventTarget(
            scope.child(f"{key}-target"),
            rule=rule.name,
            event_bus_name=bus.name,
            target_id="lifecycle-queue",
            arn=lifecycle_queue.arn,
            **delivery,
            opts=scope.opts(),
        )
    for purpose, queue, senders in (
        ("lifecycle", lifecycle_queue, list(lifecycle_rules.values())),
        ("events-dlq", events_dlq, [order_placed, *lifecycle_rules.values()]),
    ):
        allow_service_to_send(
            scope.child(f"{purpose}-policy"),
            queue,
            sid="EventBridgeRulesOfThisBus",
            service="events.amazonaws.com",
            source_arns=[r.arn for r in senders],
            opts=scope.opts(),
        )
    return Rules({"OrderPlaced": order_placed, **lifecycle_rules}, targets, events_role)
