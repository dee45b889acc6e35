"""What every VPC of the platform gets, whichever component makes it: flow logs and a closed default group.

A new VPC comes with a default security group that lets its members talk to each other and reach out
anywhere; nothing of ours uses it, so it is taken over and left without rules (checkov CKV2_AWS_12).
Its traffic is logged through `components.observability.vpc_flow_logs` (CKV2_AWS_11).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.observability import FlowLogs, vpc_flow_logs


@dataclass(frozen=True)
class VpcGuards:
    flow_logs: FlowLogs
    default_security_group: aws.ec2.DefaultSecurityGroup


def guard_vpc(
    name: str,
    ctx: StackContext,
    *,
    component: str,
    purpose: str,
    vpc_id: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    retention_days: int,
    opts: pulumi.ResourceOptions,
) -> VpcGuards:
    """Flow logs (`<name>-flow-logs*`) and the default security group without rules (`<name>-default-sg`)."""
    default_group = aws.ec2.DefaultSecurityGroup(
        f"{name}-default-sg",
        vpc_id=vpc_id,
        ingress=[],
        egress=[],
        tags={"Name": ctx.name(component, f"{purpose}-default-unused")},
        opts=opts,
    )
    flow_logs = vpc_flow_logs(
        f"{name}-flow-logs",
        ctx,
        component=component,
        purpose=purpose,
        vpc_id=vpc_id,
        kms_key_arn=kms_key_arn,
        retention_days=retention_days,
        opts=opts,
    )
    return VpcGuards(flow_logs=flow_logs, default_security_group=default_group)
