"""external-dns's AWS side: an IRSA role that may change records in the configured hosted zone only.

The add-on itself is installed by the cluster-addons ApplicationSet (k8s/addons/), which reads this role's ARN,
the zone id and the domain from the ArgoCD cluster secret.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.iam import Statement, policy_document, web_identity_trust_policy
from components.scope import Scope

NAMESPACE = "external-dns"
SERVICE_ACCOUNT = "external-dns"


def hosted_zone_arn(partition: pulumi.Input[str], zone_id: str) -> pulumi.Output[str]:
    """Route 53 zone ARNs carry neither region nor account."""
    return pulumi.Output.concat("arn:", partition, f":route53:::hostedzone/{zone_id}")


def external_dns_statements(partition: pulumi.Input[str], zone_id: str) -> list[Statement]:
    zone = hosted_zone_arn(partition, zone_id)
    return [
        Statement(
            sid="ManageRecordsInTheZone",
            actions=[
                "route53:ChangeResourceRecordSets",
                "route53:ListResourceRecordSets",
                "route53:ListTagsForResources",
            ],
            resources=[zone],
        ),
        # Zone discovery has no resource-level permission; `--zone-id-filter` keeps it to the one zone.
        Statement(sid="FindTheZone", actions=["route53:ListHostedZones"], resources=["*"]),
    ]


def external_dns_role(
    scope: Scope, *, oidc_provider_arn: pulumi.Input[str], oidc_issuer: pulumi.Input[str], zone_id: str
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    role = aws.iam.Role(
        scope.child("external-dns-role"),
        name=scope.physical("external-dns", service="iam"),
        assume_role_policy=web_identity_trust_policy(oidc_provider_arn, oidc_issuer, NAMESPACE, SERVICE_ACCOUNT),
        opts=scope.opts(),
    )
    policy = aws.iam.RolePolicy(
        scope.child("external-dns"),
        role=role.id,
        policy=policy_document(*external_dns_statements(scope.ctx.partition, zone_id)),
        opts=scope.opts(),
    )
    return role, policy
