"""The payment gateway path of the callback variant, built through the component's scope.

    Payment Requested --rule--> EventBridge API destination (POST <gatewayEndpoint>, API key from
        the gateway-credentials secret through an EventBridge connection), retried, then to its DLQ
    gateway account --PutEvents (bus policy: ecommerce.payments answers only)--> orders bus
        --> lifecycle rules --> lifecycle consumer --> SendTaskSuccess / SendTaskHeartbeat

The API key is never in config: the component creates the `gateway-credentials` secret empty,
encrypted with the component's key; an operator puts the key in it (`aws secretsmanager
put-secret-value`), and the connection reads it from there at deploy time (EventBridge then keeps
its own copy, encrypted with the same key). On a new stack: `pulumi up --target` the secret, put
the key, then `pulumi up`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import Statement, policy_document, service_trust_policy
from components.order_workflow import events
from components.order_workflow.args import OrderWorkflowArgs
from components.queues import MAX_RETENTION_SECONDS, allow_service_to_send
from components.scope import Scope


@dataclass(frozen=True)
class GatewayPath:
    credentials: aws.secretsmanager.Secret
    connection: aws.cloudwatch.EventConnection
    destination: aws.cloudwatch.EventApiDestination
    rule: aws.cloudwatch.EventRule
    target: aws.cloudwatch.EventTarget
    dead_letters: aws.sqs.Queue
    replies: aws.cloudwatch.EventBusPolicy


def gateway_connection(
    scope: Scope, args: OrderWorkflowArgs
) -> tuple[aws.secretsmanager.Secret, aws.cloudwatch.EventConnection]:
    """The empty, CMK-encrypted secret for the gateway's API key and the connection that uses it."""
    # The credential survives a region loss: a replica in the DR region under a key of that region.
    replica_key = scope.in_dr().key(
        "gateway-replica",
        description=f"{scope.ctx.project}-{scope.ctx.stack} {scope.slug}: DR replica of the gateway credential",
    )
    credentials = aws.secretsmanager.Secret(
        scope.child("gateway-credentials"),
        name=scope.physical("gateway-credentials"),
        description="API key of the payment gateway (put it here; never in stack config)",
        kms_key_id=scope.key_arn,
        replicas=[{"region": scope.ctx.dr_region, "kms_key_id": replica_key.arn}],
        opts=scope.opts(stateful=True),
    )
    api_key = aws.secretsmanager.get_secret_version_output(secret_id=credentials.id).secret_string
    connection = aws.cloudwatch.EventConnection(
        scope.child("gateway-connection"),
        name=scope.physical("gateway", service="events"),
        description="Payment gateway: API key from the gateway-credentials secret",
        authorization_type="API_KEY",
        auth_parameters={"api_key": {"key": args.gateway_api_key_header, "value": pulumi.Output.secret(api_key)}},
        kms_key_identifier=scope.key_arn,
        opts=scope.opts(),
    )
    return credentials, connection


def payment_gateway_path(
    scope: Scope, args: OrderWorkflowArgs, bus: aws.cloudwatch.EventBus, *, retry_policy: dict[str, int]
) -> GatewayPath:
    """Payment Requested to the gateway, and the gateway's answers back onto the bus (callback variant)."""
    if args.gateway_endpoint is None or args.gateway_account_id is None:
        raise ValueError("the callback variant needs gatewayEndpoint and gatewayAccountId (see OrderWorkflowArgs)")
    credentials, connection = gateway_connection(scope, args)
    destination = aws.cloudwatch.EventApiDestination(
        scope.child("gateway-destination"),
        name=scope.physical("gateway-payments", service="events"),
        description="Payment requests to the payment gateway",
        connection_arn=connection.arn,
        invocation_endpoint=args.gateway_endpoint,
        http_method="POST",
        invocation_rate_limit_per_second=args.gateway_rate_limit_per_second,
        opts=scope.opts(),
    )
    rule = aws.cloudwatch.EventRule(
        scope.child("payment-requested"),
        name=scope.physical("payment-requested", service="events"),
        event_bus_name=bus.name,
        event_pattern=events.pattern_json(events.PAYMENT_REQUESTED_PATTERN),
        description="PaymentRequested: to the payment gateway",
        state="ENABLED",
        opts=scope.opts(),
    )
    dead_letters = scope.queue("gateway-dlq", retention_seconds=MAX_RETENTION_SECONDS)
    role, invoke = scope.service_role(
        "gateway",
        name=scope.physical("gateway-events", service="iam"),
        description="EventBridge: call the payment gateway's API destination",
        trust=service_trust_policy("events.amazonaws.com"),
        statements=[Statement(sid="CallGateway", actions=["events:InvokeApiDestination"], resources=[destination.arn])],
    )
    target = aws.cloudwatch.EventTarget(
        scope.child("payment-requested-target"),
        rule=rule.name,
        event_bus_name=bus.name,
        target_id="payment-gateway",
        arn=destination.arn,
        role_arn=role.arn,
        # The gateway gets the request, not the envelope: order, amount, currency and the payment
        # reference (never a card token). The order id is its idempotency key.
        input_transformer={
            "input_paths": events.PAYMENT_REQUEST_INPUT_PATHS,
            "input_template": events.PAYMENT_REQUEST_INPUT_TEMPLATE,
        },
        retry_policy=retry_policy,
        dead_letter_config={"arn": dead_letters.arn},
        opts=scope.opts(depends_on=[invoke]),
    )
    allow_service_to_send(
        scope.child("gateway-dlq-policy"),
        dead_letters,
        sid="PaymentRequestsTheGatewayNeverTook",
        service="events.amazonaws.com",
        source_arns=[rule.arn],
        opts=scope.opts(),
    )
    replies = aws.cloudwatch.EventBusPolicy(
        scope.child("gateway-replies"),
        event_bus_name=bus.name,
        policy=policy_document(gateway_reply_statement(args.gateway_account_id, bus.arn)),
        opts=scope.opts(),
    )
    return GatewayPath(credentials, connection, destination, rule, target, dead_letters, replies)


def gateway_reply_statement(account_id: str, bus_arn: pulumi.Input[str]) -> Statement:
    """The gateway's account may put its payment answers on the bus, and nothing else."""
    return Statement(
        sid="GatewayAnswers",
        principals={"AWS": f"arn:aws:iam::{account_id}:root"},
        actions=["events:PutEvents"],
        resources=[bus_arn],
        conditions={
            "StringEquals": {"events:source": events.GATEWAY_SOURCE},
            "ForAllValues:StringEquals": {"events:detail-type": list(events.GATEWAY_ANSWERS)},
        },
    )
