"""The EksGitOpsCluster component: EKS, ArgoCD and External Secrets, handed over to the GitOps repository."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.context import StackContext, default_tags
from components.eks_gitops import gitops
from components.eks_gitops import load_balancer as lbc
from components.eks_gitops.args import EksGitOpsArgs
from components.eks_gitops.network import ClusterNetwork, build_network
from components.iam import Statement, policy_document, service_trust_policy, web_identity_trust_policy
from components.scope import Scope, component_options

# Physical-name slug of a cluster unless the program gives another one.
COMPONENT = "eks"
CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
ARGO_HELM_REPO = "https://argoproj.github.io/argo-helm"
ESO_HELM_REPO = "https://charts.external-secrets.io"
NODE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly"]
# What EKS needs on the secrets key to envelope-encrypt Kubernetes secrets (EKS user guide, "enable-kms").
CLUSTER_KEY_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
ROOT_DEVICE = "/dev/xvda"  # root volume of the EKS-optimised Amazon Linux 2023 AMI
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
        self._ctx = ctx
        self._args = args
        self._scope = Scope.of(self, ctx, name, slug)
        self._repo_url = args.repo_url
        self._ha = args.argocd_ha(ctx.is_prod)
        self._prefix = gitops.secrets_prefix(args, ctx.project, ctx.stack)
        self._environments = gitops.gitops_environments(args, ctx.config.environment)
        gitops.check_secrets_reachable(self._prefix, ctx.project, self._environments)
        self.cluster_name = self._scope.physical("cluster", service="eks")

        self.network = build_network(self._scope, self.cluster_name, args.vpc_cidr, args.nat_gateways == "perAz")
        self.cluster_key = self._scope.key(
            "cluster",
            description=f"EKS {self.cluster_name}: envelope encryption of Kubernetes secrets and control-plane logs",
            services=["logs"],
        )
        self.cluster_role = self._cluster_role()
        self.node_role = self._node_role()
        self.cluster = self._cluster(self.network)
        self.node_group = self._node_group(self.network)
        self.eso_role = self._external_secrets_role()
        self.lbc_role, self.lbc_policy = self._load_balancer_controller_role()

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
            deletion_protection=ctx.is_prod,
            opts=ctx.stateful(self._child(providers={"aws": ctx.primary}, depends_on=[log_group])),
        )

    def _node_launch_template(self) -> aws.ec2.LaunchTemplate:
        ctx, args = self._ctx, self._args
        tags = {**default_tags(ctx.config), "Name": self._scope.physical("node")}
        return aws.ec2.LaunchTemplate(
            self._scope.child("node-template"),
            name=self._scope.physical("node"),
            description=f"Nodes of {self.cluster_name}: encrypted gp3 root volume, IMDSv2 only",
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.node_disk_size_gib,
                        volume_type="gp3",
                        # The EBS default key: a customer key would also need the account's Auto Scaling
                        # service-linked role in its key policy before the first node group exists.
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # Pods get AWS access through IRSA only, never through the node role.
                http_put_response_hop_limit=1,
            ),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            opts=self._child(),
        )

    def _node_group(self, network: ClusterNetwork) -> eks.ManagedNodeGroup:
        ctx, args = self._ctx, self._args
        template = self._node_launch_template()
        return eks.ManagedNodeGroup(
            self._scope.child("workers"),
            cluster=self.cluster,
            node_group_name=self._scope.physical("workers"),
            node_role=self.node_role,
            subnet_ids=network.private_subnet_ids,
            instance_types=[args.node_instance_type],
            capacity_type="ON_DEMAND",
            operating_system=eks.OperatingSystem.AL2023,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.node_min_size, desired_size=args.node_desired_size, max_size=args.node_max_size
            ),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            labels={"workload": "general"},
            opts=self._child(providers={"aws": ctx.primary}, depends_on=network.private_egress),
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
                )
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

    # --- Kubernetes side ------------------------------------------------------------------------------

    def _load_balancer_controller(self) -> k8s.helm.v3.Release:
        """Installed in every stack, with or without the ArgoCD Ingress: GitOps workloads may declare their
        own Ingresses and LoadBalancer Services, which must get ALBs/NLBs the same way in dev as in prod
        (never in-tree classic load balancers), and the ArgoCD UI can gain an Ingress by configuration alone."""
        ctx = self._ctx
        return k8s.helm.v3.Release(
            self._scope.child(lbc.RELEASE),
            name=lbc.RELEASE,
            chart="aws-load-balancer-controller",
            version=self._args.load_balancer_controller_chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=lbc.HELM_REPO),
            namespace=lbc.NAMESPACE,
            values=lbc.controller_values(
                cluster_name=self.cluster_name,
                region=ctx.region,
                vpc_id=self.network.vpc.id,
                role_arn=self.lbc_role.arn,
                high_availability=self._ha,
            ),
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            timeout=HELM_TIMEOUT_SECONDS,
            # The role's permissions exist before the first pod assumes it.
            opts=self._k8s([self.node_group, self.lbc_policy]),
        )

    def _install_gitops(self) -> None:
        ctx, args = self._ctx, self._args
        argocd_ns = k8s.core.v1.Namespace(
            self._scope.child("argocd-namespace"),
            metadata={"name": gitops.ARGOCD_NAMESPACE},
            opts=self._k8s([self.node_group]),
        )
        eso_ns = k8s.core.v1.Namespace(
            self._scope.child("external-secrets-namespace"),
            metadata={"name": gitops.ESO_NAMESPACE},
            opts=self._k8s([self.node_group]),
        )
        # The controller's admission webhooks (Service mutation, Ingress validation) answer for every release
        # installed after it: the charts below create Services and the ArgoCD Ingress only once it is ready.
        # On destroy the order reverses, so the controller is still there to delete the ALB.
        self.lbc_release = self._load_balancer_controller()
        self.eso_release = k8s.helm.v3.Release(
            self._scope.child("external-secrets"),
            name="external-secrets",
            chart="external-secrets",
            version=args.external_secrets_chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ESO_HELM_REPO),
            namespace=gitops.ESO_NAMESPACE,
            values=gitops.external_secrets_values(self.eso_role.arn, high_availability=self._ha),
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            timeout=HELM_TIMEOUT_SECONDS,
            opts=self._k8s([eso_ns, self.node_group, self.lbc_release]),
        )
        self.argocd_release = k8s.helm.v3.Release(
            self._scope.child("argocd"),
            name="argocd",
            chart="argo-cd",
            version=args.argocd_chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ARGO_HELM_REPO),
            namespace=gitops.ARGOCD_NAMESPACE,
            values=gitops.argocd_values(args, high_availability=self._ha),
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            timeout=HELM_TIMEOUT_SECONDS,
            opts=self._k8s([argocd_ns, self.node_group, self.lbc_release]),
        )
        store = self._custom_resource(
            "secrets-manager-store",
            gitops.cluster_secret_store(ctx.region, self._environments),
            [self.eso_release],
        )
        secrets_ready = [store, self.argocd_release]
        repository = self._custom_resource(
            "argocd-repository", gitops.repository_external_secret(self._repo_url, self._prefix), secrets_ready
        )
        self._custom_resource("argocd-notifications", gitops.notifications_external_secret(self._prefix), secrets_ready)
        self._cluster_secret(argocd_ns)
        project = self._custom_resource(
            "argocd-project", gitops.app_project(self._repo_url, self._environments), [self.argocd_release]
        )
        self._custom_resource(
            "argocd-applicationset",
            gitops.application_set(self._repo_url, args.target_revision, self._environments),
            [project, repository],
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
        return {
            "clusterName": self.cluster_name,
            "kubeconfig": pulumi.Output.secret(self.cluster.kubeconfig_json),
            "argocdUrl": self.argocd_url,
            "externalSecretsRoleArn": self.eso_role.arn,
            "nodeRoleArn": self.node_role.arn,
            "loadBalancerControllerRoleArn": self.lbc_role.arn,
            "clusterRoleArn": self.cluster_role.arn,
            "oidcProviderArn": self.cluster.oidc_provider_arn,
            "vpcId": self.network.vpc.id,
            "secretsPrefix": self._prefix,
        }
