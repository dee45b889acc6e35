"""Bad `eks` configuration fails at plan time with a message naming the key, the value and the rule."""

from __future__ import annotations

import pulumi
import pytest

from components.config import ConfigError, parse_stack_config
from offline.runner import flatten_config, merge_config
from tests.conftest import stack_config


def problems(overrides: dict, stack: str = "dev") -> list[str]:
    config = merge_config(stack_config(stack), {"platform:eks": overrides})
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(flatten_config(config), project="platform", stack=stack)
    return caught.value.problems


def test_unknown_environment_in_the_applicationset_list_is_rejected() -> None:
    [message] = problems({"environments": ["dev", "qa"]})
    assert message.startswith('platform:eks.environments[1]: got "qa"')
    assert "'dev', 'staging' or 'prod'" in message


def test_an_environment_listed_twice_is_rejected() -> None:
    [message] = problems({"environments": ["dev", "dev"]})
    assert "environments ['dev', 'dev'] lists an environment twice" in message


@pytest.mark.parametrize(
    ("sizes", "shown"),
    [
        ({"nodeMinSize": 4, "nodeDesiredSize": 3, "nodeMaxSize": 5}, "nodeMinSize (4) <= nodeDesiredSize (3)"),
        ({"nodeMinSize": 2, "nodeDesiredSize": 6, "nodeMaxSize": 5}, "nodeDesiredSize (6) <= nodeMaxSize (5)"),
    ],
)
def test_node_counts_out_of_order_are_rejected(sizes: dict, shown: str) -> None:
    [message] = problems(sizes)
    # A rule across keys is reported on the section, naming each key with its value.
    assert message.startswith("platform:eks: ")
    assert shown in message


def test_node_count_below_one_names_the_key() -> None:
    [message] = problems({"nodeMinSize": 0, "nodeDesiredSize": 1})
    assert message.startswith("platform:eks.nodeMinSize: got 0")


def test_hostname_without_certificate_is_rejected() -> None:
    [message] = problems({"argocdHostname": "argocd.example.com"})
    assert "argocdHostname 'argocd.example.com' needs argocdCertificateArn" in message


def test_certificate_without_hostname_is_rejected() -> None:
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    [message] = problems({"argocdCertificateArn": arn})
    assert "argocdCertificateArn is set without argocdHostname" in message


def test_malformed_certificate_arn_names_the_key() -> None:
    [message] = problems({"argocdHostname": "argocd.example.com", "argocdCertificateArn": "cert-123"})
    assert message.startswith('platform:eks.argocdCertificateArn: got "cert-123"')


def test_public_endpoint_open_to_the_internet_is_rejected() -> None:
    [message] = problems({"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]})
    assert "publicAccessCidrs ['0.0.0.0/0'] open the API to the internet" in message


def test_public_endpoint_without_cidrs_is_rejected() -> None:
    [message] = problems({"endpointPublicAccess": True, "publicAccessCidrs": []})
    assert "endpointPublicAccess is true: list the allowed publicAccessCidrs" in message


def test_cidrs_on_a_private_only_endpoint_are_rejected() -> None:
    [message] = problems({"endpointPublicAccess": False, "publicAccessCidrs": ["198.51.100.0/24"]})
    assert "are set but endpointPublicAccess is false" in message


def test_vpc_too_small_for_six_subnets_is_rejected() -> None:
    [message] = problems({"vpcCidr": "10.0.0.0/24"})
    assert "vpcCidr 10.0.0.0/24 must be a /16 to /20" in message


def test_unpinned_chart_version_is_rejected() -> None:
    [message] = problems({"argocdChartVersion": "latest"})
    assert message.startswith('platform:eks.argocdChartVersion: got "latest"')


def test_secrets_prefix_must_end_with_a_slash() -> None:
    [message] = problems({"secretsPrefix": "platform/dev"})
    assert message.startswith('platform:eks.secretsPrefix: got "platform/dev"')


def test_unsupported_kubernetes_version_lists_the_supported_ones() -> None:
    [message] = problems({"kubernetesVersion": "1.27"})
    assert "'1.33', '1.34', '1.35' or '1.36'" in message


def test_missing_repository_url_is_a_config_error() -> None:
    [message] = problems({"repoUrl": None})
    assert message.startswith("platform:eks.repoUrl: required but not set while eks is enabled")


def test_environment_whose_secrets_the_eso_role_cannot_read_is_a_config_error() -> None:
    [message] = problems({"environments": ["dev", "staging"]})
    assert message.startswith("platform: eks deploys the overlay(s) ['staging']")
    assert "eks.secretsPrefix 'platform/dev/' (the default <project>/<stack>/)" in message
    assert "set platform:eks.secretsPrefix to 'platform/'" in message  # covers both overlays it deploys


def test_a_wider_secrets_prefix_lets_one_cluster_host_two_environments(plan_with) -> None:
    plan = plan_with("dev", {"platform:eks": {"environments": ["dev", "staging"], "secretsPrefix": "platform/"}})
    appset = plan.one("kubernetes:argoproj.io/v1alpha1:ApplicationSet", "argocd-applicationset")
    elements = appset.inputs["spec"]["generators"][0]["list"]
    assert elements["elements"] == [
        {"env": "dev", "namespace": "development"},
        {"env": "staging", "namespace": "staging"},
    ]


def test_config_errors_surface_as_a_run_error(plan_with) -> None:
    with pytest.raises(pulumi.RunError, match=r"platform:eks.environments\[0\]"):
        plan_with("dev", {"platform:eks": {"environments": ["qa"]}})


# --- reachability, access, add-ons, SSO, DNS, Spot ------------------------------------------------------


def prod_problems(overrides: dict) -> list[str]:
    """Environment rules (production only) on the prod stack file with `overrides` merged in."""
    config = merge_config(stack_config("prod"), {"platform:eks": overrides})
    parsed = parse_stack_config(flatten_config(config), project="platform", stack="prod")
    return parsed.eks.stack_problems(is_prod=parsed.is_prod)


def test_a_private_only_endpoint_without_an_in_vpc_deployer_is_rejected() -> None:
    [message] = problems({"endpointPublicAccess": False, "publicAccessCidrs": [], "inVpcDeployer": {"enabled": False}})
    assert "endpointPublicAccess is false and inVpcDeployer.enabled is false" in message
    assert "nothing that runs `pulumi up` can reach the private API" in message


@pytest.mark.parametrize(
    "cidr", ["198.51.100.0/24", "203.0.113.32/28", "192.0.2.0/24", "10.1.0.0/16", "100.64.0.0/10", "240.0.0.0/8"]
)
def test_documentation_private_and_reserved_ranges_are_refused_in_prod(cidr: str) -> None:
    [message] = prod_problems({"endpointPublicAccess": True, "publicAccessCidrs": [cidr]})
    assert message.startswith(f"eks.publicAccessCidrs: {cidr} is a documentation, private or reserved range")


def test_real_runner_ranges_are_accepted_in_prod_and_example_ranges_in_dev() -> None:
    assert prod_problems({"endpointPublicAccess": True, "publicAccessCidrs": ["4.175.114.0/24"]}) == []
    config = parse_stack_config(flatten_config(stack_config("dev")), project="platform", stack="dev")
    assert config.eks.public_access_cidrs == ["198.51.100.0/24"]
    assert config.eks.stack_problems(is_prod=False) == []


def test_prod_needs_sso_a_deploy_role_and_no_local_admin() -> None:
    assert prod_problems({"argocdOidc": None, "argocdLocalAdmin": True, "access": {"deployRoleArn": None}}) == [
        "eks.inVpcDeployer: the deployer runs `pulumi up` as eks.access.deployRoleArn, which is not set",
        "eks.argocdOidc: required in prod (SSO is the only ArgoCD login there)",
        "eks.argocdLocalAdmin: true is refused in prod; log in through eks.argocdOidc",
    ]
    public = {
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["4.175.114.0/24"],
        "inVpcDeployer": {"enabled": False},
    }
    assert prod_problems({**public, "access": {"deployRoleArn": None}}) == [
        "eks.access.deployRoleArn: required in prod (the role that runs `pulumi up`)"
    ]


def test_the_in_vpc_deployer_needs_the_role_it_deploys_as_in_every_environment() -> None:
    config = merge_config(stack_config("dev"), {"platform:eks": {"access": {"deployRoleArn": None}}})
    parsed = parse_stack_config(flatten_config(config), project="platform", stack="dev")
    assert parsed.eks.stack_problems(is_prod=False) == [
        "eks.inVpcDeployer: the deployer runs `pulumi up` as eks.access.deployRoleArn, which is not set"
    ]


def test_oidc_without_a_client_secret_name_is_rejected() -> None:
    [message] = problems({"argocdOidc": {"issuer": "https://login.example.com", "clientId": "argocd"}})
    assert message.startswith("platform:eks.argocdOidc: ")
    assert "clientSecretName is required" in message


def test_oidc_client_secret_itself_is_not_a_config_key() -> None:
    oidc = {"issuer": "https://login.example.com", "clientId": "a"}
    oidc["clientSecretName"] = "argocd/oidc"  # pragma: allowlist secret
    oidc["clientSecret"] = "x"  # pragma: allowlist secret
    [message] = problems({"argocdOidc": oidc})
    assert message.startswith("platform:eks.argocdOidc.clientSecret: unknown key")


def test_local_admin_follows_sso_unless_set() -> None:
    config = parse_stack_config(flatten_config(stack_config("prod")), project="platform", stack="prod")
    assert config.eks.local_admin_enabled() is False
    dev = parse_stack_config(flatten_config(stack_config("dev")), project="platform", stack="dev")
    assert dev.eks.argocd_oidc is None and dev.eks.local_admin_enabled() is True


def test_a_principal_listed_twice_is_rejected() -> None:
    arn = "arn:aws:iam::123456789012:role/platform-dev-deploy"
    [message] = problems({"access": {"deployRoleArn": arn, "entries": [{"principalArn": arn, "policy": "view"}]}})
    assert f"['{arn}'] listed more than once" in message


def test_access_entry_needs_a_role_arn_and_a_known_policy() -> None:
    found = problems({"access": {"entries": [{"principalArn": "ops", "policy": "root"}]}})
    assert any(m.startswith('platform:eks.access.entries[0].principalArn: got "ops"') for m in found)
    assert any(m.startswith('platform:eks.access.entries[0].policy: got "root"') for m in found)


def test_kube_proxy_must_match_the_cluster_version() -> None:
    [message] = problems({"kubernetesVersion": "1.34"})
    assert "addonVersions.kubeProxy v1.35.0-eksbuild.2 is built for Kubernetes 1.35" in message


def test_addon_versions_must_be_eks_builds() -> None:
    [message] = problems({"addonVersions": {"coredns": "1.13.2"}})
    assert message.startswith('platform:eks.addonVersions.coredns: got "1.13.2"')


def test_hostname_needs_the_hosted_zone_that_covers_it() -> None:
    [missing] = prod_config_problems({"externalDns": None})
    assert "argocdHostname 'argocd.platform.example.com' needs externalDns" in missing
    [outside] = prod_config_problems({"externalDns": {"hostedZoneId": "Z0123456789ABCDEFGHIJ", "domain": "other.com"}})
    assert "is outside externalDns.domain 'other.com'" in outside


def prod_config_problems(overrides: dict) -> list[str]:
    return problems(overrides, stack="prod")


def test_spot_types_without_spot_capacity_are_rejected() -> None:
    [message] = problems({"nodeCapacityType": "ON_DEMAND"})
    assert "spotInstanceTypes ['t3a.medium', 't3.large'] are set but nodeCapacityType is ON_DEMAND" in message
