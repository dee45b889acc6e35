"""EKS access entries: who besides the cluster's creator may use Kubernetes, and with which access policy.

The cluster runs with `authenticationMode: API`, so these entries (not the aws-auth ConfigMap) are the
only way in. EKS already gives the creator a cluster-admin entry; a second entry for the same principal
fails, so the deploy role gets its own only when another principal created the cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.eks_gitops.args import AccessPolicy, ClusterAccessArgs
from components.scope import Scope

POLICY_NAMES: dict[AccessPolicy, str] = {
    "clusterAdmin": "AmazonEKSClusterAdminPolicy",
    "admin": "AmazonEKSAdminPolicy",
    "edit": "AmazonEKSEditPolicy",
    "view": "AmazonEKSViewPolicy",
}


@dataclass(frozen=True)
class Grant:
    """One principal's access: an access policy on the cluster or on some namespaces."""

    purpose: str
    principal_arn: str
    policy: AccessPolicy
    namespaces: tuple[str, ...] = ()


def role_name(principal_arn: str) -> str:
    return principal_arn.rsplit("/", 1)[-1]


def grants(access: ClusterAccessArgs) -> list[Grant]:
    """The entries the configuration asks for: deploy (admin), preview (view), then the listed roles."""
    found = []
    if access.deploy_role_arn and not access.deploy_role_created_cluster:
        found.append(Grant("deploy", access.deploy_role_arn, "clusterAdmin"))
    if access.preview_role_arn:
        found.append(Grant("preview", access.preview_role_arn, "view"))
    found += [Grant(role_name(e.principal_arn), e.principal_arn, e.policy, tuple(e.namespaces)) for e in access.entries]
    return found


def policy_arn(partition: pulumi.Input[str], policy: AccessPolicy) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:", partition, ":eks::aws:cluster-access-policy/", POLICY_NAMES[policy])


@dataclass(frozen=True)
class ClusterAccess:
    entry: aws.eks.AccessEntry
    association: aws.eks.AccessPolicyAssociation


def create_access_entries(
    scope: Scope,
    cluster_name: pulumi.Input[str],
    access: ClusterAccessArgs,
    depends_on: Sequence[pulumi.Resource] = (),
) -> list[ClusterAccess]:
    """An access entry and its policy association per grant (after the cluster: `depends_on`)."""
    opts = scope.opts(depends_on=list(depends_on))
    created = []
    for grant in grants(access):
        entry = aws.eks.AccessEntry(
            scope.child(f"access-{grant.purpose}"),
            cluster_name=cluster_name,
            principal_arn=grant.principal_arn,
            type="STANDARD",
            opts=opts,
        )
        access_scope = (
            aws.eks.AccessPolicyAssociationAccessScopeArgs(type="namespace", namespaces=list(grant.namespaces))
            if grant.namespaces
            else aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster")
        )
        association = aws.eks.AccessPolicyAssociation(
            scope.child(f"access-{grant.purpose}"),
            cluster_name=cluster_name,
            principal_arn=entry.principal_arn,
            policy_arn=policy_arn(scope.ctx.partition, grant.policy),
            access_scope=access_scope,
            opts=opts,
        )
        created.append(ClusterAccess(entry, association))
    return created
