"""AWS Load Balancer Controller: the IRSA role, its exact policy, the pinned chart, its values and its ordering."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.iam import UNSCOPED_ACTIONS
from offline.mocks import ACCOUNT_ID
from offline.runner import PlanGraph
from tests.eks_gitops.plan_helpers import policy, release_values, reveal
from tests.eks_gitops.test_config import problems

CLUSTER = "eks:index:Cluster"
RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE = "eks-load-balancer-controller-role"
TAG = "elbv2.k8s.aws/cluster"
PROD_CLUSTER = "platform-prod-eks-cluster"
# Inline role policies may hold 10,240 characters (whitespace not counted).
INLINE_POLICY_LIMIT = 10_240


def statements(plan: PlanGraph) -> dict[str, dict[str, Any]]:
    document = policy(plan.one("aws:iam/rolePolicy:RolePolicy", "eks-load-balancer-controller"))
    assert document["Version"] == "2012-10-17"
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert len(by_sid) == len(document["Statement"]), "every statement has its own Sid"
    return by_sid


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def expected_statements(
    region: str, vpc_id: str, cluster: str
) -> dict[str, tuple[set[str], list[str], dict[str, Any] | None]]:
    """The whole policy, written out: Sid -> (actions, resources, condition)."""
    arn = f"arn:aws:{{}}:{region}:{ACCOUNT_ID}:"
    elb_arn = arn.format("elasticloadbalancing")
    sg = arn.format("ec2") + "security-group/*"
    lbs = [elb_arn + "loadbalancer/app/*/*", elb_arn + "loadbalancer/net/*/*"]
    tgs = [elb_arn + "targetgroup/*/*"]
    listeners = [elb_arn + "listener/app/*/*/*", elb_arn + "listener/net/*/*/*"]
    rules = [elb_arn + "listener-rule/app/*/*/*", elb_arn + "listener-rule/net/*/*/*"]
    vpc = arn.format("ec2") + f"vpc/{vpc_id}"
    owned = {"StringEquals": {f"aws:ResourceTag/{TAG}": cluster}}
    retag = {"Null": {f"aws:RequestTag/{TAG}": "true"}, **owned}
    requested = {f"aws:RequestTag/{TAG}": cluster}
    elb = lbs + tgs
    return {
        "CreateElbServiceLinkedRole": (
            {"iam:CreateServiceLinkedRole"},
            [
                f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/elasticloadbalancing.amazonaws.com/"
                "AWSServiceRoleForElasticLoadBalancing"
            ],
            {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
        ),
        "Describe": (
            {
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "ec2:DescribeIpamPools",
                "ec2:DescribeRouteTables",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeSSLPolicies",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTrustStores",
                "elasticloadbalancing:DescribeCapacityReservation",
                "acm:ListCertificates",
                "iam:ListServerCertificates",
            },
            ["*"],
            None,
        ),
        "ReadListenerCertificatesAndUserPools": (
            {"acm:DescribeCertificate", "iam:GetServerCertificate", "cognito-idp:DescribeUserPoolClient"},
            [
                arn.format("acm") + "certificate/*",
                f"arn:aws:iam::{ACCOUNT_ID}:server-certificate/*",
                arn.format("cognito-idp") + "userpool/*",
            ],
            None,
        ),
        "ListSecurityGroupsOfClusterVpc": ({"ec2:GetSecurityGroupsForVpc"}, [vpc], None),
        "CreateSecurityGroupsInClusterVpc": ({"ec2:CreateSecurityGroup"}, [sg, vpc], None),
        "TagSecurityGroupsOnCreate": (
            {"ec2:CreateTags"},
            [sg],
            {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup", **requested}},
        ),
        "RetagOwnedSecurityGroups": ({"ec2:CreateTags", "ec2:DeleteTags"}, [sg], retag),
        "ManageIngressRulesInClusterVpc": (
            {"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"},
            [sg],
            {"ArnEquals": {"ec2:Vpc": vpc}},
        ),
        "DeleteOwnedSecurityGroups": ({"ec2:DeleteSecurityGroup"}, [sg], owned),
        "CreateTaggedLoadBalancers": (
            {"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"},
            elb,
            {"StringEquals": requested},
        ),
        "TagLoadBalancersOnCreate": (
            {"elasticloadbalancing:AddTags"},
            elb,
            {
                "StringEquals": {
                    "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"],
                    **requested,
                }
            },
        ),
        "RetagOwnedLoadBalancers": (
            {"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"},
            elb,
            retag,
        ),
        "ManageOwnedLoadBalancers": (
            {
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:ModifyCapacityReservation",
                "elasticloadbalancing:ModifyIpPools",
            },
            elb + listeners,
            owned,
        ),
        "ManageListenersAndRules": (
            {
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:SetRulePriorities",
            },
            lbs + listeners + rules,
            None,
        ),
        "TagListenersAndRules": (
            {"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"},
            listeners + rules,
            None,
        ),
        "RegisterTargets": (
            {"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"},
            tgs,
            None,
        ),
    }


# --- IAM --------------------------------------------------------------------------------------------


def test_role_trusts_only_the_controller_service_account_of_this_cluster(prod_plan: PlanGraph) -> None:
    cluster = prod_plan.one(CLUSTER).outputs
    role = prod_plan.one("aws:iam/role:Role", ROLE)
    assert role.inputs["name"] == "platform-prod-eks-load-balancer-controller"
    [statement] = policy(role, "assumeRolePolicy")["Statement"]
    issuer = cluster["oidcIssuer"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Federated": cluster["oidcProviderArn"]},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {
                f"{issuer}:sub": "system:serviceaccount:kube-system:aws-load-balancer-controller",
                f"{issuer}:aud": "sts.amazonaws.com",
            }
        },
    }


def test_policy_is_attached_to_the_controller_role_only(prod_plan: PlanGraph) -> None:
    role = prod_plan.one("aws:iam/role:Role", ROLE)
    attached = [r for r in prod_plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == role.id]
    assert [r.name for r in attached] == ["eks-load-balancer-controller"]
    managed = prod_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert not [r for r in managed if r.inputs["role"] in (role.id, role.outputs["name"])]


@pytest.mark.parametrize(("stack", "region"), [("prod", "us-east-1"), ("dev", "eu-west-1")])
def test_policy_is_exactly_the_scoped_upstream_policy(stack: str, region: str, request) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")
    vpc_id = plan.one("aws:ec2/vpc:Vpc", "eks-vpc").id
    cluster = plan.one(CLUSTER).inputs["name"]
    expected = expected_statements(region, vpc_id, cluster)
    actual = {
        sid: (set(as_list(s["Action"])), as_list(s["Resource"]), s.get("Condition"))
        for sid, s in statements(plan).items()
    }
    assert actual.keys() == expected.keys()
    for sid, statement in actual.items():
        assert statement == expected[sid], sid
    assert all(s["Effect"] == "Allow" for s in statements(plan).values())


def test_no_wildcard_action_and_only_describe_calls_on_every_resource(prod_plan: PlanGraph) -> None:
    for sid, statement in statements(prod_plan).items():
        for action in as_list(statement["Action"]):
            service, _, verb = action.partition(":")
            assert service and verb and "*" not in action, (sid, action)
        if "*" in as_list(statement["Resource"]):
            verbs = {a.split(":")[1] for a in as_list(statement["Action"])}
            assert all(v.startswith(("Describe", "List", "Get")) for v in verbs), sid
            assert set(as_list(statement["Action"])) <= UNSCOPED_ACTIONS, sid


def test_mutations_of_load_balancers_and_security_groups_are_limited_to_this_cluster(prod_plan: PlanGraph) -> None:
    by_sid = statements(prod_plan)
    tagged = [
        "TagSecurityGroupsOnCreate",
        "RetagOwnedSecurityGroups",
        "DeleteOwnedSecurityGroups",
        "CreateTaggedLoadBalancers",
        "TagLoadBalancersOnCreate",
        "RetagOwnedLoadBalancers",
        "ManageOwnedLoadBalancers",
    ]
    for sid in tagged:
        tag_values = {
            key: value
            for values in by_sid[sid]["Condition"].values()
            for key, value in values.items()
            if key.endswith(f"/{TAG}") and value != "true"
        }
        assert tag_values and set(tag_values.values()) == {PROD_CLUSTER}, sid
    # Every ELB/EC2 change outside those is on account- and region-scoped ARNs (none on "*").
    for sid, statement in by_sid.items():
        if sid == "Describe":
            continue
        assert "*" not in as_list(statement["Resource"]), sid
    vpc = by_sid["ManageIngressRulesInClusterVpc"]["Condition"]["ArnEquals"]["ec2:Vpc"]
    assert vpc.endswith(prod_plan.one("aws:ec2/vpc:Vpc", "eks-vpc").id)


def test_policy_fits_an_inline_role_policy(prod_plan: PlanGraph) -> None:
    document = policy(prod_plan.one("aws:iam/rolePolicy:RolePolicy", "eks-load-balancer-controller"))
    assert len(json.dumps(document, separators=(",", ":"))) < INLINE_POLICY_LIMIT


def test_disabled_addons_get_no_permissions(prod_plan: PlanGraph) -> None:
    values = release_values(prod_plan, "aws-load-balancer-controller")
    assert (values["enableWaf"], values["enableWafv2"], values["enableShield"]) == (False, False, False)
    actions = {a for s in statements(prod_plan).values() for a in as_list(s["Action"])}
    assert not {a for a in actions if a.split(":")[0] in {"waf-regional", "wafv2", "shield"}}
    assert "elasticloadbalancing:SetWebAcl" not in actions


# --- chart ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod", "staging"])
def test_chart_is_pinned_and_installed_with_the_clusters_provider(stack: str, request) -> None:
    """Installed in every stack, with or without the ArgoCD Ingress (dev has none)."""
    plan = request.getfixturevalue(f"{stack}_plan")
    release = plan.one(RELEASE, "aws-load-balancer-controller")
    assert release.inputs["chart"] == "aws-load-balancer-controller"
    assert release.inputs["version"] == "1.14.0"
    assert release.inputs["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert release.inputs["namespace"] == "kube-system"
    assert release.inputs["name"] == "aws-load-balancer-controller"
    assert release.inputs["atomic"] is True
    [provider] = plan.of_type("pulumi:providers:kubernetes")
    assert release.provider_urn == provider.urn
    assert provider.inputs["kubeconfig"] == plan.one(CLUSTER).outputs["kubeconfigJson"]


def test_chart_version_comes_from_config(plan_with) -> None:
    plan = plan_with("dev", {"platform:eks": {"loadBalancerControllerChartVersion": "1.14.1"}})
    assert plan.one(RELEASE, "aws-load-balancer-controller").inputs["version"] == "1.14.1"


def test_chart_version_must_be_an_exact_release() -> None:
    [message] = problems({"loadBalancerControllerChartVersion": "1.x"})
    assert "loadBalancerControllerChartVersion" in message and "1.x" in message


@pytest.mark.parametrize(("stack", "region"), [("dev", "eu-west-1"), ("prod", "us-east-1"), ("staging", "eu-west-2")])
def test_values_name_the_cluster_region_vpc_and_role(stack: str, region: str, request) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")
    values = release_values(plan, "aws-load-balancer-controller")
    assert values["clusterName"] == plan.one(CLUSTER).inputs["name"]
    assert values["region"] == region
    assert values["vpcId"] == plan.one("aws:ec2/vpc:Vpc", "eks-vpc").id
    role = plan.one("aws:iam/role:Role", ROLE)
    assert values["serviceAccount"] == {
        "create": True,
        "name": "aws-load-balancer-controller",
        "annotations": {"eks.amazonaws.com/role-arn": role.outputs["arn"]},
    }
    assert values["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }


def test_the_argocd_ingress_class_is_the_one_the_controller_serves(prod_plan: PlanGraph) -> None:
    values = release_values(prod_plan, "aws-load-balancer-controller")
    assert values["createIngressClassResource"] is True
    ingress = release_values(prod_plan, "argocd")["server"]["ingress"]
    assert ingress["enabled"] is True
    assert values["ingressClass"] == ingress["ingressClassName"] == "alb"


def test_prod_runs_two_replicas_with_a_disruption_budget_dev_one(dev_plan: PlanGraph, prod_plan: PlanGraph) -> None:
    prod = release_values(prod_plan, "aws-load-balancer-controller")
    assert prod["replicaCount"] == 2
    assert prod["podDisruptionBudget"] == {"maxUnavailable": 1}
    dev = release_values(dev_plan, "aws-load-balancer-controller")
    assert dev["replicaCount"] == 1
    assert "podDisruptionBudget" not in dev


# --- ordering ---------------------------------------------------------------------------------------


def test_controller_waits_for_nodes_and_its_permissions(prod_plan: PlanGraph) -> None:
    depends = prod_plan.one(RELEASE, "aws-load-balancer-controller").depends_on
    assert prod_plan.one("eks:index:ManagedNodeGroup").urn in depends
    assert prod_plan.one("aws:iam/rolePolicy:RolePolicy", "eks-load-balancer-controller").urn in depends


@pytest.mark.parametrize("dependent", ["argocd", "external-secrets"])
def test_releases_creating_services_or_ingresses_wait_for_the_controller(dependent: str, prod_plan: PlanGraph) -> None:
    """Its webhooks intercept Services and Ingresses: they must answer before those charts install."""
    controller = prod_plan.one(RELEASE, "aws-load-balancer-controller").urn
    assert controller in prod_plan.one(RELEASE, dependent).depends_on


# --- handover ---------------------------------------------------------------------------------------


def test_role_arn_is_a_stack_output_and_on_the_argocd_cluster_secret(prod_plan: PlanGraph) -> None:
    arn = prod_plan.one("aws:iam/role:Role", ROLE).outputs["arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:role/platform-prod-eks-load-balancer-controller"
    assert reveal(prod_plan.outputs["eks"])["loadBalancerControllerRoleArn"] == arn
    annotations = reveal(prod_plan.one("kubernetes:core/v1:Secret", "argocd-in-cluster").inputs)["metadata"][
        "annotations"
    ]
    assert annotations["aws_load_balancer_controller_iam_role_arn"] == arn
    assert annotations["aws_load_balancer_controller_namespace"] == "kube-system"
    assert annotations["aws_load_balancer_controller_service_account"] == "aws-load-balancer-controller"
