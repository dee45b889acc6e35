"""The order state machine: its CMK-encrypted logs, its least-privilege role and the rendered ASL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import Statement, service_trust_policy
from components.kms import key_use_through
from components.lambda_function import PythonFunction
from components.order_workflow.args import OrderWorkflowArgs
from components.order_workflow.definition import render_definition, variant_for
from components.scope import Scope
from components.state_machines import encrypted_state_machine, execution_statements


@dataclass(frozen=True)
class StateMachineNames:
    """Known before the state machine exists, so policies can name it without a dependency cycle."""

    name: str
    arn: pulumi.Output[str]
    executions_arn: pulumi.Output[str]

    @classmethod
    def of(cls, scope: Scope) -> StateMachineNames:
        name = scope.physical("workflow", service="sfn")
        return cls(name, scope.arn("states", f"stateMachine:{name}"), scope.arn("states", f"execution:{name}:*"))


@dataclass(frozen=True)
class OrderStateMachine:
    machine: aws.sfn.StateMachine
    role: aws.iam.Role
    logs: aws.cloudwatch.LogGroup


def state_machine_key_use(key_arn: pulumi.Input[str], names: StateMachineNames, *actions: str, sid: str) -> Statement:
    """Use of the key for this state machine's data, which Step Functions encrypts with its ARN as context."""
    return Statement(
        sid=sid,
        actions=list(actions),
        resources=[key_arn],
        conditions={"StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": names.arn}},
    )


def http_task_statements(
    scope: Scope,
    names: StateMachineNames,
    connection: aws.cloudwatch.EventConnection,
    endpoint: str | None,
    key_arn: pulumi.Input[str],
) -> list[Statement]:
    """What an HTTP Task needs (AWS: "Call HTTPS APIs in Step Functions workflows"): call this one
    endpoint with POST, and read the credential of this one connection from its own secret."""
    return [
        Statement(
            sid="CallGatewayEndpoint",
            actions=["states:InvokeHTTPEndpoint"],
            resources=[names.arn],
            conditions={"StringEquals": {"states:HTTPMethod": "POST", "states:HTTPEndpoint": endpoint or ""}},
        ),
        Statement(
            sid="UseGatewayConnection",
            actions=["events:RetrieveConnectionCredentials"],
            resources=[connection.arn],
        ),
        Statement(
            sid="ReadGatewayConnectionSecret",
            actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            resources=[connection.secret_arn],
        ),
        # The connection's secret is encrypted with the component's key.
        key_use_through("DecryptGatewayConnectionSecret", key_arn, ["kms:Decrypt"], ["secretsmanager"], scope.where),
    ]


def order_state_machine(
    scope: Scope,
    args: OrderWorkflowArgs,
    *,
    names: StateMachineNames,
    key_arn: pulumi.Input[str],
    functions: Mapping[str, PythonFunction],
    retention_days: int,
    gateway_connection: aws.cloudwatch.EventConnection | None = None,
) -> OrderStateMachine:
    """The state machine running the ASL of its variant over `functions` (by placeholder); with
    `gateway_connection` (direct + http gateway) it charges the gateway itself through an HTTP Task."""
    variant = variant_for(args.payment_integration, args.payment_gateway)
    http_grants = (
        http_task_statements(scope, names, gateway_connection, args.gateway_endpoint, key_arn)
        if gateway_connection
        else []
    )
    role, policy = scope.service_role(
        "workflow",
        name=scope.physical("workflow-sfn", service="iam"),
        description=f"Execution role of {names.name}",
        trust=service_trust_policy("states.amazonaws.com", source_account=scope.ctx.account_id),
        statements=[
            Statement(
                sid="InvokeTasks",
                actions=["lambda:InvokeFunction"],
                resources=[f.function.arn for f in functions.values()],
            ),
            *execution_statements(scope, key_arn, names.arn),
            *http_grants,
        ],
    )
    values: dict[str, pulumi.Input[Any]] = {key: f.function.arn for key, f in functions.items()}
    if args.payment_integration == "callback":
        values["PaymentHeartbeatSeconds"] = args.payment_heartbeat_seconds
        values["PaymentTimeoutSeconds"] = args.payment_timeout_seconds
    if gateway_connection is not None:
        values["GatewayChargeEndpoint"] = args.gateway_endpoint
        values["GatewayConnectionArn"] = gateway_connection.arn
    definition = pulumi.Output.all(**values).apply(lambda resolved: render_definition(variant, resolved))
    machine, logs = encrypted_state_machine(
        scope,
        "workflow",
        name=names.name,
        role_arn=role.arn,
        definition=definition,
        key_arn=key_arn,
        log_retention_days=retention_days,
        log_level=args.log_level,
        log_execution_data=args.log_execution_data,
        machine_type=args.state_machine_type,
        depends_on=[policy],
    )
    return OrderStateMachine(machine, role, logs)
