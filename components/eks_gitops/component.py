"""The EksGitOpsCluster component: EKS, ArgoCD and External Secrets, handed over to the GitOps repository."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.context import StackContext
from components.eks_gitops import access, addons, deployer, dns, gitops, nodes, registry, secrets
from components.eks_gitops import load_balancer as lbc
from components.eks_gitops.args import EksGitOpsArgs
from components.eks_gitops.network import ClusterNetwork, build_network
from components.iam import Statement, policy_document, service_trust_policy, web_identity_trust_policy
from components.scope import Scope, component_options
from components.vpc_guards import guard_vpc

# Physical-name slug of a cluster unless the program gives another one.
COMPONENT = "eks"
CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
ARGO_HELM_REPO = "https://argoproj.github.io/argo-helm"
ESO_HELM_REPO = "https://charts.external-secrets.io"
NODE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly"]
# What EKS needs on the secrets key to envelope-encrypt Kubernetes secrets (EKS user guide, "enable-kms").
CLUSTER_KEY_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
HELM_TIMEOUT_SECONDS = 900


def aws_managed_policy(ctx: StackContext, name: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:", ctx.partition, ":iam::aws:policy/", name)


class EksGitOpsCluster(pulumi.ComponentResource):
    """A private-subnet EKS cluster running ArgoCD and External Secrets, syncing `k8s/` from Git."""

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        args: EksGitOpsArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        slug: str = COMPONENT,
    ) -> None:
        super().__init__("platform:index:EksGitOpsCluster", name, None, component_options(ctx, opts))
        if args.repo_url is None:
            raise ValueError("eks.repoUrl: required when eks is enabled (the Git URL of the repository holding k8s/)")
        args.check_stack(is_prod=ctx.is_prod)
        self._ctx = ctx
        self._args = args
        self._scope = Scope.of(self, ctx, name, slug)
        self._repo_url = args.repo_url
        self._ha = args.argocd_ha(ctx.is_prod)
        self._prefix = gitops.secrets_prefix(args, ctx.project, ctx.stack)
        self._own_secrets = secrets.cluster_prefix(self._prefix, slug)
        self._environments = gitops.gitops_environments(args, ctx.config.environment)
        gitops.check_secrets_reachable(self._prefix, ctx.project, self._environments)
        self.cluster_name = self._scope.physical("cluster", service="eks")
        self.cluster_arn = ctx.arn("eks", f"cluster/{self.cluster_name}")

        self.network = build_network(self._scope, self.cluster_name, args.vpc_cidr, args.nat_gateways == "perAz")
        self.cluster_key = self._scope.key(
            "cluster",
            description=f"EKS {self.cluster_name}: envelope encryption of secrets, control-plane and VPC flow logs",
            services=["logs"],
        )
        self.vpc_guards = guard_vpc(
            self._scope.with_key(self.cluster_key.arn),
            purpose="vpc",
            vpc_id=self.network.vpc.id,
            retention_days=ctx.config.log_retention_days,
        )
        self.data_key = self._scope.key(
            "data",
            description=f"EKS {self.cluster_name}: the Secrets Manager secrets it reads and its image repository",
        )
        self.cluster_role = self._cluster_role()
        self.node_role = self._node_role()
        self.cluster = self._cluster(self.network)
        self.access = access.create_access_entries(self._scope, self.cluster_name, args.access, [self.cluster])
        self.node_addons = addons.node_addons(self._scope, self.cluster_name, args.addon_versions, [self.cluster])
        self.node_group = nodes.managed_node_group(
            self._scope,
            args,
            cluster=self.cluster,
            node_role=self.node_role,
            subnet_ids=self.network.private_subnet_ids,
            depends_on=[*self.network.private_egress, *self.node_addons],
        )
        self.ebs_csi_role = addons.ebs_csi_role(self._scope, self.cluster_arn)
        self.workload_addons = addons.workload_addons(
            self._scope,
            self.cluster_name,
            args.addon_versions,
            self.ebs_csi_role.arn,
            [self.node_group, *self.node_addons],
        )
        self.secrets = secrets.create_secrets(
            self._scope, self._own_secrets, secrets.required_secrets(args, self._repo_url), self.data_key.arn
        )
        self.app_repository, _ = registry.app_repository(self._scope, args.ecr_keep_images, self.data_key.arn)
        self.eso_role = self._external_secrets_role()
        self.lbc_role, self.lbc_policy = self._load_balancer_controller_role()
        self.external_dns_role = (
            dns.external_dns_role(
                self._scope,
                oidc_provider_arn=self.cluster.oidc_provider_arn,
                oidc_issuer=self.cluster.oidc_issuer,
                zone_id=args.external_dns.hosted_zone_id,
            )[0]
            if args.external_dns
            else None
        )
        self.deployer = self._deployer() if args.in_vpc_deployer.enabled else None

        self.k8s_provider = k8s.Provider(
            self._scope.child("k8s"), kubeconfig=self.cluster.kubeconfig_json, opts=self._child()
        )
        self._install_gitops()
        self.argocd_url = gitops.argocd_url(args)
        self.register_outputs(self.stack_outputs())

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return self._scope.opts(**kwargs)

    def _k8s(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        """Options of every Kubernetes object: the cluster's own provider, never an ambient kubeconfig."""
        return self._scope.opts(provider=self.k8s_provider, depends_on=list(depends_on))

    @property
    def _cluster_ready(self) -> list[pulumi.Resource]:
        """What Kubernetes objects wait for: nodes, cluster DNS and storage, and every access entry (the deploy
        role's own, when another principal created the cluster)."""
        return [self.node_group, *self.workload_addons, *(grant.association for grant in self.access)]

    # --- AWS side -------------------------------------------------------------------------------------

    def _cluster_role(self) -> aws.iam.Role:
        ctx = self._ctx
        role = aws.iam.Role(
            self._scope.child("cluster-role"),
            name=self._scope.physical("cluster", service="iam"),
            assume_role_policy=service_trust_policy("eks.amazonaws.com"),
            opts=self._child(),
        )
        aws.iam.RolePolicyAttachment(
            self._scope.child("cluster-policy"),
            role=role.name,
            policy_arn=aws_managed_policy(ctx, "AmazonEKSClusterPolicy"),
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            self._scope.child("cluster-secrets-key"),
            role=role.id,
            policy=policy_document(
                Statement(sid="EnvelopeEncryption", actions=CLUSTER_KEY_ACTIONS, resources=[self.cluster_key.arn])
            ),
            opts=self._child(),
        )
        return role

    def _node_role(self) -> aws.iam.Role:
        ctx = self._ctx
        role = aws.iam.Role(
            self._scope.child("node-role"),
            name=self._scope.physical("node", service="iam"),
            assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
            opts=self._child(),
        )
        for policy in NODE_POLICIES:
            aws.iam.RolePolicyAttachment(
                self._scope.child(f"node-{policy}"),
                role=role.name,
                policy_arn=aws_managed_policy(ctx, policy),
                opts=self._child(),
            )
        return role

    def _cluster(self, network: ClusterNetwork) -> eks.Cluster:
        ctx, args = self._ctx, self._args
        # EKS writes control-plane logs to this group; creating it first gives it retention and our key.
        log_group = aws.cloudwatch.LogGroup(
            self._scope.child("control-plane-logs"),
            name=f"/aws/eks/{self.cluster_name}/cluster",
            retention_in_days=ctx.config.log_retention_days,
            kms_key_id=self.cluster_key.arn,
            opts=self._child(),
        )
        return eks.Cluster(
            self._scope.child("cluster"),
            name=self.cluster_name,
            version=args.kubernetes_version,
            vpc_id=network.vpc.id,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            node_associate_public_ip_address=False,
            endpoint_private_access=True,
            endpoint_public_access=args.endpoint_public_access,
            public_access_cidrs=args.public_access_cidrs or None,
            enabled_cluster_log_types=CONTROL_PLANE_LOG_TYPES,
            encryption_config_key_arn=self.cluster_key.arn,
            create_oidc_provider=True,
            authentication_mode=eks.AuthenticationMode.API,
            service_role=self.cluster_role,
            skip_default_node_group=True,
            # Every add-on is a pinned aws.eks.Addon (components/eks_gitops/addons.py), coredns included.
            **addons.PULUMI_EKS_ADDONS_OFF,
            deletion_protection=ctx.is_prod,
            opts=ctx.stateful(self._child(providers={"aws": ctx.primary}, depends_on=[log_group])),
        )

    def _external_secrets_role(self) -> aws.iam.Role:
        ctx = self._ctx
        role = aws.iam.Role(
            self._scope.child("external-secrets-role"),
            name=self._scope.physical("external-secrets", service="iam"),
            assume_role_policy=web_identity_trust_policy(
                self.cluster.oidc_provider_arn,
                self.cluster.oidc_issuer,
                gitops.ESO_NAMESPACE,
                gitops.ESO_SERVICE_ACCOUNT,
            ),
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            self._scope.child("external-secrets-read"),
            role=role.id,
            policy=policy_document(
                Statement(
                    sid="ReadStackSecrets",
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=[ctx.arn("secretsmanager", f"secret:{self._prefix}*")],
                ),
                secrets.decrypt_statement(self.data_key.arn, ctx.region),
            ),
            opts=self._child(),
        )
        return role

    def _load_balancer_controller_role(self) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        ctx = self._ctx
        role = aws.iam.Role(
            self._scope.child("load-balancer-controller-role"),
            name=self._scope.physical("load-balancer-controller", service="iam"),
            assume_role_policy=web_identity_trust_policy(
                self.cluster.oidc_provider_arn, self.cluster.oidc_issuer, lbc.NAMESPACE, lbc.SERVICE_ACCOUNT
            ),
            opts=self._child(),
        )
        role_policy = aws.iam.RolePolicy(
            self._scope.child("load-balancer-controller"),
            role=role.id,
            policy=policy_document(*lbc.controller_statements(ctx, self.cluster_name, self.network.vpc.id)),
            opts=self._child(),
        )
        return role, role_policy

    def _deployer(self) -> deployer.InVpcDeployer:
        ctx, args = self._ctx, self._args
        if args.access.deploy_role_arn is None:  # refused by args.check_stack; kept for the type checker
            raise ValueError("eks.inVpcDeployer needs eks.access.deployRoleArn")
        return deployer.in_vpc_deployer(
            self._scope,
            args.in_vpc_deployer,
            repo_url=self._repo_url,
            target_revision=args.target_revision,
            deploy_role_arn=args.access.deploy_role_arn,
            preview_role_arn=args.access.preview_role_arn,
            network=deployer.DeployerNetwork(
                vpc_id=self.network.vpc.id,
                subnet_ids=self.network.private_subnet_ids,
                subnet_arns=[
                    pulumi.Output.concat(ctx.arn("ec2", "subnet/"), s) for s in self.network.private_subnet_ids
                ],
                cluster_security_group_id=self.cluster.cluster_security_group_id,
            ),
            secrets=deployer.DeployerSecrets(
                repository_arn=self.secrets["repositoryCredentialSecretArn"].arn,
                repository_keys=secrets.repository_keys(self._repo_url),
                pulumi_token_arn=self.secrets["deployerTokenSecretArn"].arn,
                kms_key_arn=self.data_key.arn,
            ),
            logs_kms_key_arn=self.cluster_key.arn,
        )

    # --- Kubernetes side ------------------------------------------------------------------------------

    def _release(
        self, name: str, chart: str, version: str, repo: str, namespace: str, values: dict[str, Any], after: list
    ) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            self._scope.child(name),
            name=name,
            chart=chart,
            version=version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo),
            namespace=namespace,
            values=values,
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            timeout=HELM_TIMEOUT_SECONDS,
            opts=self._k8s([*after, *self._cluster_ready]),
        )

    def _install_gitops(self) -> None:
        """ArgoCD and External Secrets are bootstrapped here (ESO unlocks the repository, so it cannot come from
        it); the load balancer controller, external-dns and metrics-server come from k8s/addons through ArgoCD."""
        ctx, args = self._ctx, self._args
        argocd_ns = k8s.core.v1.Namespace(
            self._scope.child("argocd-namespace"),
            metadata={"name": gitops.ARGOCD_NAMESPACE},
            opts=self._k8s(self._cluster_ready),
        )
        eso_ns = k8s.core.v1.Namespace(
            self._scope.child("external-secrets-namespace"),
            metadata={"name": gitops.ESO_NAMESPACE},
            opts=self._k8s(self._cluster_ready),
        )
        self.eso_release = self._release(
            "external-secrets",
            "external-secrets",
            args.external_secrets_chart_version,
            ESO_HELM_REPO,
            gitops.ESO_NAMESPACE,
            gitops.external_secrets_values(self.eso_role.arn, high_availability=self._ha),
            [eso_ns],
        )
        self.argocd_release = self._release(
            "argocd",
            "argo-cd",
            args.argocd_chart_version,
            ARGO_HELM_REPO,
            gitops.ARGOCD_NAMESPACE,
            gitops.argocd_values(args, high_availability=self._ha),
            [argocd_ns],
        )
        store = self._custom_resource(
            "secrets-manager-store",
            gitops.cluster_secret_store(ctx.region, self._environments),
            [self.eso_release],
        )
        secrets_ready = [store, self.argocd_release]
        repository = self._custom_resource(
            "argocd-repository", gitops.repository_external_secret(self._repo_url, self._own_secrets), secrets_ready
        )
        notifications = gitops.notifications_external_secret(self._own_secrets)
        self._custom_resource("argocd-notifications", notifications, secrets_ready)
        if args.argocd_oidc is not None:
            self._custom_resource(
                "argocd-oidc", gitops.oidc_external_secret(self._own_secrets, args.argocd_oidc), secrets_ready
            )
        cluster_secret = self._cluster_secret(argocd_ns)
        project = self._custom_resource(
            "argocd-project", gitops.app_project(self._repo_url, self._environments), [self.argocd_release]
        )
        self._custom_resource(
            "argocd-applicationset",
            gitops.application_set(self._repo_url, args.target_revision, self._environments),
            [project, repository],
        )
        addons_project = self._custom_resource(
            "argocd-addons-project", gitops.addons_app_project(self._repo_url), [self.argocd_release]
        )
        # The add-ons read the cluster facts from the cluster secret's annotations: it exists first.
        self._custom_resource(
            "argocd-addons",
            gitops.addons_application_set(args, self._repo_url),
            [addons_project, repository, cluster_secret, self.lbc_policy],
        )

    def _cluster_secret(self, namespace: k8s.core.v1.Namespace) -> k8s.core.v1.Secret:
        ctx, args = self._ctx, self._args
        document = gitops.cluster_secret(
            gitops.ClusterMetadata(
                environment=ctx.config.environment,
                account_id=ctx.account_id,
                region=ctx.region,
                cluster_name=self.cluster_name,
                vpc_id=self.network.vpc.id,
                external_secrets_role_arn=self.eso_role.arn,
                node_role_arn=self.node_role.arn,
                load_balancer_controller_role_arn=self.lbc_role.arn,
                secrets_prefix=self._prefix,
                repo_url=self._repo_url,
                target_revision=args.target_revision,
                external_dns=args.external_dns,
                external_dns_role_arn=self.external_dns_role.arn if self.external_dns_role else None,
            )
        )
        return k8s.core.v1.Secret(
            self._scope.child("argocd-in-cluster"),
            metadata=document["metadata"],
            type=document["type"],
            string_data=document["stringData"],
            opts=self._k8s([namespace]),
        )

    def _custom_resource(
        self, logical: str, document: dict[str, Any], depends_on: Sequence[pulumi.Resource]
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            self._scope.child(logical),
            api_version=document["apiVersion"],
            kind=document["kind"],
            metadata=document["metadata"],
            spec=document["spec"],
            opts=self._k8s(depends_on),
        )

    def stack_outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {
            "clusterName": self.cluster_name,
            "kubeconfig": pulumi.Output.secret(self.cluster.kubeconfig_json),
            "argocdUrl": self.argocd_url,
            "externalSecretsRoleArn": self.eso_role.arn,
            "nodeRoleArn": self.node_role.arn,
            "loadBalancerControllerRoleArn": self.lbc_role.arn,
            "ebsCsiDriverRoleArn": self.ebs_csi_role.arn,
            "clusterRoleArn": self.cluster_role.arn,
            "oidcProviderArn": self.cluster.oidc_provider_arn,
            "vpcId": self.network.vpc.id,
            "secretsPrefix": self._prefix,
            "clusterSecretsPrefix": self._own_secrets,
            "secretsKmsKeyArn": self.data_key.arn,
            "appRepositoryUrl": self.app_repository.repository_url,
            **{output: secret.arn for output, secret in self.secrets.items()},
        }
        if self.external_dns_role is not None:
            outputs["externalDnsRoleArn"] = self.external_dns_role.arn
        if self.deployer is not None:
            outputs["deployerProjectName"] = self.deployer.project.name
            outputs["deployerRoleArn"] = self.deployer.role.arn
        return outputs
