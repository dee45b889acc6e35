"""What every CMK-encrypted, logged and traced state machine's role needs, whatever its tasks call."""

from __future__ import annotations

import pulumi

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
