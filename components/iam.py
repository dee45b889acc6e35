"""Least-privilege IAM policy documents, checked as they are built.

Identity policies may not use `*` or `service:*` actions, and may use the `*` resource only for the
few actions AWS cannot scope to a resource. Resource policies (with principals) follow the same action
rule; the one exception is the account root administering a KMS key, which AWS requires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

# Vended log delivery (Step Functions execution logs to CloudWatch Logs) accepts only "*".
LOG_DELIVERY_ACTIONS: tuple[str, ...] = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)

# Read-only EC2/ELB/ACM calls without resource-level permissions, as the AWS Load Balancer
# Controller makes them (components/eks_gitops/load_balancer.py); its mutating calls stay scoped, and so
# does ec2:GetSecurityGroupsForVpc, which takes the VPC's ARN (VPC_SCOPED_READ_ACTIONS).
NETWORK_DESCRIBE_ACTIONS: tuple[str, ...] = (
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeTags",
    "ec2:DescribeIpamPools",
    "ec2:DescribeRouteTables",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeSSLPolicies",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTrustStores",
    "elasticloadbalancing:DescribeCapacityReservation",
    "acm:ListCertificates",
    "iam:ListServerCertificates",
)

# Read-only calls scoped to one VPC: their resource is the VPC's ARN (`arn:aws:ec2:<region>:<account>:vpc/<id>`).
VPC_SCOPED_READ_ACTIONS: tuple[str, ...] = ("ec2:GetSecurityGroupsForVpc",)

# Actions that only accept `"Resource": "*"` (AWS service authorization reference).
UNSCOPED_ACTIONS: frozenset[str] = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "cloudwatch:PutMetricData",
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "backup:ListBackupJobs",
        "backup:ListCopyJobs",
        "backup:ListRestoreJobs",
        "backup:DescribeRestoreJob",
        "backup:PutRestoreValidationResult",
        # Lambda's DynamoDB stream poller lists the table's streams; ListStreams has no resource type.
        "dynamodb:ListStreams",
        "sagemaker:ListEndpoints",
        "ecr:GetAuthorizationToken",
        # Route 53 zone discovery (external-dns) and VPC builds' DHCP lookup (CodeBuild in a VPC).
        "route53:ListHostedZones",
        "ec2:DescribeDhcpOptions",
        "glue:GetCrawlerMetrics",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        # Task-token callbacks are authorised by the token itself (no resource type).
        "states:SendTaskSuccess",
        "states:SendTaskHeartbeat",
        *LOG_DELIVERY_ACTIONS,
        *NETWORK_DESCRIBE_ACTIONS,
    }
)


class PolicyError(ValueError):
    """A statement that would grant more than least privilege."""


@dataclass(frozen=True)
class Statement:
    """One IAM statement. Resources and condition values may be Pulumi Outputs."""

    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]] = ("*",)
    effect: Literal["Allow", "Deny"] = "Allow"
    sid: str | None = None
    principals: Mapping[str, pulumi.Input[Any]] | None = None
    conditions: Mapping[str, Mapping[str, pulumi.Input[Any]]] | None = None
    root_administration: bool = field(default=False, repr=False)

    def check(self) -> None:
        if not self.actions:
            raise PolicyError(f"statement {self.sid or ''} has no actions")
        if self.effect == "Deny" or self.root_administration:
            return
        for action in self.actions:
            _, _, verb = action.partition(":")
            if action == "*" or verb == "*" or not verb:
                raise PolicyError(f"action {action!r} is a wildcard; name the exact actions the code calls")
        if self.principals is None and "*" in list(self.resources):
            broad = sorted(a for a in self.actions if a not in UNSCOPED_ACTIONS)
            if broad:
                raise PolicyError(f"actions {broad} need resource ARNs, not '*'")

    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {"Effect": self.effect}
        if self.sid:
            rendered["Sid"] = self.sid
        if self.principals is not None:
            rendered["Principal"] = dict(self.principals)
        rendered["Action"] = sorted(set(self.actions)) if len(self.actions) > 1 else self.actions[0]
        resources = list(self.resources)
        rendered["Resource"] = resources if len(resources) > 1 else resources[0]
        if self.conditions:
            rendered["Condition"] = {op: dict(values) for op, values in self.conditions.items()}
        return rendered


def root_administration(account_id: pulumi.Input[str], partition: pulumi.Input[str] = "aws") -> Statement:
    """The statement every KMS key policy needs so the account (through IAM) can manage the key."""
    root = pulumi.Output.concat("arn:", partition, ":iam::", account_id, ":root")
    return Statement(
        sid="EnableAccountAdministration",
        principals={"AWS": root},
        actions=["kms:*"],
        resources=["*"],
        root_administration=True,
    )


def policy_document(*statements: Statement) -> pulumi.Output[str]:
    """A JSON policy document with every statement checked for least privilege."""
    for statement in statements:
        statement.check()
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [s.render() for s in statements]})


def service_trust_policy(
    *services: str,
    source_account: pulumi.Input[str] | None = None,
    external_id: pulumi.Input[str] | None = None,
) -> pulumi.Output[str]:
    """Trust policy letting AWS services (e.g. `lambda.amazonaws.com`) assume a role; with the condition
    key the service documents sending when it assumes one (aws:SourceAccount, or Firehose's sts:ExternalId)."""
    conditions = None
    if source_account is not None:
        conditions = {"StringEquals": {"aws:SourceAccount": source_account}}
    elif external_id is not None:
        conditions = {"StringEquals": {"sts:ExternalId": external_id}}
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": list(services) if len(services) > 1 else services[0]},
                    "Action": "sts:AssumeRole",
                    **({"Condition": conditions} if conditions else {}),
                }
            ],
        }
    )


def web_identity_trust_policy(
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    namespace: str,
    service_account: str,
) -> pulumi.Output[str]:
    """IRSA trust policy: only one Kubernetes service account of one cluster may assume the role."""

    def render(values: list[str]) -> str:
        provider_arn, issuer = values
        issuer = issuer.removeprefix("https://")
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": provider_arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                                f"{issuer}:aud": "sts.amazonaws.com",
                            }
                        },
                    }
                ],
            }
        )

    return pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(render)
