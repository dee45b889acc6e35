"""Typed arguments of the EksGitOps component: the `eks` section of the stack configuration."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from components.config_types import (
    AcmCertificateArn,
    Cidr,
    ComponentConfig,
    ConfigModel,
    Hostname,
    RuleProblem,
    rule,
)

# EKS minor versions in standard support that this program and its manifests are validated against.
KubernetesVersion = Literal["1.33", "1.34", "1.35", "1.36"]
GitOpsEnvironment = Literal["dev", "staging", "prod"]

_SEMVER = r"^\d+\.\d+\.\d+$"
# Secrets Manager names allow letters, digits and /_+=.@-; the prefix ends with "/" so that
# `platform/dev/` can never also match `platform/dev-sandbox/...`.
_SECRETS_NAME_PREFIX = r"^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*/$"
_EKS_ADDON_VERSION = r"^v\d+\.\d+\.\d+-eksbuild\.\d+$"
_SECRETS_MANAGER_NAME = r"^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*$"
_K8S_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_GIT_URL = r"^(https://[^\s@]+\.git|git@[A-Za-z0-9.-]+:[^\s]+\.git|ssh://git@[A-Za-z0-9.-]+(:\d+)?/[^\s]+\.git)$"


def _iam_role_arn(value: str) -> str:
    if not re.match(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$", value):
        raise ValueError(f"{value!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    return value


def _https_url(value: str) -> str:
    if not re.match(r"^https://[A-Za-z0-9.-]+(:\d+)?(/[^\s]*)?$", value):
        raise ValueError(f"{value!r} is not an https URL such as https://login.example.com")
    return value.rstrip("/")


IamRoleArn = Annotated[str, AfterValidator(_iam_role_arn)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
AccessPolicy = Literal["clusterAdmin", "admin", "edit", "view"]


def public_problem(cidr: str) -> str | None:
    """Why a CIDR cannot be a source address seen by the public API endpoint, or None when it can."""
    network = ipaddress.ip_network(cidr)
    if network.prefixlen == 0:
        return "opens the API to the internet"
    if network.is_global:
        return None
    # Documentation (RFC 5737), private (RFC 1918), shared (RFC 6598), loopback and reserved ranges are never
    # the address a runner on the internet connects from.
    return "is a documentation, private or reserved range that no runner on the internet connects from"


class AccessEntryArgs(ConfigModel):
    """One IAM role granted Kubernetes access through an EKS access entry."""

    principal_arn: IamRoleArn = Field(description="IAM role ARN (an SSO permission-set role, a CI role...).")
    policy: AccessPolicy = Field(
        "view",
        description="EKS access policy: `clusterAdmin` (AmazonEKSClusterAdminPolicy), `admin`, `edit` or `view`.",
    )
    namespaces: list[Annotated[str, Field(pattern=_K8S_NAME)]] = Field(
        default_factory=list, description="Limit the policy to these namespaces; empty = the whole cluster."
    )


class ClusterAccessArgs(ConfigModel):
    """Who may use Kubernetes besides the principal that created the cluster."""

    deploy_role_arn: IamRoleArn | None = Field(
        None, description="Role that runs `pulumi up` (CI or the in-VPC deployer): cluster admin."
    )
    deploy_role_created_cluster: bool = Field(
        True,
        description="The deploy role created the cluster, so EKS already made it cluster admin (its creator entry); "
        "set false when another principal created it and the deploy role needs its own entry.",
    )
    preview_role_arn: IamRoleArn | None = Field(
        None, description="Role that runs `pulumi preview` on pull requests: read-only (`view`)."
    )
    entries: list[AccessEntryArgs] = Field(
        default_factory=list, description="Further roles, e.g. the ops team's SSO role with `admin`."
    )

    @rule("deploy_role_arn", "preview_role_arn", "entries")
    def _distinct(self) -> list[RuleProblem]:
        arns = [a for a in (self.deploy_role_arn, self.preview_role_arn) if a] + [e.principal_arn for e in self.entries]
        twice = sorted({a for a in arns if arns.count(a) > 1})
        if twice:
            return [f"{twice} listed more than once; EKS allows one access entry per principal"]
        return []


class AddonVersions(ConfigModel):
    """Pinned EKS managed add-on versions (`aws eks describe-addon-versions --kubernetes-version <v>`)."""

    vpc_cni: str = Field("v1.21.1-eksbuild.3", pattern=_EKS_ADDON_VERSION, description="vpc-cni add-on version.")
    kube_proxy: str = Field(
        "v1.35.0-eksbuild.2", pattern=_EKS_ADDON_VERSION, description="kube-proxy version; its minor is the cluster's."
    )
    coredns: str = Field("v1.13.2-eksbuild.1", pattern=_EKS_ADDON_VERSION, description="coredns add-on version.")
    eks_pod_identity_agent: str = Field(
        "v1.3.10-eksbuild.3", pattern=_EKS_ADDON_VERSION, description="eks-pod-identity-agent add-on version."
    )
    aws_ebs_csi_driver: str = Field(
        "v1.57.1-eksbuild.1", pattern=_EKS_ADDON_VERSION, description="aws-ebs-csi-driver add-on version."
    )


class ArgoCdOidcArgs(ConfigModel):
    """ArgoCD single sign-on through an OIDC provider (IAM Identity Center, Entra ID, Okta...)."""

    name: str = Field("SSO", min_length=1, description="Login button label.")
    issuer: HttpsUrl = Field(description="OIDC issuer URL.")
    client_id: str = Field(min_length=1, description="OIDC client id (not a secret).")
    client_secret_name: str | None = Field(
        None,
        pattern=_SECRETS_MANAGER_NAME,
        description="Secrets Manager secret, under the secrets prefix, holding the client secret as JSON "
        '`{"clientSecret": ...}`; the component creates it empty, ESO copies it into ArgoCD.',
    )
    groups_claim: str = Field("groups", min_length=1, description="ID-token claim listing the user's groups.")
    requested_scopes: list[str] = Field(
        default_factory=lambda: ["openid", "profile", "email", "groups"], description="Scopes ArgoCD requests."
    )

    @rule("client_secret_name")
    def _secret_named(self) -> list[RuleProblem]:
        if self.client_secret_name is None:
            return [
                "clientSecretName is required: name the Secrets Manager secret (under eks.secretsPrefix) that holds "
                "the OIDC client secret; the secret itself never goes into config"
            ]
        return []


class ExternalDnsArgs(ConfigModel):
    """external-dns keeps `argocdHostname` (and app Ingress hosts) pointing at their load balancers."""

    hosted_zone_id: str = Field(pattern=r"^Z[A-Z0-9]{1,31}$", description="Route 53 hosted zone it may change.")
    domain: Hostname = Field(description="The zone's domain; records outside it are never touched.")


class InVpcDeployerArgs(ConfigModel):
    """A CodeBuild project inside the cluster VPC that runs `pulumi up` against a private endpoint."""

    enabled: bool = Field(True, description="Build the in-VPC deployer (the default endpoint is private).")
    compute_type: Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"] = Field(
        "BUILD_GENERAL1_MEDIUM", description="CodeBuild compute type."
    )
    pulumi_version: str = Field("3.272.0", pattern=_SEMVER, description="Pulumi CLI version the build installs.")
    timeout_minutes: int = Field(90, ge=10, le=480, description="Build timeout.")


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
        default_factory=list,
        description="Egress CIDRs of the deploy runners (and operators) allowed to reach the public API endpoint; "
        "never 0.0.0.0/0, and in prod never documentation, private or reserved ranges.",
    )
    in_vpc_deployer: InVpcDeployerArgs = Field(
        InVpcDeployerArgs(), description="CodeBuild deployer inside the VPC; required when the endpoint is private."
    )
    access: ClusterAccessArgs = Field(ClusterAccessArgs(), description="EKS access entries.")
    addon_versions: AddonVersions = Field(AddonVersions(), description="Pinned EKS managed add-on versions.")
    node_instance_type: str = Field(
        "t3.large", pattern=r"^[a-z][a-z0-9]*\.[a-z0-9]+$", description="EC2 instance type of the managed node group."
    )
    node_capacity_type: Literal["ON_DEMAND", "SPOT"] = Field(
        "ON_DEMAND", description="`SPOT` for interruptible, cheaper nodes (dev); `ON_DEMAND` elsewhere."
    )
    spot_instance_types: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*\.[a-z0-9]+$")]] = Field(
        default_factory=list,
        description="Further instance types Spot may use besides `nodeInstanceType` (more pools, fewer interruptions).",
    )
    node_min_size: int = Field(2, ge=1, le=100, description="Minimum nodes in the managed node group.")
    node_desired_size: int = Field(3, ge=1, le=100, description="Desired nodes in the managed node group.")
    node_max_size: int = Field(5, ge=1, le=100, description="Maximum nodes in the managed node group.")
    node_disk_size_gib: int = Field(50, ge=20, le=1000, description="Encrypted gp3 root volume size per node (GiB).")
    high_availability: bool | None = Field(
        None,
        description="ArgoCD HA (replicas, redis-ha) and ESO replicas; unset = on in prod, off elsewhere (the load "
        "balancer controller always runs two).",
    )
    argocd_chart_version: str = Field(
        "9.5.17", pattern=_SEMVER, description="Pinned version of the argo-cd Helm chart."
    )
    external_secrets_chart_version: str = Field(
        "2.9.0", pattern=_SEMVER, description="Pinned version of the external-secrets Helm chart."
    )
    load_balancer_controller_chart_version: str = Field(
        "1.14.0",
        pattern=_SEMVER,
        description="Pinned version of the aws-load-balancer-controller Helm chart (eks-charts); its IAM policy "
        "in components/eks_gitops/load_balancer.py follows that controller release.",
    )
    external_dns_chart_version: str = Field(
        "1.21.1", pattern=_SEMVER, description="Pinned version of the external-dns Helm chart (kubernetes-sigs)."
    )
    metrics_server_chart_version: str = Field(
        "3.13.1", pattern=_SEMVER, description="Pinned version of the metrics-server Helm chart (kubernetes-sigs)."
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
    argocd_oidc: ArgoCdOidcArgs | None = Field(None, description="ArgoCD SSO; required in prod.")
    argocd_local_admin: bool | None = Field(
        None, description="Keep ArgoCD's local `admin` login; unset = only while no SSO is configured. Never in prod."
    )
    external_dns: ExternalDnsArgs | None = Field(
        None, description="Hosted zone external-dns manages; required with `argocdHostname`."
    )
    ecr_keep_images: int = Field(
        30, ge=1, le=1000, description="Images the app repository keeps (older ones expire; scan on push)."
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

    @rule("endpoint_public_access", "public_access_cidrs", "in_vpc_deployer")
    def _endpoint_problems(self) -> list[RuleProblem]:
        if not self.endpoint_public_access:
            if self.public_access_cidrs:
                return [f"publicAccessCidrs {self.public_access_cidrs} are set but endpointPublicAccess is false"]
            if not self.in_vpc_deployer.enabled:
                return [
                    "endpointPublicAccess is false and inVpcDeployer.enabled is false: nothing that runs `pulumi up` "
                    "can reach the private API; enable inVpcDeployer or open the endpoint to the deploy runners' "
                    "publicAccessCidrs"
                ]
            return []
        if not self.public_access_cidrs:
            return ["endpointPublicAccess is true: list the allowed publicAccessCidrs (or set it false)"]
        open_ranges = [c for c in self.public_access_cidrs if c.endswith("/0")]
        if open_ranges:
            return [f"publicAccessCidrs {open_ranges} open the API to the internet; list your own ranges"]
        return []

    @rule("argocd_hostname", "argocd_certificate_arn", "external_dns")
    def _ingress_problems(self) -> list[RuleProblem]:
        if self.argocd_hostname and not self.argocd_certificate_arn:
            return [f"argocdHostname {self.argocd_hostname!r} needs argocdCertificateArn (an ACM certificate)"]
        if self.argocd_certificate_arn and not self.argocd_hostname:
            return ["argocdCertificateArn is set without argocdHostname; set the host name it covers"]
        if not self.argocd_hostname:
            return []
        if self.external_dns is None:
            return [f"argocdHostname {self.argocd_hostname!r} needs externalDns (the hosted zone that gets its record)"]
        if not self.argocd_hostname.endswith(f".{self.external_dns.domain}"):
            return [
                f"argocdHostname {self.argocd_hostname!r} is outside externalDns.domain "
                f"{self.external_dns.domain!r}; external-dns may only change records in its zone"
            ]
        return []

    @rule("environments")
    def _gitops_problems(self) -> list[RuleProblem]:
        if len(set(self.environments)) != len(self.environments):
            return [f"environments {self.environments} lists an environment twice"]
        return []

    @rule("kubernetes_version", "addon_versions")
    def _addon_problems(self) -> list[RuleProblem]:
        proxy_minor = ".".join(self.addon_versions.kube_proxy.removeprefix("v").split(".")[:2])
        if proxy_minor == self.kubernetes_version:
            return []
        return [
            f"addonVersions.kubeProxy {self.addon_versions.kube_proxy} is built for Kubernetes {proxy_minor}, "
            f"but kubernetesVersion is {self.kubernetes_version}; pin a v{self.kubernetes_version}.x-eksbuild.N"
        ]

    @rule("node_capacity_type", "spot_instance_types")
    def _spot_problems(self) -> list[RuleProblem]:
        if self.spot_instance_types and self.node_capacity_type != "SPOT":
            return [f"spotInstanceTypes {self.spot_instance_types} are set but nodeCapacityType is ON_DEMAND"]
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

    def stack_problems(self, *, is_prod: bool) -> list[str]:
        """Rules checked when the cluster is built: what the deployer needs, and what production demands
        (reachable by real runners, SSO the only ArgoCD login)."""
        problems = []
        if self.in_vpc_deployer.enabled and self.access.deploy_role_arn is None:
            problems.append(
                "eks.inVpcDeployer: the deployer runs `pulumi up` as eks.access.deployRoleArn, which is not set"
            )
        if not is_prod:
            return problems
        problems += [
            f"eks.publicAccessCidrs: {cidr} {why}; list the deploy runners' real egress CIDRs or use "
            "eks.inVpcDeployer with a private endpoint"
            for cidr in self.public_access_cidrs
            if (why := public_problem(cidr))
        ]
        if self.argocd_oidc is None:
            problems.append("eks.argocdOidc: required in prod (SSO is the only ArgoCD login there)")
        if self.argocd_local_admin:
            problems.append("eks.argocdLocalAdmin: true is refused in prod; log in through eks.argocdOidc")
        if self.access.deploy_role_arn is None and not self.in_vpc_deployer.enabled:
            problems.append("eks.access.deployRoleArn: required in prod (the role that runs `pulumi up`)")
        return problems

    def check_stack(self, *, is_prod: bool) -> None:
        problems = self.stack_problems(is_prod=is_prod)
        if problems:
            raise ValueError("; ".join(problems))

    def local_admin_enabled(self) -> bool:
        """ArgoCD's `admin` login stays only when asked for, or while there is no other way in."""
        return self.argocd_oidc is None if self.argocd_local_admin is None else self.argocd_local_admin

    def argocd_ha(self, is_prod: bool) -> bool:
        """HA follows the environment unless set explicitly."""
        return is_prod if self.high_availability is None else self.high_availability
