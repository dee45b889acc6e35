"""EKS managed add-ons, pinned: networking before the nodes join, workloads once they can run.

pulumi-eks would install its own vpc-cni and kube-proxy and skip coredns without its default node group,
so its add-on handling is switched off (`PULUMI_EKS_ADDONS_OFF`) and every add-on is an `aws.eks.Addon`
here. EKS bootstraps self-managed copies of vpc-cni, kube-proxy and coredns with the cluster; the managed
add-ons take them over (`OVERWRITE`), and the pinned version in config wins on every update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.eks_gitops.args import AddonVersions
from components.scope import Scope

PULUMI_EKS_ADDONS_OFF = {
    "use_default_vpc_cni": True,
    "kube_proxy_addon_options": eks.KubeProxyAddonOptionsArgs(enabled=False),
    "coredns_addon_options": eks.CoreDnsAddonOptionsArgs(enabled=False),
}
EBS_CSI_NAMESPACE = "kube-system"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"


@dataclass(frozen=True)
class AddonSpec:
    addon_name: str
    version: str
    before_nodes: bool


def addon_specs(versions: AddonVersions) -> list[AddonSpec]:
    """The CNI, kube-proxy and the Pod Identity agent are DaemonSets nodes need to become Ready; coredns and the
    EBS CSI controller are Deployments that need Ready nodes to become ACTIVE."""
    return [
        AddonSpec("vpc-cni", versions.vpc_cni, before_nodes=True),
        AddonSpec("kube-proxy", versions.kube_proxy, before_nodes=True),
        AddonSpec("eks-pod-identity-agent", versions.eks_pod_identity_agent, before_nodes=True),
        AddonSpec("coredns", versions.coredns, before_nodes=False),
        AddonSpec("aws-ebs-csi-driver", versions.aws_ebs_csi_driver, before_nodes=False),
    ]


def pod_identity_trust_policy(account_id: pulumi.Input[str], cluster_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """EKS Pod Identity may assume the role for pods of this cluster only."""
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnEquals": {"aws:SourceArn": cluster_arn},
                    },
                }
            ],
        }
    )


def ebs_csi_role(scope: Scope, cluster_arn: pulumi.Input[str]) -> aws.iam.Role:
    """The EBS CSI controller's role (through Pod Identity) with AWS's policy for the driver."""
    ctx = scope.ctx
    role = aws.iam.Role(
        scope.child("ebs-csi-role"),
        name=scope.physical("ebs-csi", service="iam"),
        assume_role_policy=pod_identity_trust_policy(ctx.account_id, cluster_arn),
        opts=scope.opts(),
    )
    aws.iam.RolePolicyAttachment(
        scope.child("ebs-csi-policy"),
        role=role.name,
        policy_arn=pulumi.Output.concat("arn:", ctx.partition, ":iam::aws:policy/", EBS_CSI_POLICY),
        opts=scope.opts(),
    )
    return role


def _addon(
    scope: Scope,
    cluster_name: pulumi.Input[str],
    spec: AddonSpec,
    depends_on: Sequence[pulumi.Resource],
    pod_identity: list[aws.eks.AddonPodIdentityAssociationArgs] | None = None,
) -> aws.eks.Addon:
    return aws.eks.Addon(
        scope.child(f"addon-{spec.addon_name}"),
        cluster_name=cluster_name,
        addon_name=spec.addon_name,
        addon_version=spec.version,
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        pod_identity_associations=pod_identity,
        opts=scope.opts(depends_on=list(depends_on)),
    )


def node_addons(
    scope: Scope, cluster_name: pulumi.Input[str], versions: AddonVersions, depends_on: Sequence[pulumi.Resource]
) -> list[aws.eks.Addon]:
    """The add-ons nodes need to become Ready: create them after the cluster, before the node group."""
    return [_addon(scope, cluster_name, spec, depends_on) for spec in addon_specs(versions) if spec.before_nodes]


def workload_addons(
    scope: Scope,
    cluster_name: pulumi.Input[str],
    versions: AddonVersions,
    ebs_csi_role_arn: pulumi.Input[str],
    depends_on: Sequence[pulumi.Resource],
) -> list[aws.eks.Addon]:
    """The add-ons that run as Deployments: `depends_on` must hold the node group and the node add-ons."""
    ebs_identity = [
        aws.eks.AddonPodIdentityAssociationArgs(role_arn=ebs_csi_role_arn, service_account=EBS_CSI_SERVICE_ACCOUNT)
    ]
    return [
        _addon(scope, cluster_name, spec, depends_on, ebs_identity if spec.addon_name == "aws-ebs-csi-driver" else None)
        for spec in addon_specs(versions)
        if not spec.before_nodes
    ]
