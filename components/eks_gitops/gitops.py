"""What the component hands over to GitOps, as plain data: Helm values and the ArgoCD/ESO objects.

Pure functions over the stack's settings (and Pulumi Outputs passed through untouched), so the
decisions are testable without a cluster. The objects themselves live as templates in `k8s/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import yaml

from components.eks_gitops import secrets
from components.eks_gitops.args import ArgoCdOidcArgs, EksGitOpsArgs, ExternalDnsArgs
from components.eks_gitops.manifests import deep_merge, overlay_namespace, render_one

ARGOCD_NAMESPACE = "argocd"
ESO_NAMESPACE = "external-secrets"
ESO_SERVICE_ACCOUNT = "external-secrets"
APP_PROJECT = "platform-apps"
ADDONS_PROJECT = "cluster-addons"
OIDC_SECRET = "argocd-oidc"  # noqa: S105 - the Kubernetes Secret's name  # pragma: allowlist secret
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_ARGOCD_HOST = f"argocd-server.{ARGOCD_NAMESPACE}.svc.cluster.local"


@dataclass(frozen=True)
class GitOpsEnvironment:
    """One element of the ApplicationSet's list generator."""

    env: str
    namespace: str


def gitops_environments(args: EksGitOpsArgs, stack_environment: str) -> list[GitOpsEnvironment]:
    """The overlays to deploy (the stack's own environment unless listed), with their namespaces."""
    names = list(args.environments) or [stack_environment]
    return [GitOpsEnvironment(env=name, namespace=overlay_namespace(name)) for name in names]


def secrets_prefix(args: EksGitOpsArgs, project: str, stack: str) -> str:
    return args.secrets_prefix or f"{project}/{stack}/"


def check_secrets_reachable(prefix: str, project: str, environments: Sequence[GitOpsEnvironment]) -> None:
    """Each overlay reads `<project>/<env>/...`: the ESO role (limited to the prefix) must reach it."""
    unreachable = [e.env for e in environments if not f"{project}/{e.env}/".startswith(prefix)]
    if unreachable:
        raise ValueError(
            f"eks.environments {unreachable}: their secrets live under {project}/<env>/ which the "
            f"External Secrets role cannot read with eks.secretsPrefix {prefix!r}; set a prefix that covers them "
            f"(e.g. {project}/) or deploy those environments from their own stack"
        )


def repository_credential_fields(repo_url: str) -> dict[str, str]:
    """ArgoCD repository secret fields, filled by ESO from the Secrets Manager secret's JSON properties."""
    fields = {"type": "git", "url": repo_url}
    if repo_url.startswith("https://"):
        return {**fields, "username": "{{ .username }}", "password": "{{ .password }}"}
    return {**fields, "sshPrivateKey": "{{ .sshPrivateKey }}"}


def argocd_url(args: EksGitOpsArgs) -> str:
    """The ALB host when an Ingress is configured, else the in-cluster service (reach it by port-forward)."""
    return f"https://{args.argocd_hostname or IN_CLUSTER_ARGOCD_HOST}"


def argocd_ingress(args: EksGitOpsArgs) -> dict[str, Any]:
    """argo-cd chart `server.ingress` for an AWS ALB terminating TLS with the ACM certificate."""
    if not args.argocd_hostname:
        return {"enabled": False}
    return {
        "enabled": True,
        "controller": "aws",
        "ingressClassName": "alb",
        "hostname": args.argocd_hostname,
        "annotations": {
            "alb.ingress.kubernetes.io/scheme": args.argocd_ingress_scheme,
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
            "alb.ingress.kubernetes.io/certificate-arn": args.argocd_certificate_arn,
            "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS":443}]',
            "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        },
        # gRPC (argocd CLI) and HTTP share the ALB through a second target group.
        "aws": {"serviceType": "ClusterIP", "backendProtocolVersion": "GRPC"},
    }


def oidc_config(oidc: ArgoCdOidcArgs) -> str:
    """ArgoCD `oidc.config`: the client secret is a reference to the ESO-made Secret, never the value."""
    return yaml.safe_dump(
        {
            "name": oidc.name,
            "issuer": oidc.issuer,
            "clientID": oidc.client_id,
            "clientSecret": f"${OIDC_SECRET}:clientSecret",
            "requestedScopes": list(oidc.requested_scopes),
            "requestedIDTokenClaims": {oidc.groups_claim: {"essential": True}},
        },
        sort_keys=False,
    )


def argocd_values(args: EksGitOpsArgs, *, high_availability: bool) -> dict[str, Any]:
    """argo-cd chart values: k8s/argocd/values.yaml (+ values-ha.yaml) with the stack's settings."""
    groups_claim = args.argocd_oidc.groups_claim if args.argocd_oidc else "groups"
    values = render_one(
        "argocd/values.yaml",
        {
            "argocdDomain": args.argocd_hostname or IN_CLUSTER_ARGOCD_HOST,
            "serverInsecure": bool(args.argocd_hostname),
            "localAdminEnabled": args.local_admin_enabled(),
            "rbacScopes": f"[{groups_claim}]",
            "appProject": APP_PROJECT,
            "developerGroup": args.rbac_developer_group,
            "opsGroup": args.rbac_ops_group,
            "slackChannel": args.slack_channel,
        },
    )
    if high_availability:
        values = deep_merge(values, render_one("argocd/values-ha.yaml", {}))
    if args.argocd_oidc is not None:
        values = deep_merge(values, {"configs": {"cm": {"oidc.config": oidc_config(args.argocd_oidc)}}})
    return deep_merge(values, {"server": {"ingress": argocd_ingress(args)}})


def external_secrets_values(role_arn: pulumi.Input[str], *, high_availability: bool) -> dict[str, Any]:
    values = render_one("addons/external-secrets/values.yaml", {"externalSecretsRoleArn": role_arn})
    if high_availability:
        values = deep_merge(values, render_one("addons/external-secrets/values-ha.yaml", {}))
    return values


def cluster_secret_store(region: str, environments: Sequence[GitOpsEnvironment]) -> dict[str, Any]:
    allowed = [ARGOCD_NAMESPACE, *(e.namespace for e in environments)]
    return render_one(
        "addons/external-secrets/cluster-secret-store.yaml", {"region": region, "allowedNamespaces": allowed}
    )


@dataclass(frozen=True)
class ClusterMetadata:
    """Cloud facts workloads need, handed to GitOps on the ArgoCD cluster secret (gitops-bridge)."""

    environment: str
    account_id: pulumi.Input[str]
    region: str
    cluster_name: str
    vpc_id: pulumi.Input[str]
    external_secrets_role_arn: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    load_balancer_controller_role_arn: pulumi.Input[str]
    secrets_prefix: str
    repo_url: str
    target_revision: str
    external_dns: ExternalDnsArgs | None = None
    external_dns_role_arn: pulumi.Input[str] | None = None


def cluster_secret(metadata: ClusterMetadata) -> dict[str, Any]:
    dns = metadata.external_dns
    if (dns is None) != (metadata.external_dns_role_arn is None):
        raise ValueError("external-dns needs both its hosted zone and its role, or neither")
    return render_one(
        "argocd/cluster-secret.yaml",
        {
            "environment": metadata.environment,
            "accountId": metadata.account_id,
            "region": metadata.region,
            "clusterName": metadata.cluster_name,
            "vpcId": metadata.vpc_id,
            "externalSecretsRoleArn": metadata.external_secrets_role_arn,
            "nodeRoleArn": metadata.node_role_arn,
            "loadBalancerControllerRoleArn": metadata.load_balancer_controller_role_arn,
            "secretsPrefix": metadata.secrets_prefix,
            "repoUrl": metadata.repo_url,
            "targetRevision": metadata.target_revision,
            # Annotation and label values are strings: "" and "false" where external-dns is not configured.
            "enableExternalDns": "true" if dns else "false",
            "externalDnsRoleArn": metadata.external_dns_role_arn or "",
            "externalDnsDomain": dns.domain if dns else "",
            "externalDnsHostedZoneId": dns.hosted_zone_id if dns else "",
        },
    )


def app_project(repo_url: str, environments: Sequence[GitOpsEnvironment]) -> dict[str, Any]:
    destinations = [{"server": IN_CLUSTER_SERVER, "namespace": e.namespace} for e in environments]
    return render_one(
        "argocd/appproject.yaml", {"appProject": APP_PROJECT, "repoUrl": repo_url, "destinations": destinations}
    )


def application_set(repo_url: str, target_revision: str, environments: Sequence[GitOpsEnvironment]) -> dict[str, Any]:
    elements = [{"env": e.env, "namespace": e.namespace} for e in environments]
    return render_one(
        "argocd/applicationset.yaml",
        {
            "environments": elements,
            "appProject": APP_PROJECT,
            "repoUrl": repo_url,
            "targetRevision": target_revision,
        },
    )


def repository_external_secret(repo_url: str, prefix: str) -> dict[str, Any]:
    return render_one(
        "argocd/repository-externalsecret.yaml",
        {
            "credentialFields": repository_credential_fields(repo_url),
            "repositorySecretName": f"{prefix}{secrets.REPOSITORY}",
        },
    )


def notifications_external_secret(prefix: str) -> dict[str, Any]:
    return render_one(
        "argocd/notifications-externalsecret.yaml", {"slackSecretName": f"{prefix}{secrets.NOTIFICATIONS}"}
    )


def oidc_external_secret(prefix: str, oidc: ArgoCdOidcArgs) -> dict[str, Any]:
    if oidc.client_secret_name is None:
        raise ValueError("eks.argocdOidc.clientSecretName: required to read the OIDC client secret")
    return render_one("argocd/oidc-externalsecret.yaml", {"oidcSecretName": f"{prefix}{oidc.client_secret_name}"})


def addons_app_project(repo_url: str) -> dict[str, Any]:
    return render_one("addons/appproject.yaml", {"addonsProject": ADDONS_PROJECT, "repoUrl": repo_url})


def addons_application_set(args: EksGitOpsArgs, repo_url: str) -> dict[str, Any]:
    """The cluster-addons ApplicationSet with the stack's pinned chart versions and repository revision."""
    return render_one(
        "addons/applicationset.yaml",
        {
            "addonsProject": ADDONS_PROJECT,
            "repoUrl": repo_url,
            "targetRevision": args.target_revision,
            "loadBalancerControllerChartVersion": args.load_balancer_controller_chart_version,
            "externalDnsChartVersion": args.external_dns_chart_version,
            "metricsServerChartVersion": args.metrics_server_chart_version,
        },
    )
