"""EksGitOpsCluster under the recording mocks: every requirement checked on the inputs that reach resources."""

from __future__ import annotations

import json
import re

import pytest

from components.eks_gitops.gitops import repository_credential_fields
from offline.mocks import ACCOUNT_ID
from offline.runner import PlanGraph
from tests.conftest import stack_config
from tests.eks_gitops.plan_helpers import (
    COMPONENT_TYPE,
    custom_resource,
    eks_resources,
    is_secret,
    policy,
    release_values,
    reveal,
)

REPO = "git@github.com:example-org/platform.git"
CLUSTER = "eks:index:Cluster"
SUBNET = "aws:ec2/subnet:Subnet"


@pytest.fixture(scope="module")
def private_only_plan() -> PlanGraph:
    from offline.runner import merge_config, run_program
    from tests.conftest import stack_config

    overrides = {"platform:eks": {"endpointPublicAccess": False, "publicAccessCidrs": None}}
    return run_program("prod", merge_config(stack_config("prod"), overrides))


def subnets(plan: PlanGraph, kind: str) -> list:
    return sorted((r for r in plan.of_type(SUBNET) if r.name.startswith(f"eks-{kind}-")), key=lambda r: r.name)


# --- network ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_vpc_spans_three_azs_with_public_and_private_subnets(stack: str, request) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")
    public, private = subnets(plan, "public"), subnets(plan, "private")
    assert len(public) == len(private) == 3
    assert len({s.inputs["availabilityZoneId"] for s in private}) == 3
    assert [s.inputs["availabilityZoneId"] for s in public] == [s.inputs["availabilityZoneId"] for s in private]
    cluster = plan.one(CLUSTER).inputs["name"]
    for subnet in public:
        assert subnet.inputs["tags"]["kubernetes.io/role/elb"] == "1"
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    for subnet in private:
        assert subnet.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert subnet.inputs["tags"]["karpenter.sh/discovery"] == cluster
        assert subnet.inputs["tags"][f"kubernetes.io/cluster/{cluster}"] == "shared"


def test_subnets_are_placed_by_zone_id_skipping_zones_eks_refuses(prod_plan: PlanGraph, dev_plan: PlanGraph) -> None:
    # us-east-1 offers use1-az1..az6; EKS refuses cluster subnets in use1-az3.
    assert [s.inputs["availabilityZoneId"] for s in subnets(prod_plan, "private")] == [
        "use1-az1",
        "use1-az2",
        "use1-az4",
    ]
    assert [s.inputs["availabilityZoneId"] for s in subnets(dev_plan, "private")] == [
        "euw1-az1",
        "euw1-az2",
        "euw1-az3",
    ]


def test_dev_has_one_nat_gateway_shared_by_every_private_subnet(dev_plan: PlanGraph) -> None:
    [nat] = dev_plan.of_type("aws:ec2/natGateway:NatGateway")
    private_tables = [r for r in dev_plan.of_type("aws:ec2/routeTable:RouteTable") if "private" in r.name]
    assert len(private_tables) == 3
    assert {t.inputs["routes"][0]["natGatewayId"] for t in private_tables} == {nat.id}


def test_prod_has_one_nat_gateway_per_az_each_in_its_own_public_subnet(prod_plan: PlanGraph) -> None:
    nats = sorted(prod_plan.of_type("aws:ec2/natGateway:NatGateway"), key=lambda r: r.name)
    assert len(nats) == 3
    assert [n.inputs["subnetId"] for n in nats] == [s.id for s in subnets(prod_plan, "public")]
    tables = sorted(
        (r for r in prod_plan.of_type("aws:ec2/routeTable:RouteTable") if "private" in r.name), key=lambda r: r.name
    )
    assert [t.inputs["routes"][0]["natGatewayId"] for t in tables] == [n.id for n in nats]


# --- cluster ----------------------------------------------------------------------------------------


def test_cluster_runs_the_configured_version_in_private_subnets_with_logging_and_encryption(
    prod_plan: PlanGraph,
) -> None:
    inputs = prod_plan.one(CLUSTER).inputs
    key = prod_plan.one("aws:kms/key:Key", "eks-cluster-key-key")
    assert inputs["name"] == "platform-prod-eks-cluster"
    assert inputs["version"] == "1.35"
    assert inputs["privateSubnetIds"] == [s.id for s in subnets(prod_plan, "private")]
    assert inputs["publicSubnetIds"] == [s.id for s in subnets(prod_plan, "public")]
    assert inputs["nodeAssociatePublicIpAddress"] is False
    assert set(inputs["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert inputs["encryptionConfigKeyArn"] == key.outputs["arn"]
    assert inputs["createOidcProvider"] is True
    assert inputs["authenticationMode"] == "API"
    assert inputs["skipDefaultNodeGroup"] is True
    assert inputs["serviceRole"] == prod_plan.one("aws:iam/role:Role", "eks-cluster-role").id


def test_secrets_key_rotates_and_the_cluster_role_may_use_exactly_that_key(prod_plan: PlanGraph) -> None:
    key = prod_plan.one("aws:kms/key:Key", "eks-cluster-key-key")
    assert key.inputs["enableKeyRotation"] is True
    statement = policy(prod_plan.one("aws:iam/rolePolicy:RolePolicy", "eks-cluster-secrets-key"))["Statement"][0]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"]
    assert statement["Resource"] == key.outputs["arn"]


def test_control_plane_log_group_exists_first_with_retention_and_the_key(prod_plan: PlanGraph) -> None:
    group = prod_plan.one("aws:cloudwatch/logGroup:LogGroup", "eks-control-plane-logs")
    assert group.inputs["name"] == "/aws/eks/platform-prod-eks-cluster/cluster"
    assert group.inputs["retentionInDays"] == stack_config("prod")["platform:logRetentionDays"]
    assert group.inputs["kmsKeyId"] == prod_plan.one("aws:kms/key:Key", "eks-cluster-key-key").outputs["arn"]
    assert group.urn in prod_plan.one(CLUSTER).depends_on


def test_the_cluster_vpc_logs_its_traffic_and_closes_its_default_group(prod_plan: PlanGraph) -> None:
    vpc_id = prod_plan.one("aws:ec2/vpc:Vpc", "eks-vpc").id
    flow_log = prod_plan.one("aws:ec2/flowLog:FlowLog", "eks-vpc-flow-logs")
    group = prod_plan.one("aws:cloudwatch/logGroup:LogGroup", "eks-vpc-flow-logs-logs")
    assert (flow_log.inputs["vpcId"], flow_log.inputs["logDestination"]) == (vpc_id, group.outputs["arn"])
    assert group.inputs["name"] == "/aws/vpc/flow-logs/platform-prod-eks-vpc"
    assert group.inputs["kmsKeyId"] == prod_plan.one("aws:kms/key:Key", "eks-cluster-key-key").outputs["arn"]
    default_group = prod_plan.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "eks-vpc-default-sg")
    assert default_group.inputs["vpcId"] == vpc_id
    assert default_group.inputs["ingress"] == [] and default_group.inputs["egress"] == []


def test_public_endpoint_is_limited_to_the_configured_cidrs(dev_plan: PlanGraph) -> None:
    inputs = dev_plan.one(CLUSTER).inputs
    assert inputs["endpointPrivateAccess"] is True
    assert inputs["endpointPublicAccess"] is True
    assert inputs["publicAccessCidrs"] == ["198.51.100.0/24"]


def test_prod_api_is_private_only(prod_plan: PlanGraph) -> None:
    inputs = prod_plan.one(CLUSTER).inputs
    assert inputs["endpointPrivateAccess"] is True
    assert inputs["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in inputs


def test_private_only_endpoint_option(private_only_plan: PlanGraph) -> None:
    inputs = private_only_plan.one(CLUSTER).inputs
    assert inputs["endpointPrivateAccess"] is True
    assert inputs["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in inputs


def test_cluster_is_protected_in_prod_only(dev_plan: PlanGraph, prod_plan: PlanGraph) -> None:
    assert prod_plan.one(CLUSTER).protect is True
    assert prod_plan.one(CLUSTER).inputs["deletionProtection"] is True
    assert dev_plan.one(CLUSTER).protect is False
    assert dev_plan.one(CLUSTER).inputs["deletionProtection"] is False


# --- nodes ------------------------------------------------------------------------------------------


def test_prod_node_group_matches_the_article(prod_plan: PlanGraph) -> None:
    inputs = prod_plan.one("eks:index:ManagedNodeGroup").inputs
    assert inputs["instanceTypes"] == ["t3.large"]
    assert inputs["scalingConfig"] == {"minSize": 2, "desiredSize": 3, "maxSize": 5}
    assert inputs["subnetIds"] == [s.id for s in subnets(prod_plan, "private")]
    assert inputs["cluster"] == prod_plan.one(CLUSTER).urn
    assert inputs["nodeRole"] == prod_plan.one("aws:iam/role:Role", "eks-node-role").id


def test_dev_node_group_is_small_and_on_spot(dev_plan: PlanGraph) -> None:
    inputs = dev_plan.one("eks:index:ManagedNodeGroup").inputs
    assert inputs["capacityType"] == "SPOT"
    assert inputs["instanceTypes"] == ["t3.medium", "t3a.medium", "t3.large"]
    assert inputs["scalingConfig"] == {"minSize": 1, "desiredSize": 2, "maxSize": 3}


def test_nodes_boot_from_encrypted_gp3_volumes_with_imdsv2_only(prod_plan: PlanGraph) -> None:
    template = prod_plan.one("aws:ec2/launchTemplate:LaunchTemplate", "eks-node-template")
    [device] = template.inputs["blockDeviceMappings"]
    assert device["ebs"] == {"volumeSize": 100, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
    launch = prod_plan.one("eks:index:ManagedNodeGroup").inputs["launchTemplate"]
    assert launch == {"id": template.id, "version": "1"}


def test_node_role_has_only_the_node_policies(prod_plan: PlanGraph) -> None:
    role = prod_plan.one("aws:iam/role:Role", "eks-node-role")
    attached = [
        r.inputs["policyArn"]
        for r in prod_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == role.outputs["name"]
    ]
    assert sorted(attached) == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]
    assert policy(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


# --- External Secrets -------------------------------------------------------------------------------


def test_eso_role_reads_only_the_stack_prefix_with_two_actions(prod_plan: PlanGraph) -> None:
    document = policy(prod_plan.one("aws:iam/rolePolicy:RolePolicy", "eks-external-secrets-read"))
    [statement, decrypt] = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert statement["Resource"] == f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:platform/prod/*"
    # The secrets are encrypted with the component's data key: decrypt through Secrets Manager only.
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == prod_plan.one("aws:kms/key:Key", "eks-data-key-key").outputs["arn"]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}


def test_eso_role_trusts_only_the_operator_service_account_of_this_cluster(prod_plan: PlanGraph) -> None:
    cluster = prod_plan.one(CLUSTER).outputs
    trust = policy(prod_plan.one("aws:iam/role:Role", "eks-external-secrets-role"), "assumeRolePolicy")
    [statement] = trust["Statement"]
    issuer = cluster["oidcIssuer"]
    assert statement["Principal"] == {"Federated": cluster["oidcProviderArn"]}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:external-secrets:external-secrets",
        f"{issuer}:aud": "sts.amazonaws.com",
    }


def test_eso_release_is_pinned_and_its_service_account_carries_the_role(prod_plan: PlanGraph) -> None:
    release = prod_plan.one("kubernetes:helm.sh/v3:Release", "external-secrets")
    assert release.inputs["chart"] == "external-secrets"
    assert release.inputs["version"] == "2.9.0"  # upstream tag helm-chart-2.9.0
    assert release.inputs["repositoryOpts"] == {"repo": "https://charts.external-secrets.io"}
    assert release.inputs["namespace"] == "external-secrets"
    values = release_values(prod_plan, "external-secrets")
    role = prod_plan.one("aws:iam/role:Role", "eks-external-secrets-role")
    assert values["serviceAccount"]["name"] == "external-secrets"
    assert values["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": role.outputs["arn"]}
    assert values["installCRDs"] is True


def test_eso_runs_replicated_in_prod_only(dev_plan: PlanGraph, prod_plan: PlanGraph) -> None:
    assert release_values(prod_plan, "external-secrets")["replicaCount"] == 2
    assert release_values(prod_plan, "external-secrets")["podDisruptionBudget"]["enabled"] is True
    assert "replicaCount" not in release_values(dev_plan, "external-secrets")


@pytest.mark.parametrize(("stack", "region"), [("dev", "eu-west-1"), ("prod", "us-east-1"), ("staging", "eu-west-2")])
def test_cluster_secret_store_targets_secrets_manager_in_the_stack_region(stack: str, region: str, request) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")
    store = custom_resource(plan, "ClusterSecretStore", "secrets-manager-store")
    assert store["apiVersion"] == "external-secrets.io/v1"
    aws = store["spec"]["provider"]["aws"]
    assert aws["service"] == "SecretsManager"
    assert aws["region"] == region
    assert aws["auth"]["jwt"]["serviceAccountRef"] == {"name": "external-secrets", "namespace": "external-secrets"}
    namespace = {"dev": "development", "prod": "production", "staging": "staging"}[stack]
    assert store["spec"]["conditions"] == [{"namespaces": ["argocd", namespace]}]


# --- ArgoCD -----------------------------------------------------------------------------------------


def test_argocd_release_is_pinned_from_config(dev_plan: PlanGraph) -> None:
    release = dev_plan.one("kubernetes:helm.sh/v3:Release", "argocd")
    assert release.inputs["chart"] == "argo-cd"
    assert release.inputs["version"] == "9.5.17"
    assert release.inputs["repositoryOpts"] == {"repo": "https://argoproj.github.io/argo-helm"}
    assert release.inputs["namespace"] == "argocd"
    assert release.inputs["atomic"] is True


def test_prod_argocd_values_enable_ha(prod_plan: PlanGraph) -> None:
    values = release_values(prod_plan, "argocd")
    assert values["redis-ha"]["enabled"] is True
    # The application controller shards by destination cluster; with one destination a second replica idles.
    assert values["controller"]["replicas"] == 1
    assert values["server"]["replicas"] >= 2
    assert values["repoServer"]["replicas"] >= 2
    assert values["applicationSet"]["replicas"] >= 2


def test_dev_argocd_values_are_single_replica(dev_plan: PlanGraph) -> None:
    values = release_values(dev_plan, "argocd")
    assert "redis-ha" not in values
    assert "replicas" not in values.get("controller", {})


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_repo_server_resources_follow_the_article(stack: str, request) -> None:
    resources = release_values(request.getfixturevalue(f"{stack}_plan"), "argocd")["repoServer"]["resources"]
    assert resources == {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "2Gi"}}


def test_rbac_defaults_to_readonly_with_developer_and_ops_roles(prod_plan: PlanGraph) -> None:
    rbac = release_values(prod_plan, "argocd")["configs"]["rbac"]
    assert rbac["policy.default"] == "role:readonly"
    lines = [line.strip() for line in rbac["policy.csv"].strip().splitlines()]
    assert lines == [
        "p, role:developer, applications, get, */*, allow",
        "p, role:developer, applications, sync, platform-apps/*-dev, allow",
        "p, role:ops, applications, *, */*, allow",
        "g, dev-team, role:developer",
        "g, ops-team, role:ops",
    ]


def test_prod_argocd_is_behind_an_alb_with_the_configured_certificate(prod_plan: PlanGraph) -> None:
    values = release_values(prod_plan, "argocd")
    ingress = values["server"]["ingress"]
    assert ingress["enabled"] is True
    assert ingress["ingressClassName"] == "alb"
    assert ingress["controller"] == "aws"
    assert ingress["hostname"] == "argocd.platform.example.com"
    annotations = ingress["annotations"]
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == (
        "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    )
    assert annotations["alb.ingress.kubernetes.io/listen-ports"] == '[{"HTTPS":443}]'
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert values["global"]["domain"] == "argocd.platform.example.com"
    # TLS ends at the ALB, so the server speaks plain HTTP behind it.
    assert values["configs"]["params"]["server.insecure"] is True


def test_without_a_hostname_there_is_no_ingress_and_the_server_keeps_tls(dev_plan: PlanGraph) -> None:
    values = release_values(dev_plan, "argocd")
    assert values["server"]["ingress"] == {"enabled": False}
    assert values["configs"]["params"]["server.insecure"] is False


def test_slack_notifications_read_the_token_from_a_secret_fed_by_secrets_manager(prod_plan: PlanGraph) -> None:
    notifications = release_values(prod_plan, "argocd")["notifications"]
    assert notifications["secret"]["create"] is False
    assert notifications["notifiers"]["service.slack"].strip() == "token: $slack-token"
    assert notifications["subscriptions"][0]["recipients"] == ["slack:deployments"]
    external = custom_resource(prod_plan, "ExternalSecret", "argocd-notifications")
    assert external["metadata"] == {"name": "argocd-notifications-secret", "namespace": "argocd"}
    assert external["spec"]["target"]["name"] == "argocd-notifications-secret"
    assert external["spec"]["data"] == [
        {
            "secretKey": "slack-token",  # pragma: allowlist secret
            "remoteRef": {"key": "platform/prod/eks/argocd/slack", "property": "token"},
        }
    ]


# --- GitOps handover --------------------------------------------------------------------------------


def test_cluster_secret_carries_the_cloud_metadata(prod_plan: PlanGraph) -> None:
    secret = reveal(prod_plan.one("kubernetes:core/v1:Secret", "argocd-in-cluster").inputs)
    assert secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "cluster"
    annotations = secret["metadata"]["annotations"]
    assert annotations["aws_account_id"] == ACCOUNT_ID
    assert annotations["aws_region"] == "us-east-1"
    assert annotations["aws_cluster_name"] == "platform-prod-eks-cluster"
    assert annotations["environment"] == "prod"
    assert annotations["aws_vpc_id"] == prod_plan.one("aws:ec2/vpc:Vpc", "eks-vpc").id
    assert (
        annotations["external_secrets_iam_role_arn"]
        == (prod_plan.one("aws:iam/role:Role", "eks-external-secrets-role").outputs["arn"])
    )
    assert annotations["node_iam_role_arn"] == prod_plan.one("aws:iam/role:Role", "eks-node-role").outputs["arn"]
    assert secret["stringData"]["server"] == "https://kubernetes.default.svc"


def test_app_project_restricts_sources_and_destinations(prod_plan: PlanGraph) -> None:
    project = custom_resource(prod_plan, "AppProject", "argocd-project")
    assert project["metadata"] == {"name": "platform-apps", "namespace": "argocd"}
    spec = project["spec"]
    assert spec["sourceRepos"] == [REPO]
    assert spec["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": "production"}]
    assert spec["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    kinds = {entry["kind"] for entry in spec["namespaceResourceWhitelist"]}
    assert "Secret" not in kinds and "RoleBinding" not in kinds and "Role" not in kinds


def test_repository_credential_is_an_external_secret_labelled_for_argocd(prod_plan: PlanGraph) -> None:
    external = custom_resource(prod_plan, "ExternalSecret", "argocd-repository")
    assert external["metadata"]["namespace"] == "argocd"
    target = external["spec"]["target"]
    assert target["template"]["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "repository"}
    assert target["template"]["data"] == {"type": "git", "url": REPO, "sshPrivateKey": "{{ .sshPrivateKey }}"}
    assert external["spec"]["dataFrom"] == [{"extract": {"key": "platform/prod/eks/argocd/repository"}}]
    assert external["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"}


def test_https_repositories_use_username_and_token_fields() -> None:
    fields = repository_credential_fields("https://github.com/example-org/platform.git")
    assert fields == {
        "type": "git",
        "url": "https://github.com/example-org/platform.git",
        "username": "{{ .username }}",
        "password": "{{ .password }}",
    }


@pytest.mark.parametrize(("stack", "env", "namespace"), [("dev", "dev", "development"), ("prod", "prod", "production")])
def test_applicationset_deploys_the_environment_overlays_with_automated_sync(
    stack: str, env: str, namespace: str, request
) -> None:
    appset = custom_resource(request.getfixturevalue(f"{stack}_plan"), "ApplicationSet", "argocd-applicationset")
    spec = appset["spec"]
    assert spec["generators"] == [{"list": {"elements": [{"env": env, "namespace": namespace}]}}]
    template = spec["template"]["spec"]
    assert template["project"] == "platform-apps"
    assert template["source"] == {"repoURL": REPO, "targetRevision": "main", "path": "k8s/apps/overlays/{{.env}}"}
    assert template["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "{{.namespace}}"}
    assert template["syncPolicy"] == {
        "automated": {"prune": True, "selfHeal": True},
        "syncOptions": ["CreateNamespace=true"],
        "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}},
    }


def test_gitops_objects_wait_for_the_charts_that_define_their_kinds(prod_plan: PlanGraph) -> None:
    argocd = prod_plan.one("kubernetes:helm.sh/v3:Release", "argocd").urn
    eso = prod_plan.one("kubernetes:helm.sh/v3:Release", "external-secrets").urn
    store = prod_plan.one("kubernetes:external-secrets.io/v1:ClusterSecretStore").urn
    assert eso in prod_plan.one("kubernetes:external-secrets.io/v1:ClusterSecretStore").depends_on
    for name in ("argocd-repository", "argocd-notifications"):
        depends = prod_plan.one("kubernetes:external-secrets.io/v1:ExternalSecret", name).depends_on
        assert argocd in depends and store in depends
    for project in prod_plan.of_type("kubernetes:argoproj.io/v1alpha1:AppProject"):
        assert argocd in project.depends_on
    node_group = prod_plan.one("eks:index:ManagedNodeGroup").urn
    assert node_group in prod_plan.one("kubernetes:helm.sh/v3:Release", "argocd").depends_on


# --- cross-cutting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod", "staging"])
def test_every_kubernetes_resource_uses_the_clusters_provider(stack: str, request) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")
    [provider] = plan.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == plan.one(CLUSTER).outputs["kubeconfigJson"]
    kubernetes = [r for r in plan.resources if r.type.startswith("kubernetes:")]
    # 2 namespaces, 2 releases, store, 2 external secrets (+ OIDC in prod), cluster secret, 2 projects, 2 sets
    assert len(kubernetes) == (13 if stack == "prod" else 12)
    assert {r.provider_urn for r in kubernetes} == {provider.urn}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_aws_resource_is_in_the_primary_region_and_parented_to_the_component(stack: str, request) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")
    region = {"dev": "eu-west-1", "prod": "us-east-1"}[stack]
    inside = {r.urn for r in eks_resources(plan)}
    aws = [r for r in plan.resources if r.type.startswith("aws:") and plan.component_of(r, COMPONENT_TYPE)]
    assert len(aws) > 30
    assert all(r.urn in inside for r in aws)
    # Only the key of the secrets' DR replicas lives in the DR region.
    dr = {r.urn for r in aws if r.name.startswith("eks-secrets-replica-key")}
    assert {plan.provider_inputs(r).get("region") for r in aws if r.urn not in dr} == {region}
    assert {plan.provider_inputs(r).get("region") for r in aws if r.urn in dr} == {
        "dev": {"eu-central-1"},
        "prod": {"us-west-2"},
    }[stack]


PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
CREDENTIAL_KEYS = {"sshPrivateKey", "password", "token", "slack-token", "privateKey", "tlsClientCertKey"}


@pytest.mark.parametrize("stack", ["dev", "prod", "staging"])
def test_no_secret_material_anywhere(stack: str, request) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")
    for resource in eks_resources(plan):
        assert not PRIVATE_KEY.search(json.dumps(reveal(resource.inputs), default=str)), resource.name
    for secret in plan.of_type("kubernetes:core/v1:Secret"):
        data = {**reveal(secret.inputs).get("stringData", {}), **reveal(secret.inputs).get("data", {})}
        assert not CREDENTIAL_KEYS & set(data), secret.name
        assert json.loads(data["config"]) == {"tlsClientConfig": {"insecure": False}}


def test_stack_outputs_name_the_cluster_and_keep_the_kubeconfig_secret(prod_plan: PlanGraph) -> None:
    exported = prod_plan.outputs["eks"]
    assert not is_secret(exported)  # the kubeconfig travels alone, so the rest stays readable
    assert is_secret(prod_plan.outputs["kubeconfig"])
    outputs = reveal(exported)
    assert "kubeconfig" not in outputs
    assert outputs["clusterName"] == "platform-prod-eks-cluster"
    assert outputs["argocdUrl"] == "https://argocd.platform.example.com"
    assert outputs["externalSecretsRoleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/platform-prod-eks-external-secrets"
    assert outputs["nodeRoleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/platform-prod-eks-node"
    kubeconfig = json.loads(reveal(prod_plan.outputs["kubeconfig"]))
    assert kubeconfig["clusters"][0]["name"] == "platform-prod-eks-cluster"


def test_dev_argocd_url_is_the_in_cluster_service(dev_plan: PlanGraph) -> None:
    assert reveal(dev_plan.outputs["eks"])["argocdUrl"] == "https://argocd-server.argocd.svc.cluster.local"


def test_nodes_wait_for_the_private_routes_through_nat(prod_plan: PlanGraph) -> None:
    depends = set(prod_plan.one("eks:index:ManagedNodeGroup").depends_on)
    routes = [r for r in prod_plan.resources if r.name.startswith("eks-private-rt-")]
    associations = [
        r for r in prod_plan.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation") if "private" in r.name
    ]
    assert len(routes) == len(associations) == 3
    assert {r.urn for r in routes + associations} <= depends


# --- issue 12: a cluster a real pipeline can create and a team can use ----------------------------------

ADDON = "aws:eks/addon:Addon"


def eks_outputs(plan: PlanGraph) -> dict:
    return reveal(plan.outputs["eks"])


def test_prod_stack_rules_fail_the_plan_with_the_key(plan_with) -> None:
    """Documentation ranges on the public endpoint, or no SSO, are refused before anything is built."""
    overrides = {"endpointPublicAccess": True, "publicAccessCidrs": ["198.51.100.0/24"], "argocdOidc": None}
    import pulumi

    with pytest.raises(
        pulumi.RunError, match=r"(?s)eks.publicAccessCidrs: 198.51.100.0/24 is a documentation.*eks.argocdOidc"
    ):
        plan_with("prod", {"platform:eks": overrides})


def test_private_only_without_a_deployer_fails_the_plan(plan_with) -> None:
    import pulumi

    with pytest.raises(pulumi.RunError, match=r"inVpcDeployer.enabled is false: nothing that runs `pulumi up`"):
        plan_with("prod", {"platform:eks": {"inVpcDeployer": {"enabled": False}}})


def test_access_entries_reach_the_cluster_after_it_exists(prod_plan: PlanGraph) -> None:
    cluster = prod_plan.one(CLUSTER)
    entries = prod_plan.of_type("aws:eks/accessEntry:AccessEntry")
    assert len(entries) == 3
    for entry in entries:
        assert entry.inputs["clusterName"] == "platform-prod-eks-cluster"
        assert cluster.urn in entry.depends_on
    preview = prod_plan.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "access-preview").inputs
    assert preview["principalArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/account-bootstrap-shared-github-preview"
    assert preview["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def test_a_deploy_role_that_did_not_create_the_cluster_is_admin_before_any_kubernetes_object(plan_with) -> None:
    plan = plan_with("prod", {"platform:eks": {"access": {"deployRoleCreatedCluster": False}}})
    deploy = plan.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "access-deploy")
    assert deploy.inputs["principalArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/account-bootstrap-shared-github-deploy"
    assert deploy.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    for namespace in plan.of_type("kubernetes:core/v1:Namespace"):
        assert deploy.urn in namespace.depends_on


def test_every_managed_addon_is_pinned_and_pulumi_eks_installs_none(prod_plan: PlanGraph) -> None:
    inputs = prod_plan.one(CLUSTER).inputs
    assert inputs["useDefaultVpcCni"] is True
    assert inputs["corednsAddonOptions"]["enabled"] is False
    assert inputs["kubeProxyAddonOptions"]["enabled"] is False
    versions = {a.inputs["addonName"]: a.inputs["addonVersion"] for a in prod_plan.of_type(ADDON)}
    assert versions == {
        "vpc-cni": "v1.21.1-eksbuild.3",
        "kube-proxy": "v1.35.0-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
        "coredns": "v1.13.2-eksbuild.1",
        "aws-ebs-csi-driver": "v1.57.1-eksbuild.1",
    }


def test_nodes_join_after_the_network_addons_and_dns_and_storage_run_on_them(prod_plan: PlanGraph) -> None:
    addons = {a.inputs["addonName"]: a for a in prod_plan.of_type(ADDON)}
    group = prod_plan.one("eks:index:ManagedNodeGroup")
    for early in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert addons[early].urn in group.depends_on
    for late in ("coredns", "aws-ebs-csi-driver"):
        assert group.urn in addons[late].depends_on
    argocd = prod_plan.one("kubernetes:helm.sh/v3:Release", "argocd")
    assert addons["coredns"].urn in argocd.depends_on


def test_ebs_csi_driver_role_is_bound_to_this_cluster(prod_plan: PlanGraph) -> None:
    driver = next(a for a in prod_plan.of_type(ADDON) if a.inputs["addonName"] == "aws-ebs-csi-driver")
    role = prod_plan.one("aws:iam/role:Role", "ebs-csi-role")
    assert driver.inputs["podIdentityAssociations"] == [
        {"roleArn": role.outputs["arn"], "serviceAccount": "ebs-csi-controller-sa"}
    ]
    condition = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]
    assert (
        condition["ArnEquals"]["aws:SourceArn"]
        == f"arn:aws:eks:us-east-1:{ACCOUNT_ID}:cluster/platform-prod-eks-cluster"
    )
    assert eks_outputs(prod_plan)["ebsCsiDriverRoleArn"] == role.outputs["arn"]


def test_node_group_name_is_generated_and_follows_the_kubernetes_version(plan_with) -> None:
    plan = plan_with(
        "dev", {"platform:eks": {"kubernetesVersion": "1.34", "addonVersions": {"kubeProxy": "v1.34.1-eksbuild.2"}}}
    )
    inputs = plan.one("eks:index:ManagedNodeGroup").inputs
    assert "nodeGroupName" not in inputs
    assert inputs["nodeGroupNamePrefix"] == "platform-dev-eks-workers-"
    assert inputs["version"] == plan.one(CLUSTER).inputs["version"] == "1.34"


def test_argocd_logs_in_through_sso_in_prod_and_keeps_admin_in_dev(dev_plan: PlanGraph, prod_plan: PlanGraph) -> None:
    prod = release_values(prod_plan, "argocd")["configs"]["cm"]
    assert prod["admin.enabled"] is False
    assert "clientSecret: $argocd-oidc:clientSecret" in prod["oidc.config"]
    oidc = custom_resource(prod_plan, "ExternalSecret", "argocd-oidc")
    assert oidc["spec"]["data"][0]["remoteRef"] == {"key": "platform/prod/eks/argocd/oidc", "property": "clientSecret"}
    assert release_values(dev_plan, "argocd")["configs"]["cm"] == {"admin.enabled": True}
    assert not [r for r in dev_plan.resources if r.name.endswith("argocd-oidc")]


def test_secrets_exist_empty_encrypted_and_are_outputs(prod_plan: PlanGraph) -> None:
    key = prod_plan.one("aws:kms/key:Key", "eks-data-key-key").outputs["arn"]
    found = {
        s.inputs["name"]: s for s in prod_plan.of_type("aws:secretsmanager/secret:Secret") if s.name.startswith("eks-")
    }
    assert set(found) == {
        "platform/prod/eks/argocd/repository",
        "platform/prod/eks/argocd/slack",
        "platform/prod/eks/argocd/oidc",
        "platform/prod/eks/deployer/pulumi-access-token",
    }
    assert {s.inputs["kmsKeyId"] for s in found.values()} == {key}
    assert {s.protect for s in found.values()} == {True}
    assert not [r for r in eks_resources(prod_plan) if r.type == "aws:secretsmanager/secretVersion:SecretVersion"]
    outputs = eks_outputs(prod_plan)
    assert outputs["repositoryCredentialSecretArn"] == found["platform/prod/eks/argocd/repository"].id
    assert outputs["oidcClientSecretArn"] == found["platform/prod/eks/argocd/oidc"].id
    assert outputs["secretsKmsKeyArn"] == key


def test_app_repository_is_created_and_output(prod_plan: PlanGraph) -> None:
    repo = prod_plan.one("aws:ecr/repository:Repository")
    assert repo.inputs["name"] == "platform-prod-eks-api-service"
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert eks_outputs(prod_plan)["appRepositoryUrl"] == (
        f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/platform-prod-eks-api-service"
    )


def test_external_dns_gets_a_zone_scoped_role_through_the_cluster_secret(
    dev_plan: PlanGraph, prod_plan: PlanGraph
) -> None:
    role = prod_plan.one("aws:iam/role:Role", "external-dns-role")
    [change, _] = policy(prod_plan.one("aws:iam/rolePolicy:RolePolicy", "eks-external-dns"))["Statement"]
    assert change["Resource"] == "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"
    secret = reveal(prod_plan.one("kubernetes:core/v1:Secret", "argocd-in-cluster").inputs)["metadata"]
    assert secret["labels"]["enable_external_dns"] == "true"
    assert secret["annotations"]["external_dns_iam_role_arn"] == role.outputs["arn"]
    assert secret["annotations"]["external_dns_domain"] == "platform.example.com"
    dev_secret = reveal(dev_plan.one("kubernetes:core/v1:Secret", "argocd-in-cluster").inputs)["metadata"]
    assert dev_secret["labels"]["enable_external_dns"] == "false"
    assert not [r for r in dev_plan.of_type("aws:iam/role:Role") if r.name.endswith("external-dns-role")]


def test_the_addons_applicationset_is_applied_with_the_pinned_charts(prod_plan: PlanGraph) -> None:
    appset = prod_plan.one("kubernetes:argoproj.io/v1alpha1:ApplicationSet", "argocd-addons")
    spec = reveal(appset.inputs)["spec"]
    charts = {
        g["clusters"]["values"]["addon"]: g["clusters"]["template"]["spec"]["sources"][0] for g in spec["generators"]
    }
    assert {name: c["targetRevision"] for name, c in charts.items()} == {
        "aws-load-balancer-controller": "1.14.0",
        "metrics-server": "3.13.1",
        "external-dns": "1.21.1",
    }
    assert prod_plan.one("kubernetes:core/v1:Secret", "argocd-in-cluster").urn in appset.depends_on
    project = prod_plan.one("kubernetes:argoproj.io/v1alpha1:AppProject", "argocd-addons-project")
    assert project.urn in appset.depends_on


def test_in_vpc_deployer_reaches_the_private_api(prod_plan: PlanGraph) -> None:
    project = prod_plan.one("aws:codebuild/project:Project")
    assert project.inputs["name"] == "platform-prod-eks-deployer"
    assert project.inputs["vpcConfig"]["subnets"] == [s.id for s in subnets(prod_plan, "private")]
    rule = prod_plan.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "deployer-to-api")
    assert rule.inputs["securityGroupId"] == prod_plan.one(CLUSTER).outputs["clusterSecurityGroupId"]
    assert (
        rule.inputs["referencedSecurityGroupId"] == prod_plan.one("aws:ec2/securityGroup:SecurityGroup", "deployer").id
    )
    outputs = eks_outputs(prod_plan)
    assert outputs["deployerProjectName"] == "platform-prod-eks-deployer"
    assert outputs["deployerRoleArn"] == prod_plan.one("aws:iam/role:Role", "deployer-role").outputs["arn"]


def test_the_secrets_the_cluster_reads_survive_a_region_loss(prod_plan: PlanGraph) -> None:
    replica_key = prod_plan.one("aws:kms/key:Key", "eks-secrets-replica-key-key")
    assert prod_plan.provider_inputs(replica_key)["region"] == "us-west-2"
    secrets = [r for r in prod_plan.of_type("aws:secretsmanager/secret:Secret") if r.name.startswith("eks-")]
    assert len(secrets) >= 3
    for secret in secrets:
        assert secret.inputs["replicas"] == [{"region": "us-west-2", "kmsKeyId": replica_key.outputs["arn"]}]


def test_prod_cluster_rules_are_reported_with_the_other_config_errors() -> None:
    from components.config import ConfigError, parse_stack_config
    from offline.runner import flatten_config, merge_config
    from tests.conftest import stack_config

    bad = merge_config(stack_config("prod"), {"platform:eks": {"argocdLocalAdmin": True}})
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(flatten_config(bad), project="platform", stack="prod")
    assert "eks.argocdLocalAdmin: true is refused in prod" in str(caught.value)
