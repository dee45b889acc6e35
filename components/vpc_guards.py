"""What every VPC of the platform gets, whichever component makes it: flow logs and a closed default group.

A new VPC comes with a default security group that lets its members talk to each other and reach out
anywhere; nothing of ours uses it, so it is taken over and left without rules (checkov CKV2_AWS_12).
Its traffic is logged through `components.observability.vpc_flow_logs` (CKV2_AWS_11).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.observability import FlowLogs, vpc_flow_logs
from components.scope import Scope


@dataclass(frozen=True)
class VpcGuards:
    flow_logs: FlowLogs
    default_security_group: aws.ec2.DefaultSecurityGroup


def guard_vpc(scope: Scope, *, purpose: str, vpc_id: pulumi.Input[str], retention_days: int) -> VpcGuards:
    """Flow logs into `/aws/vpc/flow-logs/<physical name>` under the scope's key and the default security group
    without rules, in the scope's region. Logical names `<component>-<purpose>-flow-logs*`, `-default-sg`."""
    if scope.key_arn is None:
        raise ValueError(f"{scope.name}: flow logs are encrypted with the component's key; use scope.with_key()")
    opts = scope.opts()
    default_group = aws.ec2.DefaultSecurityGroup(
        scope.child(f"{purpose}-default-sg"),
        vpc_id=vpc_id,
        ingress=[],
        egress=[],
        tags={"Name": scope.physical(f"{purpose}-default-unused")},
        opts=opts,
    )
    flow_logs = vpc_flow_logs(
        scope.child(f"{purpose}-flow-logs"),
        log_group_name=f"/aws/vpc/flow-logs/{scope.physical(purpose)}",
        role_name=scope.physical(f"{purpose}-flow-logs", service="iam"),
        account_id=scope.ctx.account_id,
        vpc_id=vpc_id,
        kms_key_arn=scope.key_arn,
        retention_days=retention_days,
        opts=opts,
    )
    return VpcGuards(flow_logs=flow_logs, default_security_group=default_group)
