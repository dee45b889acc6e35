"""CMK-encrypted, logged and traced state machines: the resource with its log group, and what its role
needs whatever its tasks call."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.iam import LOG_DELIVERY_ACTIONS, Statement
from components.scope import Scope

TRACING_ACTIONS = [
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
]


def execution_statements(
    scope: Scope, key_arn: pulumi.Input[str], state_machine_arn: pulumi.Input[str]
) -> list[Statement]:
    """Vended log delivery and X-Ray (no resource-level scope), the key for this state machine's data (its ARN
    is the encryption context), and data keys for its CMK-encrypted logs under the logs encryption context
    (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html, "Encrypting logs")."""
    return [
        Statement(sid="DeliverExecutionLogs", actions=list(LOG_DELIVERY_ACTIONS)),
        Statement(sid="Tracing", actions=list(TRACING_ACTIONS)),
        Statement(
            sid="EncryptExecutionData",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[key_arn],
            conditions={"StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": state_machine_arn}},
        ),
        Statement(
            sid="EncryptExecutionLogs",
            actions=["kms:GenerateDataKey"],
            resources=[key_arn],
            conditions={"StringEquals": {"kms:EncryptionContext:SourceArn": scope.arn("logs", "*")}},
        ),
    ]


def encrypted_state_machine(
    scope: Scope,
    purpose: str,
    *,
    name: str,
    role_arn: pulumi.Input[str],
    definition: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    log_retention_days: int,
    log_level: str = "ERROR",
    log_execution_data: bool = True,
    machine_type: str = "STANDARD",
    depends_on: Sequence[pulumi.Resource] = (),
) -> tuple[aws.sfn.StateMachine, aws.cloudwatch.LogGroup]:
    """A state machine `<purpose>` whose execution data and logs (its own vended log group `<purpose>-logs`)
    are encrypted with `key_arn`, traced with X-Ray; created after `depends_on` (its role's policy: Step
    Functions checks the role can deliver logs when the state machine is created)."""
    logs = aws.cloudwatch.LogGroup(
        scope.child(f"{purpose}-logs"),
        name=f"/aws/vendedlogs/states/{name}",
        retention_in_days=log_retention_days,
        kms_key_id=key_arn,
        opts=scope.opts(),
    )
    machine = aws.sfn.StateMachine(
        scope.child(purpose),
        name=name,
        type=machine_type,
        role_arn=role_arn,
        definition=definition,
        logging_configuration={
            "log_destination": pulumi.Output.concat(logs.arn, ":*"),
            "include_execution_data": log_execution_data,
            "level": log_level,
        },
        tracing_configuration={"enabled": True},
        encryption_configuration={
            "type": "CUSTOMER_MANAGED_KMS_KEY",
            "kms_key_id": key_arn,
            "kms_data_key_reuse_period_seconds": 300,
        },
        opts=scope.opts(depends_on=list(depends_on)),
    )
    return machine, logs
