"""The AWS Load Balancer Controller: its IAM permissions and its Helm values.

The permissions follow the controller's documented policy (docs/install/iam_policy.json of
kubernetes-sigs/aws-load-balancer-controller v2.14, the version chart 1.14.x installs), made tighter where
IAM allows it without breaking the controller:

- every resource is an ARN in this account and region (upstream uses `*` or `arn:aws:...:*:*:...`);
- security groups may be created in, and their rules changed only inside, the cluster VPC;
- what upstream conditions on the presence of the `elbv2.k8s.aws/cluster` tag is conditioned on its value
  being this cluster's name (the controller writes that tag with `clusterName`), so a controller of another
  cluster in the same account cannot touch this cluster's load balancers, nor this one theirs;
- WAF Classic, WAFv2 and Shield Advanced are switched off in the values, so their actions are not granted;
  Outposts (customer-owned IP pools) is not used, so `ec2:DescribeCoipPools`/`GetCoipPoolUsage` are not either.

Only read-only describe/list actions, which IAM accepts on `*` only, are left unscoped (they are on
components.iam.UNSCOPED_ACTIONS).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.context import StackContext
from components.eks_gitops.manifests import deep_merge, render_one
from components.iam import NETWORK_DESCRIBE_ACTIONS, VPC_SCOPED_READ_ACTIONS, Statement

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"
RELEASE = "aws-load-balancer-controller"
HELM_REPO = "https://aws.github.io/eks-charts"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"  # written by the controller on everything it creates, value = clusterName
ELB_SERVICE = "elasticloadbalancing.amazonaws.com"

# Read-only calls the controller makes to resolve subnets, security groups, targets and its own state.
DESCRIBE_ACTIONS = list(NETWORK_DESCRIBE_ACTIONS)
LISTENER_ACTIONS = [
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:SetRulePriorities",
]
# Changes to load balancers and target groups the controller created (tagged with this cluster's name).
OWNED_LOAD_BALANCER_ACTIONS = [
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyCapacityReservation",
    "elasticloadbalancing:ModifyIpPools",
]


class _Arns:
    """ARN patterns of what the controller manages, all in this account and region."""

    def __init__(self, ctx: StackContext, vpc_id: pulumi.Input[str]) -> None:
        def elb(resource: str) -> pulumi.Output[str]:
            return ctx.arn("elasticloadbalancing", resource)

        self.load_balancers = [elb("loadbalancer/app/*/*"), elb("loadbalancer/net/*/*")]
        self.target_groups = [elb("targetgroup/*/*")]
        self.listeners = [elb("listener/app/*/*/*"), elb("listener/net/*/*/*")]
        self.rules = [elb("listener-rule/app/*/*/*"), elb("listener-rule/net/*/*/*")]
        self.security_groups = [ctx.arn("ec2", "security-group/*")]
        self.vpc = pulumi.Output.concat(ctx.arn("ec2", "vpc/"), vpc_id)
        self.elb_service_linked_role = ctx.arn(
            "iam", f"role/aws-service-role/{ELB_SERVICE}/AWSServiceRoleForElasticLoadBalancing", global_=True
        )
        self.certificates = [
            ctx.arn("acm", "certificate/*"),
            ctx.arn("iam", "server-certificate/*", global_=True),
            ctx.arn("cognito-idp", "userpool/*"),
        ]


def controller_statements(ctx: StackContext, cluster_name: str, vpc_id: pulumi.Input[str]) -> list[Statement]:
    """The controller's permissions, scoped to this account, region, VPC and cluster tag."""
    arns = _Arns(ctx, vpc_id)
    owned = {"StringEquals": {f"aws:ResourceTag/{CLUSTER_TAG}": cluster_name}}
    requested = {f"aws:RequestTag/{CLUSTER_TAG}": cluster_name}
    # Tag edits on an owned resource that leave the cluster tag itself alone.
    retag = {"Null": {f"aws:RequestTag/{CLUSTER_TAG}": "true"}, **owned}
    elb = [*arns.load_balancers, *arns.target_groups]
    return [
        Statement(
            sid="CreateElbServiceLinkedRole",
            actions=["iam:CreateServiceLinkedRole"],
            resources=[arns.elb_service_linked_role],
            conditions={"StringEquals": {"iam:AWSServiceName": ELB_SERVICE}},
        ),
        Statement(sid="Describe", actions=DESCRIBE_ACTIONS, resources=["*"]),
        Statement(sid="ListSecurityGroupsOfClusterVpc", actions=list(VPC_SCOPED_READ_ACTIONS), resources=[arns.vpc]),
        Statement(
            sid="ReadListenerCertificatesAndUserPools",
            actions=["acm:DescribeCertificate", "iam:GetServerCertificate", "cognito-idp:DescribeUserPoolClient"],
            resources=arns.certificates,
        ),
        Statement(
            sid="CreateSecurityGroupsInClusterVpc",
            actions=["ec2:CreateSecurityGroup"],
            resources=[*arns.security_groups, arns.vpc],
        ),
        Statement(
            sid="TagSecurityGroupsOnCreate",
            actions=["ec2:CreateTags"],
            resources=arns.security_groups,
            conditions={"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup", **requested}},
        ),
        Statement(
            sid="RetagOwnedSecurityGroups",
            actions=["ec2:CreateTags", "ec2:DeleteTags"],
            resources=arns.security_groups,
            conditions=retag,
        ),
        Statement(
            # Upstream grants these on every security group: the controller opens the node and pod security
            # groups to its load balancers. Here only groups of the cluster VPC.
            sid="ManageIngressRulesInClusterVpc",
            actions=["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            resources=arns.security_groups,
            conditions={"ArnEquals": {"ec2:Vpc": arns.vpc}},
        ),
        Statement(
            sid="DeleteOwnedSecurityGroups",
            actions=["ec2:DeleteSecurityGroup"],
            resources=arns.security_groups,
            conditions=owned,
        ),
        Statement(
            sid="CreateTaggedLoadBalancers",
            actions=["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
            resources=elb,
            conditions={"StringEquals": requested},
        ),
        Statement(
            sid="TagLoadBalancersOnCreate",
            actions=["elasticloadbalancing:AddTags"],
            resources=elb,
            conditions={
                "StringEquals": {
                    "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"],
                    **requested,
                }
            },
        ),
        Statement(
            sid="RetagOwnedLoadBalancers",
            actions=["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            resources=elb,
            conditions=retag,
        ),
        Statement(
            sid="ManageOwnedLoadBalancers",
            actions=OWNED_LOAD_BALANCER_ACTIONS,
            resources=[*elb, *arns.listeners],
            conditions=owned,
        ),
        Statement(
            # Listeners and rules do not carry the cluster tag reliably (upstream leaves them unconditioned).
            sid="ManageListenersAndRules",
            actions=LISTENER_ACTIONS,
            resources=[*arns.load_balancers, *arns.listeners, *arns.rules],
        ),
        Statement(
            sid="TagListenersAndRules",
            actions=["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            resources=[*arns.listeners, *arns.rules],
        ),
        Statement(
            # TargetGroupBindings may point at target groups created outside the controller (upstream: no
            # tag condition), so registration is limited to this account and region only.
            sid="RegisterTargets",
            actions=["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            resources=arns.target_groups,
        ),
    ]


def controller_values(
    *,
    cluster_name: str,
    region: str,
    vpc_id: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    high_availability: bool,
) -> dict[str, Any]:
    """Chart values: k8s/addons/aws-load-balancer-controller/values.yaml (+ values-ha.yaml)."""
    values = render_one(
        "addons/aws-load-balancer-controller/values.yaml",
        {"clusterName": cluster_name, "region": region, "vpcId": vpc_id, "loadBalancerControllerRoleArn": role_arn},
    )
    if high_availability:
        values = deep_merge(values, render_one("addons/aws-load-balancer-controller/values-ha.yaml", {}))
    return values
