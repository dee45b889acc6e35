"""Typed arguments of the EksGitOps component: the `eks` section of the stack configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.config_types import AcmCertificateArn, Cidr, ComponentConfig, Hostname, RuleProblem, rule

# EKS minor versions in standard support that this program and its manifests are validated against.
KubernetesVersion = Literal["1.33", "1.34", "1.35", "1.36"]
GitOpsEnvironment = Literal["dev", "staging", "prod"]

_SEMVER = r"^\d+\.\d+\.\d+$"
# Secrets Manager names allow letters, digits and /_+=.@-; the prefix ends with "/" so that
# `platform/dev/` can never also match `platform/dev-sandbox/...`.
_SECRETS_NAME_PREFIX = r"^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*/$"
_GIT_URL = r"^(https://[^\s@]+\.git|git@[A-Za-z0-9.-]+:[^\s]+\.git|ssh://git@[A-Za-z0-9.-]+(:\d+)?/[^\s]+\.git)$"


class EksGitOpsArgs(ComponentConfig):
    """Settings of the EksGitOps component, with production-sensible defaults."""

    kubernetes_version: KubernetesVersion = Field(
        "1.35", description="EKS Kubernetes minor version; manifests are validated against it."
    )
    vpc_cidr: Cidr = Field("10.0.0.0/16", description="CIDR of the cluster VPC (split over 3 AZs, public + private).")
    nat_gateways: Literal["single", "perAz"] = Field(
        "single", description="`single` NAT gateway (cheap, dev) or one per AZ (`perAz`, survives an AZ outage)."
    )
    endpoint_public_access: bool = Field(
        False, description="Also expose the Kubernetes API publicly, to `publicAccessCidrs` only (default: private)."
    )
    public_access_cidrs: list[Cidr] = Field(
        default_factory=list, description="CIDRs allowed to reach the public API endpoint (never 0.0.0.0/0)."
    )
    node_instance_type: str = Field(
        "t3.large", pattern=r"^[a-z][a-z0-9]*\.[a-z0-9]+$", description="EC2 instance type of the managed node group."
    )
    node_min_size: int = Field(2, ge=1, le=100, description="Minimum nodes in the managed node group.")
    node_desired_size: int = Field(3, ge=1, le=100, description="Desired nodes in the managed node group.")
    node_max_size: int = Field(5, ge=1, le=100, description="Maximum nodes in the managed node group.")
    node_disk_size_gib: int = Field(50, ge=20, le=1000, description="Encrypted gp3 root volume size per node (GiB).")
    high_availability: bool | None = Field(
        None,
        description="ArgoCD HA (replicas, redis-ha), ESO and load balancer controller replicas; unset = on in prod, "
        "off elsewhere.",
    )
    argocd_chart_version: str = Field(
        "9.5.17", pattern=_SEMVER, description="Pinned version of the argo-cd Helm chart."
    )
    external_secrets_chart_version: str = Field(
        "2.10.0", pattern=_SEMVER, description="Pinned version of the external-secrets Helm chart."
    )
    load_balancer_controller_chart_version: str = Field(
        "1.14.0",
        pattern=_SEMVER,
        description="Pinned version of the aws-load-balancer-controller Helm chart (eks-charts); its IAM policy "
        "in components/eks_gitops/load_balancer.py follows that controller release.",
    )
    argocd_hostname: Hostname | None = Field(
        None, description="Host name of the ArgoCD UI behind an ALB Ingress; requires `argocdCertificateArn`."
    )
    argocd_certificate_arn: AcmCertificateArn | None = Field(
        None, description="ACM certificate for `argocdHostname` (TLS terminates at the ALB)."
    )
    argocd_ingress_scheme: Literal["internal", "internet-facing"] = Field(
        "internal", description="ALB scheme of the ArgoCD Ingress."
    )
    rbac_developer_group: str = Field(
        "dev-team", min_length=1, description="SSO group mapped to `role:developer` (read all, sync dev)."
    )
    rbac_ops_group: str = Field("ops-team", min_length=1, description="SSO group mapped to `role:ops` (all actions).")
    slack_channel: str = Field(
        "deployments", pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$", description="Slack channel for ArgoCD sync notifications."
    )
    secrets_prefix: str | None = Field(
        None,
        pattern=_SECRETS_NAME_PREFIX,
        description="Secrets Manager name prefix ESO may read (ends with `/`); unset = `<project>/<stack>/`.",
    )
    repo_url: str | None = Field(
        None,
        pattern=_GIT_URL,
        description="Git URL of this repository, which ArgoCD syncs (https or ssh); required when enabled.",
    )
    target_revision: str = Field("main", min_length=1, description="Branch, tag or commit ArgoCD tracks.")
    environments: list[GitOpsEnvironment] = Field(
        default_factory=list,
        description="Overlays `k8s/apps/overlays/<env>` the ApplicationSet deploys; unset = the stack's environment.",
    )

    @rule("vpc_cidr")
    def _network_problems(self) -> list[RuleProblem]:
        prefix = int(self.vpc_cidr.split("/")[1])
        if 16 <= prefix <= 20:
            return []
        return [f"vpcCidr {self.vpc_cidr} must be a /16 to /20 (3 private + 3 public subnets, room for pod IPs)"]

    @rule("node_min_size", "node_desired_size", "node_max_size")
    def _node_counts_problems(self) -> list[RuleProblem]:
        if self.node_min_size <= self.node_desired_size <= self.node_max_size:
            return []
        return [
            f"nodeMinSize ({self.node_min_size}) <= nodeDesiredSize ({self.node_desired_size}) <= "
            f"nodeMaxSize ({self.node_max_size}) must hold"
        ]

    @rule("endpoint_public_access", "public_access_cidrs")
    def _endpoint_problems(self) -> list[RuleProblem]:
        if not self.endpoint_public_access:
            if self.public_access_cidrs:
                return [f"publicAccessCidrs {self.public_access_cidrs} are set but endpointPublicAccess is false"]
            return []
        if not self.public_access_cidrs:
            return ["endpointPublicAccess is true: list the allowed publicAccessCidrs (or set it false)"]
        open_ranges = [c for c in self.public_access_cidrs if c.endswith("/0")]
        if open_ranges:
            return [f"publicAccessCidrs {open_ranges} open the API to the internet; list your own ranges"]
        return []

    @rule("argocd_hostname", "argocd_certificate_arn")
    def _ingress_problems(self) -> list[RuleProblem]:
        if self.argocd_hostname and not self.argocd_certificate_arn:
            return [f"argocdHostname {self.argocd_hostname!r} needs argocdCertificateArn (an ACM certificate)"]
        if self.argocd_certificate_arn and not self.argocd_hostname:
            return ["argocdCertificateArn is set without argocdHostname; set the host name it covers"]
        return []

    @rule("environments")
    def _gitops_problems(self) -> list[RuleProblem]:
        if len(set(self.environments)) != len(self.environments):
            return [f"environments {self.environments} lists an environment twice"]
        return []

    def secrets_prefix_for(self, project: str, stack: str) -> str:
        """The Secrets Manager prefix ESO may read: the configured one, else `<project>/<stack>/`."""
        return self.secrets_prefix or f"{project}/{stack}/"

    def environments_for(self, stack_environment: str) -> list[str]:
        """The overlays the ApplicationSet deploys: the listed ones, else the stack's own environment."""
        return list(self.environments) or [stack_environment]

    def unreachable_environments(self, project: str, stack: str, stack_environment: str) -> list[str]:
        """Overlays whose secrets (`<project>/<env>/...`) lie outside the prefix ESO may read."""
        prefix = self.secrets_prefix_for(project, stack)
        return [e for e in self.environments_for(stack_environment) if not f"{project}/{e}/".startswith(prefix)]

    def argocd_ha(self, is_prod: bool) -> bool:
        """HA follows the environment unless set explicitly."""
        return is_prod if self.high_availability is None else self.high_availability
