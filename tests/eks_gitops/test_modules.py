"""The EksGitOps building blocks on their own, under the recording mocks, with recorded inputs asserted.

Each module (access entries, managed add-ons, secrets, external-dns role, ECR repository, in-VPC deployer,
node group, network zones) is called the way the component calls it, with realistic ARNs and ids.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pytest
import yaml

from components.config import load_stack_config
from components.context import StackContext
from components.eks_gitops import access, addons, deployer, dns, network, nodes, registry, secrets
from components.iam import UNSCOPED_ACTIONS
from components.scope import Scope
from offline.mocks import ACCOUNT_ID
from offline.runner import PlanGraph, run_program
from tests.conftest import stack_config

CLUSTER = "platform-{stack}-eks-cluster"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/0A1B2C3D4E5F"
OIDC_ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0A1B2C3D4E5F"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/00000000-0000-0000-0000-000000000001"
DR_KEY_ARN = f"arn:aws:kms:us-west-2:{ACCOUNT_ID}:key/00000000-0000-0000-0000-000000000002"
CLUSTER_SG = "sg-0123456789abcdef0"
VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2", "subnet-0aaaaaaaaaaaaaaa3"]


class Holder(pulumi.ComponentResource):
    """Stands in for the EksGitOpsCluster: the parent the scope builds children under."""

    def __init__(self, name: str) -> None:
        super().__init__("test:index:Holder", name)


def modules_program() -> None:
    config = load_stack_config()
    ctx = StackContext.create(config)
    args = config.eks
    scope = Scope.of(Holder("eks"), ctx, "eks", "eks")
    cluster_name = CLUSTER.format(stack=ctx.stack)
    cluster_arn = f"arn:aws:eks:{ctx.region}:{ACCOUNT_ID}:cluster/{cluster_name}"
    access.create_access_entries(scope, cluster_name, args.access)
    ebs_role = addons.ebs_csi_role(scope, cluster_arn)
    early = addons.node_addons(scope, cluster_name, args.addon_versions, [])
    cluster = eks.Cluster(
        scope.child("cluster"), name=cluster_name, skip_default_node_group=True, **addons.PULUMI_EKS_ADDONS_OFF
    )
    role = aws.iam.Role(scope.child("node-role"), assume_role_policy="{}", opts=scope.opts())
    subnets = [pulumi.Output.from_input(s) for s in SUBNETS]
    group = nodes.managed_node_group(scope, args, cluster=cluster, node_role=role, subnet_ids=subnets, depends_on=early)
    addons.workload_addons(scope, cluster_name, args.addon_versions, ebs_role.arn, [group, *early])
    specs = secrets.required_secrets(args, args.repo_url or "")
    made = secrets.create_secrets(scope, f"platform/{ctx.stack}/", specs, KEY_ARN, DR_KEY_ARN)
    if args.external_dns:
        dns.external_dns_role(
            scope, oidc_provider_arn=OIDC_ARN, oidc_issuer=OIDC_ISSUER, zone_id=args.external_dns.hosted_zone_id
        )
    registry.app_repository(scope, args.ecr_keep_images, KEY_ARN)
    if args.in_vpc_deployer.enabled and args.access.deploy_role_arn:
        deployer.in_vpc_deployer(
            scope,
            args.in_vpc_deployer,
            repo_url=args.repo_url or "",
            target_revision=args.target_revision,
            deploy_role_arn=args.access.deploy_role_arn,
            preview_role_arn=args.access.preview_role_arn,
            network=deployer.DeployerNetwork(
                vpc_id=VPC,
                subnet_ids=subnets,
                subnet_arns=[ctx.arn("ec2", f"subnet/{s}") for s in SUBNETS],
                cluster_security_group_id=CLUSTER_SG,
            ),
            secrets=deployer.DeployerSecrets(
                repository_arn=made["repositoryCredentialSecretArn"].arn,
                repository_keys=secrets.repository_keys(args.repo_url or ""),
                pulumi_token_arn=made["deployerTokenSecretArn"].arn,
                kms_key_arn=KEY_ARN,
            ),
            logs_kms_key_arn=KEY_ARN,
        )


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> PlanGraph:
    return run_program(request.param, stack_config(request.param), program=modules_program)


def statements(resource) -> list[dict]:
    return json.loads(resource.inputs["policy"])["Statement"]


# --- access entries ---------------------------------------------------------------------------------------


def test_preview_is_view_and_listed_roles_get_their_policy_and_scope(plan: PlanGraph) -> None:
    found = {
        a.inputs["principalArn"]: (a.inputs["policyArn"], a.inputs["accessScope"])
        for a in plan.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    }
    policy = "arn:aws:eks::aws:cluster-access-policy/"
    preview = f"arn:aws:iam::{ACCOUNT_ID}:role/account-bootstrap-shared-github-preview"
    developers = f"arn:aws:iam::{ACCOUNT_ID}:role/AWSReservedSSO_Developers_1b2c3d4e5f6a7b8c"
    assert found[preview] == (f"{policy}AmazonEKSViewPolicy", {"type": "cluster"})
    if plan.stack == "prod":
        ops = f"arn:aws:iam::{ACCOUNT_ID}:role/AWSReservedSSO_PlatformOps_0a1b2c3d4e5f6a7b"
        assert found[ops] == (f"{policy}AmazonEKSClusterAdminPolicy", {"type": "cluster"})
        assert found[developers] == (f"{policy}AmazonEKSViewPolicy", {"type": "cluster"})
    else:
        assert found[developers] == (
            f"{policy}AmazonEKSEditPolicy",
            {"type": "namespace", "namespaces": ["development"]},
        )
    entries = plan.of_type("aws:eks/accessEntry:AccessEntry")
    assert {e.inputs["principalArn"] for e in entries} == set(found)
    assert {e.inputs["clusterName"] for e in entries} == {CLUSTER.format(stack=plan.stack)}
    assert {e.inputs["type"] for e in entries} == {"STANDARD"}


def test_the_deploy_role_gets_no_second_entry_when_it_created_the_cluster(plan: PlanGraph) -> None:
    principals = {e.inputs["principalArn"] for e in plan.of_type("aws:eks/accessEntry:AccessEntry")}
    assert f"arn:aws:iam::{ACCOUNT_ID}:role/account-bootstrap-shared-github-deploy" not in principals


def test_the_deploy_role_is_cluster_admin_when_another_principal_created_the_cluster() -> None:
    from components.eks_gitops.args import ClusterAccessArgs

    deploy = f"arn:aws:iam::{ACCOUNT_ID}:role/ci-deploy"
    grants = access.grants(ClusterAccessArgs(deploy_role_arn=deploy, deploy_role_created_cluster=False))
    assert grants == [access.Grant("deploy", deploy, "clusterAdmin")]


# --- managed add-ons --------------------------------------------------------------------------------------


def test_all_five_addons_are_managed_and_pinned(plan: PlanGraph) -> None:
    found = {a.inputs["addonName"]: a for a in plan.of_type("aws:eks/addon:Addon")}
    assert {name: a.inputs["addonVersion"] for name, a in found.items()} == {
        "vpc-cni": "v1.21.1-eksbuild.3",
        "kube-proxy": "v1.35.0-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
        "coredns": "v1.13.2-eksbuild.1",
        "aws-ebs-csi-driver": "v1.57.1-eksbuild.1",
    }
    for addon in found.values():
        assert addon.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
        assert addon.inputs["clusterName"] == CLUSTER.format(stack=plan.stack)


def test_pulumi_eks_does_not_install_its_own_addons(plan: PlanGraph) -> None:
    inputs = plan.one("eks:index:Cluster").inputs
    assert inputs["useDefaultVpcCni"] is True
    assert inputs["corednsAddonOptions"]["enabled"] is False
    assert inputs["kubeProxyAddonOptions"]["enabled"] is False


def test_coredns_and_ebs_csi_wait_for_nodes_and_the_pod_identity_agent(plan: PlanGraph) -> None:
    by_name = {a.inputs["addonName"]: a for a in plan.of_type("aws:eks/addon:Addon")}
    group = plan.one("eks:index:ManagedNodeGroup")
    for late in ("coredns", "aws-ebs-csi-driver"):
        assert group.urn in by_name[late].depends_on
        assert by_name["eks-pod-identity-agent"].urn in by_name[late].depends_on
    for early in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert by_name[early].depends_on == []


def test_ebs_csi_driver_gets_its_role_through_pod_identity(plan: PlanGraph) -> None:
    driver = next(a for a in plan.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "aws-ebs-csi-driver")
    role = plan.one("aws:iam/role:Role", "eks-ebs-csi-role")
    assert driver.inputs["podIdentityAssociations"] == [
        {"roleArn": role.outputs["arn"], "serviceAccount": "ebs-csi-controller-sa"}
    ]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(f":cluster/{CLUSTER.format(stack=plan.stack)}")
    attachment = plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "eks-ebs-csi-policy")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


# --- node group -------------------------------------------------------------------------------------------


def test_node_group_name_is_generated_and_its_version_follows_the_cluster(plan: PlanGraph) -> None:
    inputs = plan.one("eks:index:ManagedNodeGroup").inputs
    assert "nodeGroupName" not in inputs
    assert inputs["nodeGroupNamePrefix"] == f"platform-{plan.stack}-eks-workers-"
    assert inputs["version"] == "1.35"


def test_dev_nodes_are_spot_over_several_types_prod_on_demand(plan: PlanGraph) -> None:
    inputs = plan.one("eks:index:ManagedNodeGroup").inputs
    if plan.stack == "dev":
        assert inputs["capacityType"] == "SPOT"
        assert inputs["instanceTypes"] == ["t3.medium", "t3a.medium", "t3.large"]
        assert inputs["labels"]["capacity"] == "spot"
    else:
        assert inputs["capacityType"] == "ON_DEMAND"
        assert inputs["instanceTypes"] == ["t3.large"]


# --- secrets ----------------------------------------------------------------------------------------------


def test_secrets_are_created_empty_encrypted_and_named_under_the_prefix(plan: PlanGraph) -> None:
    found = {s.inputs["name"]: s for s in plan.of_type("aws:secretsmanager/secret:Secret")}
    prefix = f"platform/{plan.stack}/"
    expected = {f"{prefix}argocd/repository", f"{prefix}argocd/slack", f"{prefix}deployer/pulumi-access-token"}
    if plan.stack == "prod":
        expected.add(f"{prefix}argocd/oidc")
    assert set(found) == expected
    for secret in found.values():
        assert secret.inputs["kmsKeyId"] == KEY_ARN
        assert secret.protect is (plan.stack == "prod")
    assert "sshPrivateKey" in found[f"{prefix}argocd/repository"].inputs["description"]
    assert not plan.of_type("aws:secretsmanager/secretVersion:SecretVersion")


def test_https_repositories_need_a_username_and_token() -> None:
    assert secrets.repository_keys("https://github.com/o/r.git") == ("username", "password")
    assert secrets.repository_keys("git@github.com:o/r.git") == ("sshPrivateKey",)


# --- external-dns -----------------------------------------------------------------------------------------


def test_external_dns_role_is_limited_to_the_hosted_zone(plan: PlanGraph) -> None:
    roles = [r for r in plan.of_type("aws:iam/role:Role") if r.name == "eks-external-dns-role"]
    if plan.stack == "dev":
        assert roles == []
        return
    [role] = roles
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"]["StringEquals"][f"{OIDC_ISSUER}:sub"] == "system:serviceaccount:external-dns:external-dns"
    change, find = statements(plan.one("aws:iam/rolePolicy:RolePolicy", "eks-external-dns"))
    assert change["Resource"] == "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"
    assert "route53:ChangeResourceRecordSets" in change["Action"]
    assert find == {"Effect": "Allow", "Sid": "FindTheZone", "Action": "route53:ListHostedZones", "Resource": "*"}
    assert "route53:ListHostedZones" in UNSCOPED_ACTIONS


# --- ECR --------------------------------------------------------------------------------------------------


def test_app_repository_scans_is_immutable_encrypted_and_bounded(plan: PlanGraph) -> None:
    repo = plan.one("aws:ecr/repository:Repository")
    assert repo.inputs["name"] == f"platform-{plan.stack}-eks-api-service"
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KEY_ARN}]
    assert repo.protect is (plan.stack == "prod")
    rules = json.loads(plan.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"]
    keep = {"dev": 10, "prod": 50}[plan.stack]
    assert rules[-1]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep}
    assert [r["rulePriority"] for r in rules] == [1, 2]


# --- in-VPC deployer --------------------------------------------------------------------------------------


def test_deployer_runs_in_the_private_subnets_and_may_reach_the_api(plan: PlanGraph) -> None:
    project = plan.one("aws:codebuild/project:Project")
    group = plan.one("aws:ec2/securityGroup:SecurityGroup", "eks-deployer")
    assert project.inputs["vpcConfig"] == {"vpcId": VPC, "subnets": SUBNETS, "securityGroupIds": [group.id]}
    rule = plan.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "eks-deployer-to-api")
    assert (rule.inputs["securityGroupId"], rule.inputs["referencedSecurityGroupId"]) == (CLUSTER_SG, group.id)
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (443, 443, "tcp")
    variables = {v["name"]: v for v in project.inputs["environment"]["environmentVariables"]}
    # Qualified by organization and project, never left to the token owner's default organization.
    assert variables["PULUMI_STACK"]["value"] == f"organization/platform/{plan.stack}"
    deploy_role = f"arn:aws:iam::{ACCOUNT_ID}:role/account-bootstrap-shared-github-deploy"
    assert variables["DEPLOY_ROLE_ARN"]["value"] == deploy_role
    token = next(
        r for r in plan.of_type("aws:secretsmanager/secret:Secret") if r.inputs["name"].endswith("pulumi-access-token")
    )
    assert variables["PULUMI_ACCESS_TOKEN"] == {
        "name": "PULUMI_ACCESS_TOKEN",
        "value": f"{token.outputs['arn']}:token",
        "type": "SECRETS_MANAGER",
    }
    assert variables["REPO_SSH_PRIVATE_KEY"]["type"] == "SECRETS_MANAGER"


def test_deployer_role_can_only_log_read_its_secrets_and_become_the_deploy_role(plan: PlanGraph) -> None:
    policy = {s["Sid"]: s for s in statements(plan.one("aws:iam/rolePolicy:RolePolicy", "eks-deployer"))}
    assert policy["BecomeTheDeployOrPreviewRole"]["Resource"] == [
        f"arn:aws:iam::{ACCOUNT_ID}:role/account-bootstrap-shared-github-deploy",
        f"arn:aws:iam::{ACCOUNT_ID}:role/account-bootstrap-shared-github-preview",
    ]
    assert policy["ReadDeploySecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert len(policy["ReadDeploySecrets"]["Resource"]) == 2
    group = plan.one("aws:ec2/securityGroup:SecurityGroup", "eks-deployer").outputs["arn"]
    subnets = [f"arn:aws:ec2:{plan_region(plan)}:{ACCOUNT_ID}:subnet/{s}" for s in SUBNETS]
    assert policy["BuildInTheVpc"]["Resource"] == [
        f"arn:aws:ec2:{plan_region(plan)}:{ACCOUNT_ID}:network-interface/*",
        *subnets,
        group,
    ]
    assert policy["AttachToThePrivateSubnets"]["Condition"]["ArnEquals"]["ec2:Subnet"] == [
        f"arn:aws:ec2:{plan_region(plan)}:{ACCOUNT_ID}:subnet/{s}" for s in SUBNETS
    ]
    assert set(policy) == {
        "WriteBuildLogs",
        "DescribeTheVpc",
        "BuildInTheVpc",
        "AttachToThePrivateSubnets",
        "ReadDeploySecrets",
        "DecryptDeploySecrets",
        "BecomeTheDeployOrPreviewRole",
    }


def plan_region(plan: PlanGraph) -> str:
    return {"dev": "eu-west-1", "prod": "us-east-1"}[plan.stack]


def test_buildspec_clones_the_revision_and_runs_pulumi_up_as_the_deploy_role(plan: PlanGraph) -> None:
    spec = yaml.safe_load(plan.one("aws:codebuild/project:Project").inputs["source"]["buildspec"])
    commands = [c for p in spec["phases"].values() for c in p["commands"]]
    assert any("git -C src checkout" in c and "$GIT_REVISION" in c for c in commands)
    assert any("https://api.github.com/meta" in c for c in commands)
    assert "aws configure set profile.deploy.credential_source EcsContainer" in commands
    assert 'aws configure set profile.deploy.role_arn "$ROLE_ARN"' in commands
    assert commands[-1].endswith('AWS_PROFILE=deploy pulumi "$@" --non-interactive --stack "$PULUMI_STACK"')


def test_the_same_build_previews_pull_requests_as_the_preview_role(plan: PlanGraph) -> None:
    """`pulumi up` by default; PULUMI_OPERATION=preview runs `pulumi preview` as the preview role."""
    project = plan.one("aws:codebuild/project:Project")
    variables = {v["name"]: v["value"] for v in project.inputs["environment"]["environmentVariables"]}
    assert variables["PULUMI_OPERATION"] == "up"
    assert variables["PREVIEW_ROLE_ARN"] == f"arn:aws:iam::{ACCOUNT_ID}:role/account-bootstrap-shared-github-preview"
    commands = yaml.safe_load(project.inputs["source"]["buildspec"])["phases"]["pre_build"]["commands"]
    [choose] = [c for c in commands if c.startswith('case "$PULUMI_OPERATION"')]
    assert 'up) ROLE_ARN="$DEPLOY_ROLE_ARN"' in choose and 'preview) ROLE_ARN="${PREVIEW_ROLE_ARN:?' in choose


# --- network ----------------------------------------------------------------------------------------------


def test_zones_eks_refuses_are_skipped_and_too_few_zones_fail_clearly() -> None:
    assert network.eks_zone_ids(["use1-az6", "use1-az3", "use1-az1", "use1-az2"]) == [
        "use1-az1",
        "use1-az2",
        "use1-az6",
    ]
    with pytest.raises(
        ValueError, match=r"offers 2 availability zones EKS supports \(\['cac1-az1', 'cac1-az2'\]\); .* needs 3"
    ):
        network.eks_zone_ids(["cac1-az1", "cac1-az2", "cac1-az3"])


def test_mocks_answer_like_ecr_and_secrets_manager(plan: PlanGraph) -> None:
    repo = plan.one("aws:ecr/repository:Repository")
    region = plan_region(plan)
    name = f"platform-{plan.stack}-eks-api-service"
    assert repo.outputs["repositoryUrl"] == registry.repository_url(ACCOUNT_ID, region, name)
    for secret in plan.of_type("aws:secretsmanager/secret:Secret"):
        assert secret.id.startswith(f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret.inputs['name']}-")
